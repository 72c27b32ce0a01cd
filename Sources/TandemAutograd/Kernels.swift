import TandemTensor
#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// Elementwise and row-wise loops shared by the forward and backward passes.
/// Written as plain pointer loops so the optimiser vectorises them; large ones run on all cores.
enum Kernels {
    static func map(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
        var out = Tensor(zeros: x.shape)
        x.data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                let d = dst.baseAddress!
                Parallel.forChunks(src.count, minPerChunk: 1 << 15) { r in for i in r { d[i] = f(src[i]) } }
            }
        }
        return out
    }

    static func zip(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(a.count == b.count)
        var out = Tensor(zeros: a.shape)
        a.data.withUnsafeBufferPointer { pa in
            b.data.withUnsafeBufferPointer { pb in
                out.data.withUnsafeMutableBufferPointer { dst in
                    let d = dst.baseAddress!
                    Parallel.forChunks(pa.count, minPerChunk: 1 << 15) { r in for i in r { d[i] = f(pa[i], pb[i]) } }
                }
            }
        }
        return out
    }

    static func zip3(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ f: (Float, Float, Float) -> Float) -> Tensor {
        precondition(a.count == b.count && b.count == c.count)
        var out = Tensor(zeros: a.shape)
        a.data.withUnsafeBufferPointer { pa in
            b.data.withUnsafeBufferPointer { pb in
                c.data.withUnsafeBufferPointer { pc in
                    out.data.withUnsafeMutableBufferPointer { dst in
                        let d = dst.baseAddress!
                        Parallel.forChunks(pa.count, minPerChunk: 1 << 15) { r in for i in r { d[i] = f(pa[i], pb[i], pc[i]) } }
                    }
                }
            }
        }
        return out
    }

    /// `a ∘ b` for equal shapes with the operator fixed at compile time, so the loop specialises and vectorises. The
    /// closure form above calls its operator once per element from inside the parallel chunks, which does not.
    static func zip<Op: ElementwiseOperator>(_ a: Tensor, _ b: Tensor, _: Op.Type) -> Tensor {
        precondition(a.count == b.count)
        var out = Tensor(uninitialized: a.shape)
        guard a.count > 0 else { return out }
        a.data.withUnsafeBufferPointer { pa in
            b.data.withUnsafeBufferPointer { pb in
                out.data.withUnsafeMutableBufferPointer { dst in
                    let d = dst.baseAddress!, x = pa.baseAddress!, y = pb.baseAddress!
                    Parallel.forChunks(pa.count, minPerChunk: 1 << 15) { r in for i in r { d[i] = Op.apply(x[i], y[i]) } }
                }
            }
        }
        return out
    }

    /// `a ∘ b` with `b` broadcast by `mode` (never materialised), the operator fixed at compile time.
    static func broadcast<Op: ElementwiseOperator>(_ a: Tensor, _ b: Tensor, _ mode: Broadcast, _: Op.Type) -> Tensor {
        if mode == .same { return zip(a, b, Op.self) }
        let n = a.rows, d = a.cols
        var out = Tensor(uninitialized: a.shape)
        guard a.count > 0, b.count > 0 else { return out }
        a.data.withUnsafeBufferPointer { pa in
            b.data.withUnsafeBufferPointer { pb in
                out.data.withUnsafeMutableBufferPointer { po in
                    let y = pb.baseAddress!
                    for i in 0..<n {
                        // Row pointers, not `row + j` indices: the overflow check on the index kept the loop scalar.
                        let x = pa.baseAddress! + i * d, o = po.baseAddress! + i * d
                        switch mode {
                        case .row: for j in 0..<d { o[j] = Op.apply(x[j], y[j]) }
                        case .column: let v = y[i]; for j in 0..<d { o[j] = Op.apply(x[j], v) }
                        case .scalar: let v = y[0]; for j in 0..<d { o[j] = Op.apply(x[j], v) }
                        case .same: break
                        }
                    }
                }
            }
        }
        return out
    }

    /// `a ∘ b` for a tape's binary kind.
    static func binary(_ kind: BinaryKind, _ a: Tensor, _ b: Tensor, _ mode: Broadcast) -> Tensor {
        switch kind {
        case .add: return broadcast(a, b, mode, AddOperator.self)
        case .sub: return broadcast(a, b, mode, SubtractOperator.self)
        case .mul: return broadcast(a, b, mode, MultiplyOperator.self)
        case .div: return broadcast(a, b, mode, DivideOperator.self)
        }
    }

    /// `s · x`.
    static func scaled(_ x: Tensor, _ s: Float) -> Tensor {
        var out = Tensor(uninitialized: x.shape)
        guard x.count > 0 else { return out }
        x.data.withUnsafeBufferPointer { px in
            out.data.withUnsafeMutableBufferPointer { po in
                let src = px.baseAddress!, dst = po.baseAddress!
                Parallel.forChunks(px.count, minPerChunk: 1 << 15) { r in for i in r { dst[i] = s * src[i] } }
            }
        }
        return out
    }

    static func addInPlace(_ a: inout Tensor, _ b: Tensor, scale: Float = 1) {
        precondition(a.count == b.count, "gradient shape mismatch \(a.shape) vs \(b.shape)")
        a.data.withUnsafeMutableBufferPointer { pa in
            b.data.withUnsafeBufferPointer { pb in
                for i in 0..<pa.count { pa[i] += scale * pb[i] }
            }
        }
    }

    /// `f(g[i, j], a[i, j], b[broadcast index])` for every element (backward of broadcast products).
    @inline(__always)
    static func broadcast3(_ g: Tensor, _ a: Tensor, _ b: Tensor, _ mode: Broadcast, _ f: (Float, Float, Float) -> Float) -> Tensor {
        if mode == .same { return zip3(g, a, b, f) }
        let n = a.rows, d = a.cols
        var out = Tensor(zeros: a.shape)
        g.data.withUnsafeBufferPointer { pg in
            a.data.withUnsafeBufferPointer { pa in
                b.data.withUnsafeBufferPointer { pb in
                    out.data.withUnsafeMutableBufferPointer { po in
                        for i in 0..<n {
                            let row = i * d
                            for j in 0..<d {
                                let bv: Float
                                switch mode {
                                case .row: bv = pb[j]
                                case .column: bv = pb[i]
                                case .scalar, .same: bv = pb[0]
                                }
                                po[row + j] = f(pg[row + j], pa[row + j], bv)
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// `b` expanded to `shape` according to `mode`.
    static func expand(_ b: Tensor, to shape: [Int], mode: Broadcast) -> Tensor {
        if mode == .same { return b }
        let n = shape.count == 1 ? 1 : shape[0], d = shape.last!
        var out = Tensor(zeros: shape)
        out.data.withUnsafeMutableBufferPointer { o in
            b.data.withUnsafeBufferPointer { pb in
                for i in 0..<n {
                    for j in 0..<d {
                        switch mode {
                        case .same: break
                        case .row: o[i * d + j] = pb[j]
                        case .column: o[i * d + j] = pb[i]
                        case .scalar: o[i * d + j] = pb[0]
                        }
                    }
                }
            }
        }
        return out
    }

    /// Sums a full-shape gradient down to the shape `mode` broadcast from.
    static func reduce(_ g: Tensor, mode: Broadcast, to shape: [Int]) -> Tensor {
        switch mode {
        case .same: return g
        case .row: return reduceColumns(g).reshaped(shape)
        case .column: return reduceRows(g).reshaped(shape)
        case .scalar: return Tensor(shape: shape, data: [g.data.reduce(0, +)])
        }
    }

    /// Per-row sums: `[n, d] → [n, 1]`.
    static func reduceRows(_ g: Tensor) -> Tensor {
        let n = g.rows, d = g.cols
        var out = Tensor(zeros: [n, 1])
        guard g.count > 0 else { return out }
        g.data.withUnsafeBufferPointer { p in
            for i in 0..<n { out.data[i] = VectorMath.sum(p.baseAddress! + i * d, count: d) }
        }
        return out
    }

    /// Per-column sums: `[n, d] → [1, d]`.
    static func reduceColumns(_ g: Tensor) -> Tensor {
        let n = g.rows, d = g.cols
        var out = [Float](repeating: 0, count: d)
        guard g.count > 0 else { return Tensor(shape: [1, d], data: out) }
        g.data.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<n { let row = p.baseAddress! + i * d; for j in 0..<d { o[j] += row[j] } }
            }
        }
        return Tensor(shape: [1, d], data: out)
    }

    /// Scatter-adds rows of `g` into a zero tensor of `shape` at `indices`.
    static func scatterRows(_ g: Tensor, indices: [Int32], shape: [Int]) -> Tensor {
        var out = Tensor(uninitialized: shape)
        scatterAddRows(g, indices: indices, into: &out, zeroingFirst: true)
        return out
    }

    /// `out[indices[k]] += g[k]` for every row `k` (repeated indices add up), after zeroing `out` when asked.
    /// Large scatters split the *destination* rows between cores: each part zeroes its rows and scans every index,
    /// adding the rows that land in it in ascending `k`, so every row gets the same sums in the same order as one
    /// serial pass (a graph model's step scatters thousands of rows into its readout's gradient).
    static func scatterAddRows(_ g: Tensor, indices: [Int32], into out: inout Tensor, zeroingFirst: Bool = false) {
        let d = g.cols, rows = out.rows
        for r in indices { precondition(r >= 0 && Int(r) < rows, "scatterAddRows: row \(r) out of 0..<\(rows)") }
        let parts = indices.count * d >= 1 << 16 ? Parallel.cores : 1
        out.data.withUnsafeMutableBufferPointer { o in
            g.data.withUnsafeBufferPointer { pg in
                indices.withUnsafeBufferPointer { idx in
                    let ob = o.baseAddress, gb = pg.baseAddress
                    Parallel.forEach(parts) { part in
                        let lo = rows * part / parts, hi = rows * (part + 1) / parts
                        if zeroingFirst, hi > lo, let ob { (ob + lo * d).update(repeating: 0, count: (hi - lo) * d) }
                        guard let ob, let gb else { return }  // zero-width rows
                        for k in 0..<idx.count {
                            let r = Int(idx[k])
                            guard r >= lo && r < hi else { continue }
                            let dst = ob + r * d, src = gb + k * d  // row pointers: see `broadcast`
                            for j in 0..<d { dst[j] += src[j] }
                        }
                    }
                }
            }
        }
    }
}

/// A binary elementwise operator as a type, for loops that must specialise (see `Kernels.zip(_:_:_:)`).
protocol ElementwiseOperator { static func apply(_ a: Float, _ b: Float) -> Float }
enum AddOperator: ElementwiseOperator { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b } }
enum SubtractOperator: ElementwiseOperator { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b } }
enum MultiplyOperator: ElementwiseOperator { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b } }
enum DivideOperator: ElementwiseOperator { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a / b } }

@inline(__always) func expf_(_ x: Float) -> Float { expf(x) }
@inline(__always) func logf_(_ x: Float) -> Float { logf(x) }
@inline(__always) func log1pf_(_ x: Float) -> Float { log1pf(x) }
@inline(__always) func tanhf_(_ x: Float) -> Float { tanhf(x) }
@inline(__always) func erff_(_ x: Float) -> Float { erff(x) }
@inline(__always) func sqrtf_(_ x: Float) -> Float { x.squareRoot() }
