import TandemTensor

/// How the second operand of a binary op is broadcast over the first (`[n, d]`).
public enum Broadcast: Sendable, Equatable {
    case same      // [n, d]
    case row       // [1, d] or [d]: one row for every row
    case column    // [n, 1]: one value per row
    case scalar    // [1, 1]

    static func infer(_ a: [Int], _ b: [Int]) -> Broadcast {
        if a == b { return .same }
        let n = a.count == 1 ? 1 : a[0], d = a.last!
        let bn = b.count == 1 ? 1 : b[0], bd = b.last!
        if bn == 1 && bd == 1 { return .scalar }
        if bn == 1 && bd == d { return .row }
        if bn == n && bd == 1 { return .column }
        preconditionFailure("cannot broadcast \(b) over \(a)")
    }
}

public enum BinaryKind: Sendable { case add, sub, mul, div }
public enum UnaryKind: Sendable, CaseIterable { case relu, sigmoid, tanh, gelu, log, exp, softplus }
public enum ReduceAxis: Sendable, CaseIterable {
    case all      // → [1, 1]
    case perRow   // [n, d] → [n, 1]
    case perColumn // [n, d] → [1, d]
}

/// The closed set of recorded operations. Adding a case forces `Tape.pullback` to handle it.
indirect enum Op {
    case leaf
    case parameter(Parameter)
    case embedding(Parameter, indices: [Int32])
    case gatherRows(Int, indices: [Int32])
    case matmul(Int, Int, transposeA: Bool, transposeB: Bool)
    case binary(BinaryKind, Int, Int, Broadcast)
    case scale(Int, Float)
    case addScalar(Int)
    case unary(UnaryKind, Int)
    case reduce(Int, ReduceAxis, mean: Bool)
    case l2Normalize(Int, norms: [Float], eps: Float)
    case rowDot(Int, Int)
    case sumOfSquares(Int)
    case concatColumns([Int])
    case concatRows([Int])
    case dropout(Int, mask: [Float])
    case segmentReduce(Int, offsets: [Int], mean: Bool)
    case sparseMatmul(CSRMatrix, transposed: CSRMatrix, Int)
    case propagationMean(transposed: CSRMatrix, layers: Int, Int)
    case logSoftmax(Int)
    case crossEntropy(Int, targets: [Int32], probabilities: Tensor)
}

// MARK: - Forward operations

extension Tape {
    /// Rows `indices` of an embedding table; the table's gradient is sparse when the parameter is.
    public func embedding(_ table: Parameter, rows indices: [Int32]) -> Variable {
        record(table.value.gatherRows(indices), .embedding(table, indices: indices))
    }

    /// Rows `indices` of a recorded matrix (gradient scatter-added back).
    public func gatherRows(_ x: Variable, _ indices: [Int32]) -> Variable {
        record(x.value.gatherRows(indices), .gatherRows(x.id, indices: indices))
    }

    /// `op(a) × op(b)` through BLAS.
    public func matmul(_ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false) -> Variable {
        record(BLAS.matmul(a.value, transposeA: transposeA, b.value, transposeB: transposeB),
               .matmul(a.id, b.id, transposeA: transposeA, transposeB: transposeB))
    }

    /// `a ∘ b` elementwise, with `b` broadcast as a row `[1, d]`, a column `[n, 1]` or a scalar `[1, 1]`.
    public func binary(_ kind: BinaryKind, _ a: Variable, _ b: Variable) -> Variable {
        let mode = Broadcast.infer(a.shape, b.shape)
        return record(Kernels.binary(kind, a.value, b.value, mode), .binary(kind, a.id, b.id, mode))
    }

    public func scale(_ a: Variable, _ s: Float) -> Variable { record(Kernels.scaled(a.value, s), .scale(a.id, s)) }
    public func addScalar(_ a: Variable, _ s: Float) -> Variable { record(Kernels.map(a.value) { $0 + s }, .addScalar(a.id)) }

    public func unary(_ kind: UnaryKind, _ a: Variable) -> Variable {
        let f: (Float) -> Float
        switch kind {
        case .relu: f = { max($0, 0) }
        case .sigmoid: f = { 1 / (1 + expf_(-$0)) }
        case .tanh: f = { tanhf_($0) }
        case .gelu: f = { 0.5 * $0 * (1 + erff_($0 * 0.70710678118654752)) }
        case .log: f = { logf_($0) }
        case .exp: f = { expf_($0) }
        case .softplus: f = { max($0, 0) + log1pf_(expf_(-abs($0))) }
        }
        return record(Kernels.map(a.value, f), .unary(kind, a.id))
    }

    public func relu(_ a: Variable) -> Variable { unary(.relu, a) }
    public func sigmoid(_ a: Variable) -> Variable { unary(.sigmoid, a) }
    public func tanh(_ a: Variable) -> Variable { unary(.tanh, a) }
    public func gelu(_ a: Variable) -> Variable { unary(.gelu, a) }
    public func log(_ a: Variable) -> Variable { unary(.log, a) }
    public func exp(_ a: Variable) -> Variable { unary(.exp, a) }
    public func softplus(_ a: Variable) -> Variable { unary(.softplus, a) }

    /// Sum (or mean) over all elements, each row, or each column.
    public func sum(_ a: Variable, _ axis: ReduceAxis = .all) -> Variable { reduce(a, axis, mean: false) }
    public func mean(_ a: Variable, _ axis: ReduceAxis = .all) -> Variable { reduce(a, axis, mean: true) }

    func reduce(_ a: Variable, _ axis: ReduceAxis, mean: Bool) -> Variable {
        let x = a.value
        var out: Tensor
        switch axis {
        case .all: out = Tensor.scalar(x.count == 0 ? 0 : x.data.withUnsafeBufferPointer { VectorMath.sum($0.baseAddress!, count: $0.count) }); if mean { out.data[0] /= Float(max(1, x.count)) }
        case .perRow: out = Kernels.reduceRows(x); if mean { out = Kernels.map(out) { $0 / Float(max(1, x.cols)) } }
        case .perColumn: out = Kernels.reduceColumns(x); if mean { out = Kernels.map(out) { $0 / Float(max(1, x.rows)) } }
        }
        return record(out, .reduce(a.id, axis, mean: mean))
    }

    /// Each row divided by `max(‖row‖₂, eps)` (as `torch.nn.functional.normalize`).
    public func l2Normalize(_ a: Variable, eps: Float = 1e-12) -> Variable {
        let x = a.value, n = x.rows, d = x.cols
        var out = Tensor(zeros: x.shape)
        var norms = [Float](repeating: 0, count: n)
        for i in 0..<n {
            var s: Float = 0
            for j in 0..<d { s += x.data[i * d + j] * x.data[i * d + j] }
            let nrm = max(s.squareRoot(), eps)
            norms[i] = nrm
            for j in 0..<d { out.data[i * d + j] = x.data[i * d + j] / nrm }
        }
        return record(out, .l2Normalize(a.id, norms: norms, eps: eps))
    }

    /// Row-wise dot products: `[n, d] · [n, d] → [n, 1]`.
    public func rowDot(_ a: Variable, _ b: Variable) -> Variable {
        precondition(a.shape == b.shape, "rowDot: \(a.shape) vs \(b.shape)")
        let x = a.value, y = b.value, n = x.rows, d = x.cols
        var out = Tensor(zeros: [n, 1])
        if d > 0 {
            x.data.withUnsafeBufferPointer { px in
                y.data.withUnsafeBufferPointer { py in
                    for i in 0..<n { out.data[i] = VectorMath.dot(px.baseAddress! + i * d, py.baseAddress! + i * d, count: d) }
                }
            }
        }
        return record(out, .rowDot(a.id, b.id))
    }

    /// `Σ x²` over every element, `[1, 1]`: an L2 penalty in one pass forward and one backward (`2·g·x`), where
    /// `sum(x * x)` takes five passes and two temporaries.
    public func sumOfSquares(_ a: Variable) -> Variable {
        let x = a.value
        let s = x.count == 0 ? 0 : x.data.withUnsafeBufferPointer { VectorMath.sumOfSquares($0.baseAddress!, count: $0.count) }
        return record(Tensor.scalar(s), .sumOfSquares(a.id))
    }

    /// Matrices with equal column counts stacked, the first on top (a graph model's user rows over its item rows).
    public func concatRows(_ parts: [Variable]) -> Variable {
        precondition(!parts.isEmpty)
        let d = parts[0].value.cols
        precondition(parts.allSatisfy { $0.value.cols == d }, "concatRows: column counts differ")
        var data: [Float] = []
        data.reserveCapacity(parts.reduce(0) { $0 + $1.value.count })
        for p in parts { data.append(contentsOf: p.value.data) }
        return record(Tensor(shape: [parts.reduce(0) { $0 + $1.value.rows }, d], data: data), .concatRows(parts.map(\.id)))
    }

    /// Matrices with equal row counts side by side.
    public func concatColumns(_ parts: [Variable]) -> Variable {
        precondition(!parts.isEmpty)
        let n = parts[0].value.rows
        precondition(parts.allSatisfy { $0.value.rows == n }, "concatColumns: row counts differ")
        let total = parts.reduce(0) { $0 + $1.value.cols }
        var out = Tensor(uninitialized: [n, total])
        var offset = 0
        out.data.withUnsafeMutableBufferPointer { o in
            for p in parts {
                let d = p.value.cols
                if d > 0 { p.value.data.withUnsafeBufferPointer { v in
                    for i in 0..<n { (o.baseAddress! + i * total + offset).update(from: v.baseAddress! + i * d, count: d) }
                } }
                offset += d
            }
        }
        return record(out, .concatColumns(parts.map(\.id)))
    }

    /// Inverted dropout: zeroes each element with probability `p` and scales survivors by `1/(1-p)`.
    /// The identity when the tape is not training or `p == 0`.
    public func dropout(_ a: Variable, p: Float) -> Variable {
        precondition(p >= 0 && p < 1, "dropout probability \(p) not in [0, 1)")
        if !isTraining || p == 0 { return a }
        let keep = 1 / (1 - p)
        var mask = [Float](repeating: 0, count: a.value.count)
        for i in mask.indices { mask[i] = rng.uniform() >= p ? keep : 0 }
        return record(Kernels.zip(a.value, Tensor(shape: a.shape, data: mask), MultiplyOperator.self), .dropout(a.id, mask: mask))
    }

    /// Sums (or means) of consecutive row segments: output row `s` reduces rows `offsets[s]..<offsets[s+1]`.
    /// Used for multi-hot fields; an empty segment gives a zero row.
    public func segmentReduce(_ a: Variable, offsets: [Int], mean: Bool) -> Variable {
        let x = a.value, d = x.cols, segments = offsets.count - 1
        precondition(offsets.first == 0 && offsets.last == x.rows, "segment offsets must run from 0 to \(x.rows)")
        var out = Tensor(zeros: [segments, d])
        for s in 0..<segments {
            let lo = offsets[s], hi = offsets[s + 1]
            let w: Float = mean && hi > lo ? 1 / Float(hi - lo) : 1
            for r in lo..<hi { for j in 0..<d { out.data[s * d + j] += w * x.data[r * d + j] } }
        }
        return record(out, .segmentReduce(a.id, offsets: offsets, mean: mean))
    }

    /// `A × x` for a constant sparse `A` (graph propagation); backward is `Aᵀ × g`.
    public func sparseMatmul(_ a: CSRMatrix, _ x: Variable, transposed: CSRMatrix? = nil) -> Variable {
        record(a.multiply(x.value), .sparseMatmul(a, transposed: transposed ?? a.transposed(), x.id))
    }

    /// LightGCN's propagation and layer-mean readout in one op: `(1/(K+1)) Σ_{k=0}^{K} Aᵏ x` (square `A`).
    /// Forward and backward (`Aᵀ` in place of `A`) each take K sparse products by Horner's rule.
    public func propagationMean(_ a: CSRMatrix, _ x: Variable, layers: Int, transposed: CSRMatrix? = nil) -> Variable {
        var out = a.powerSum(x.value, layers: layers)
        out.scale(by: 1 / Float(layers + 1))
        return record(out, .propagationMean(transposed: transposed ?? a.transposed(), layers: layers, x.id))
    }

    /// Row-wise log-softmax.
    public func logSoftmax(_ a: Variable) -> Variable {
        let x = a.value, n = x.rows, d = x.cols
        var out = Tensor(zeros: x.shape)
        for i in 0..<n {
            var m = -Float.infinity
            for j in 0..<d { m = max(m, x.data[i * d + j]) }
            var s: Float = 0
            for j in 0..<d { s += expf_(x.data[i * d + j] - m) }
            let lse = m + logf_(s)
            for j in 0..<d { out.data[i * d + j] = x.data[i * d + j] - lse }
        }
        return record(out, .logSoftmax(a.id))
    }

    /// Mean over rows of `−log softmax(logits[i])[targets[i]]`.
    ///
    /// `mask` (same shape as `logits`, 1 keep / 0 drop) removes entries from the softmax, e.g. accidental hits
    /// among in-batch negatives; a row's own target must be kept.
    public func crossEntropy(logits: Variable, targets: [Int32], mask: Tensor? = nil) -> Variable {
        var excluded: [(row: Int, column: Int)] = []
        if let mask {
            precondition(mask.shape == logits.value.shape, "crossEntropy: mask \(mask.shape) ≠ logits \(logits.value.shape)")
            let d = mask.cols
            for (k, keep) in mask.data.enumerated() where keep == 0 { excluded.append((k / d, k % d)) }
        }
        return crossEntropy(logits: logits, targets: targets, excluding: excluded)
    }

    /// Mean over rows of `−log softmax(logits[i])[targets[i]]`, with the `excluded` (row, column) entries removed
    /// from their rows' softmax (a row's own target must not be one). The sparse form of `mask`: a MoCo softmax is
    /// 256 × 16k wide and has a handful of excluded entries.
    public func crossEntropy(logits: Variable, targets: [Int32], excluding excluded: [(row: Int, column: Int)]) -> Variable {
        let x = logits.value, n = x.rows, d = x.cols
        precondition(targets.count == n, "crossEntropy: \(targets.count) targets for \(n) rows")
        var excludedByRow = [[Int]](repeating: [], count: excluded.isEmpty ? 0 : n)
        for (i, j) in excluded {
            precondition(j != Int(targets[i]), "row \(i)'s target is masked")
            excludedByRow[i].append(j)
        }
        var probs = Tensor(uninitialized: x.shape)  // every row is written in full below
        var losses = [Float](repeating: 0, count: n)
        x.data.withUnsafeBufferPointer { px in
            probs.data.withUnsafeMutableBufferPointer { pp in
                let pb = pp.baseAddress!
                losses.withUnsafeMutableBufferPointer { pl in
                    let lb = pl.baseAddress!
                    Parallel.forChunks(n, minPerChunk: max(1, 65536 / max(1, d))) { range in
                        for i in range {
                            let t = Int(targets[i]), row = i * d
                            precondition(t >= 0 && t < d, "target \(t) out of 0..<\(d)")
                            let skip = excludedByRow.isEmpty ? [] : excludedByRow[i]
                            var m = VectorMath.max(px.baseAddress! + row, count: d)
                            var s = VectorMath.expShiftedSum(px.baseAddress! + row, pb + row, count: d, shift: m)
                            for j in skip { s -= pb[row + j]; pb[row + j] = 0 }
                            if !skip.isEmpty && !(s > 1e-30) {
                                // The excluded entries dwarfed the rest: redo the row shifted by the kept entries' maximum.
                                m = -Float.infinity
                                let dropped = Set(skip)
                                for j in 0..<d where !dropped.contains(j) { m = max(m, px[row + j]) }
                                s = 0
                                for j in 0..<d {
                                    pb[row + j] = dropped.contains(j) ? 0 : expf_(px[row + j] - m)
                                    s += pb[row + j]
                                }
                            }
                            VectorMath.scale(pb + row, count: d, by: 1 / s)
                            lb[i] = m + logf_(s) - px[row + t]
                        }
                    }
                }
            }
        }
        let loss = losses.reduce(0, +) / Float(max(1, n))
        return record(Tensor.scalar(loss), .crossEntropy(logits.id, targets: targets, probabilities: probs))
    }
}

// MARK: - Operators

public func + (a: Variable, b: Variable) -> Variable { a.tape.binary(.add, a, b) }
public func - (a: Variable, b: Variable) -> Variable { a.tape.binary(.sub, a, b) }
public func * (a: Variable, b: Variable) -> Variable { a.tape.binary(.mul, a, b) }
public func / (a: Variable, b: Variable) -> Variable { a.tape.binary(.div, a, b) }
public func * (a: Variable, s: Float) -> Variable { a.tape.scale(a, s) }
public func + (a: Variable, s: Float) -> Variable { a.tape.addScalar(a, s) }
public prefix func - (a: Variable) -> Variable { a.tape.scale(a, -1) }

// MARK: - Backward

extension Tape {
    private func add(_ id: Int, _ g: Tensor, _ grads: inout [Tensor?]) {
        if var existing = grads[id] {
            grads[id] = nil
            Kernels.addInPlace(&existing, g)
            grads[id] = existing
        } else {
            grads[id] = g
        }
    }

    /// Applies the pullback of node `id` to its upstream gradient `g`.
    func pullback(_ id: Int, _ g: Tensor, _ grads: inout [Tensor?], _ result: inout Gradients) {
        let y = values[id]
        switch ops[id] {
        case .leaf:
            break
        case .parameter(let p):
            result.accumulate(p, g)
        case .embedding(let p, let indices):
            if p.isSparse {
                result.accumulate(p, rows: SparseRows(indices: indices, values: g))
            } else {
                result.accumulate(p, rows: indices, of: g)
            }
        case .gatherRows(let a, let indices):
            // Into the gradient already there when there is one: no zeroed full-size tensor and no extra sum
            // (a graph model gathers rows of its 150k-row readout twice a step).
            if var existing = grads[a] {
                grads[a] = nil
                Kernels.scatterAddRows(g, indices: indices, into: &existing)
                grads[a] = existing
            } else {
                grads[a] = Kernels.scatterRows(g, indices: indices, shape: values[a].shape)
            }
        case .matmul(let a, let b, let ta, let tb):
            let av = values[a], bv = values[b]
            let ga = needsGradient(a), gb = needsGradient(b)
            switch (ta, tb) {
            case (false, false):
                if ga { add(a, BLAS.matmul(g, bv, transposeB: true), &grads) }
                if gb { add(b, BLAS.matmul(av, transposeA: true, g), &grads) }
            case (true, false):
                if ga { add(a, BLAS.matmul(bv, g, transposeB: true), &grads) }
                if gb { add(b, BLAS.matmul(av, g), &grads) }
            case (false, true):
                if ga { add(a, BLAS.matmul(g, bv), &grads) }
                if gb { add(b, BLAS.matmul(g, transposeA: true, av), &grads) }
            case (true, true):
                if ga { add(a, BLAS.matmul(bv, transposeA: true, g, transposeB: true), &grads) }
                if gb { add(b, BLAS.matmul(g, transposeA: true, av, transposeB: true), &grads) }
            }
        case .binary(let kind, let a, let b, let mode):
            let av = values[a], bv = values[b], bshape = bv.shape
            let ga = needsGradient(a), gb = needsGradient(b)
            switch kind {
            case .add:
                if ga { add(a, g, &grads) }
                if gb { add(b, Kernels.reduce(g, mode: mode, to: bshape), &grads) }
            case .sub:
                if ga { add(a, g, &grads) }
                if gb {
                    var gbv = Kernels.reduce(g, mode: mode, to: bshape)
                    for i in gbv.data.indices { gbv.data[i] = -gbv.data[i] }
                    add(b, gbv, &grads)
                }
            case .mul:
                if ga { add(a, Kernels.broadcast(g, bv, mode, MultiplyOperator.self), &grads) }
                if gb { add(b, Kernels.reduce(Kernels.zip(g, av, MultiplyOperator.self), mode: mode, to: bshape), &grads) }
            case .div:
                if ga { add(a, Kernels.broadcast(g, bv, mode, DivideOperator.self), &grads) }
                if gb { add(b, Kernels.reduce(Kernels.broadcast3(g, av, bv, mode) { -$0 * $1 / ($2 * $2) }, mode: mode, to: bshape), &grads) }
            }
        case .scale(let a, let s):
            add(a, Kernels.scaled(g, s), &grads)
        case .addScalar(let a):
            add(a, g, &grads)
        case .unary(let kind, let a):
            let x = values[a]
            let dx: Tensor
            switch kind {
            case .relu: dx = Kernels.zip(g, x) { $1 > 0 ? $0 : 0 }
            case .sigmoid: dx = Kernels.zip(g, y) { $0 * $1 * (1 - $1) }
            case .tanh: dx = Kernels.zip(g, y) { $0 * (1 - $1 * $1) }
            case .gelu:
                dx = Kernels.zip(g, x) { gi, xi in
                    let cdf = 0.5 * (1 + erff_(xi * 0.70710678118654752))
                    let pdf = 0.39894228040143268 * expf_(-0.5 * xi * xi)
                    return gi * (cdf + xi * pdf)
                }
            case .log: dx = Kernels.zip(g, x, DivideOperator.self)
            case .exp: dx = Kernels.zip(g, y, MultiplyOperator.self)
            case .softplus: dx = Kernels.zip(g, x) { $0 / (1 + expf_(-$1)) }
            }
            add(a, dx, &grads)
        case .reduce(let a, let axis, let mean):
            let shape = values[a].shape
            let n = values[a].rows, d = values[a].cols
            var dx: Tensor
            switch axis {
            case .all: dx = Tensor(repeating: g.data[0] / (mean ? Float(max(1, n * d)) : 1), shape: shape)
            case .perRow: dx = Kernels.expand(g, to: shape, mode: .column); if mean { dx = Kernels.map(dx) { $0 / Float(max(1, d)) } }
            case .perColumn: dx = Kernels.expand(g, to: shape, mode: .row); if mean { dx = Kernels.map(dx) { $0 / Float(max(1, n)) } }
            }
            add(a, dx, &grads)
        case .l2Normalize(let a, let norms, let eps):
            let x = values[a], n = x.rows, d = x.cols
            var dx = Tensor(zeros: x.shape)
            for i in 0..<n {
                if norms[i] <= eps {
                    for j in 0..<d { dx.data[i * d + j] = g.data[i * d + j] / eps }
                    continue
                }
                var gy: Float = 0
                for j in 0..<d { gy += g.data[i * d + j] * y.data[i * d + j] }
                for j in 0..<d { dx.data[i * d + j] = (g.data[i * d + j] - y.data[i * d + j] * gy) / norms[i] }
            }
            add(a, dx, &grads)
        case .rowDot(let a, let b):
            if needsGradient(a) { add(a, Kernels.broadcast(values[b], g, .column, MultiplyOperator.self), &grads) }
            if needsGradient(b) { add(b, Kernels.broadcast(values[a], g, .column, MultiplyOperator.self), &grads) }
        case .sumOfSquares(let a):
            add(a, Kernels.scaled(values[a], 2 * g.data[0]), &grads)
        case .concatColumns(let parts):
            let n = g.rows, total = g.cols
            var offset = 0
            for p in parts {
                let d = values[p].cols
                guard needsGradient(p) else { offset += d; continue }
                var part = Tensor(uninitialized: values[p].shape)
                if d > 0 { part.data.withUnsafeMutableBufferPointer { o in g.data.withUnsafeBufferPointer { gb in
                    for i in 0..<n { (o.baseAddress! + i * d).update(from: gb.baseAddress! + i * total + offset, count: d) }
                } } }
                add(p, part, &grads)
                offset += d
            }
        case .concatRows(let parts):
            var offset = 0
            for p in parts {
                let count = values[p].count
                if needsGradient(p) { add(p, Tensor(shape: values[p].shape, data: Array(g.data[offset..<(offset + count)])), &grads) }
                offset += count
            }
        case .dropout(let a, let mask):
            add(a, Kernels.zip(g, Tensor(shape: g.shape, data: mask), MultiplyOperator.self), &grads)
        case .segmentReduce(let a, let offsets, let mean):
            let d = g.cols
            var dx = Tensor(zeros: values[a].shape)
            for s in 0..<(offsets.count - 1) {
                let lo = offsets[s], hi = offsets[s + 1]
                let w: Float = mean && hi > lo ? 1 / Float(hi - lo) : 1
                for r in lo..<hi { for j in 0..<d { dx.data[r * d + j] = w * g.data[s * d + j] } }
            }
            add(a, dx, &grads)
        case .sparseMatmul(_, let transposed, let x):
            if let existing = grads[x] {
                // The product starts from the gradient already there: one pass instead of a product and a sum.
                var out = Tensor(uninitialized: existing.shape)  // the product writes every element
                transposed.multiply(g, adding: existing, into: &out)
                grads[x] = out
            } else {
                grads[x] = transposed.multiply(g)
            }
        case .propagationMean(let transposed, let layers, let x):
            var dx = transposed.powerSum(g, layers: layers)
            if var existing = grads[x] {
                grads[x] = nil
                Kernels.addInPlace(&existing, dx, scale: 1 / Float(layers + 1))  // scale and sum in one pass
                grads[x] = existing
            } else {
                dx.scale(by: 1 / Float(layers + 1))
                grads[x] = dx
            }
        case .logSoftmax(let a):
            let n = y.rows, d = y.cols
            var dx = Tensor(zeros: y.shape)
            for i in 0..<n {
                var s: Float = 0
                for j in 0..<d { s += g.data[i * d + j] }
                for j in 0..<d { dx.data[i * d + j] = g.data[i * d + j] - expf_(y.data[i * d + j]) * s }
            }
            add(a, dx, &grads)
        case .crossEntropy(let a, let targets, let probs):
            let n = probs.rows, d = probs.cols
            let scale = g.data[0] / Float(max(1, n))
            var dx = Tensor(uninitialized: probs.shape)
            probs.data.withUnsafeBufferPointer { pp in
                dx.data.withUnsafeMutableBufferPointer { px in
                    let src = pp.baseAddress!, dst = px.baseAddress!
                    Parallel.forChunks(n, minPerChunk: max(1, 65536 / max(1, d))) { rows in
                        for i in rows {
                            for j in 0..<d { dst[i * d + j] = src[i * d + j] * scale }
                            dst[i * d + Int(targets[i])] -= scale
                        }
                    }
                }
            }
            add(a, dx, &grads)
        }
    }
}
