/// A dense, row-major Float32 tensor of rank 1 or 2.
///
/// Rank-1 tensors of length `n` behave as a `1 × n` row in matrix operations. Storage is a Swift array, so
/// copies are copy-on-write and a `Tensor` is a value.
public struct Tensor: Equatable, Sendable, CustomStringConvertible {
    /// `[n]` or `[rows, cols]`.
    public private(set) var shape: [Int]
    /// Row-major elements; `data.count == shape.reduce(1, *)`.
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.count == 1 || shape.count == 2, "Tensor supports rank 1 or 2, got shape \(shape)")
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(data.count == shape.reduce(1, *), "data has \(data.count) elements, shape \(shape) needs \(shape.reduce(1, *))")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    /// A tensor whose elements the caller overwrites before reading any (a product's output): no zeroing pass, which
    /// on a graph model's 38 MB tensors is a memory pass of its own.
    public init(uninitialized shape: [Int]) {
        let count = shape.reduce(1, *)
        self.init(shape: shape, data: [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count })
    }

    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A `rows × cols` matrix from nested rows (tests and small literals).
    public init(_ rows: [[Float]]) {
        let cols = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == cols }, "ragged rows")
        self.init(shape: [rows.count, cols], data: rows.flatMap { $0 })
    }

    /// A `1 × 1` matrix holding `value`.
    public static func scalar(_ value: Float) -> Tensor { Tensor(shape: [1, 1], data: [value]) }

    /// Number of rows when viewed as a matrix (1 for rank 1).
    @inlinable public var rows: Int { shape.count == 1 ? 1 : shape[0] }
    /// Number of columns when viewed as a matrix.
    @inlinable public var cols: Int { shape.count == 1 ? shape[0] : shape[1] }
    @inlinable public var count: Int { data.count }

    @inlinable public subscript(row: Int, col: Int) -> Float {
        get { data[row * cols + col] }
        set { data[row * cols + col] = newValue }
    }

    /// A copy of one row.
    public func row(_ r: Int) -> [Float] { Array(data[(r * cols)..<((r + 1) * cols)]) }

    /// The same elements viewed with another shape of equal size.
    public func reshaped(_ newShape: [Int]) -> Tensor { Tensor(shape: newShape, data: data) }

    /// The transpose of a matrix (a copy).
    public func transposed() -> Tensor {
        let r = rows, c = cols
        var out = [Float](repeating: 0, count: r * c)
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<r { for j in 0..<c { dst[j * r + i] = src[i * c + j] } }
            }
        }
        return Tensor(shape: [c, r], data: out)
    }

    /// Rows gathered by index, in order.
    public func gatherRows(_ indices: [Int32]) -> Tensor {
        let c = cols, n = rows
        var out = Tensor(uninitialized: [indices.count, c])
        guard c > 0, !indices.isEmpty else { return out }  // zero-width rows or no rows: no buffer to copy from or to
        for i in indices { precondition(i >= 0 && Int(i) < n, "gatherRows: row \(i) out of 0..<\(n)") }
        data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, o = dst.baseAddress!
                // A graph model's step gathers thousands of rows: split between cores.
                Parallel.forChunks(indices.count, minPerChunk: max(1, 16_384 / c)) { range in
                    indices.withUnsafeBufferPointer { idx in
                        for k in range { (o + k * c).update(from: s + Int(idx[k]) * c, count: c) }
                    }
                }
            }
        }
        return out
    }

    /// Each row divided by its L2 norm (rows of norm below 1e-12 are divided by 1e-12): points on the unit sphere.
    public func rowsNormalized() -> Tensor {
        var out = self
        let d = cols
        for i in 0..<rows {
            var s: Float = 0
            for j in 0..<d { s += data[i * d + j] * data[i * d + j] }
            let n = max(s.squareRoot(), 1e-12)
            for j in 0..<d { out.data[i * d + j] /= n }
        }
        return out
    }

    /// Multiplies every element by `factor` in place.
    public mutating func scale(by factor: Float) {
        data.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= factor } }
    }

    /// True when every element is finite.
    public var isFinite: Bool { data.allSatisfy { $0.isFinite } }

    public var description: String {
        if count <= 16 { return "Tensor(\(shape), \(data))" }
        return "Tensor(\(shape), [\(data.prefix(8).map { "\($0)" }.joined(separator: ", ")), …])"
    }

    /// True when shapes match and every element is within `tolerance` (absolute, plus relative to magnitude).
    public func isClose(to other: Tensor, tolerance: Float = 1e-5) -> Bool {
        guard shape == other.shape else { return false }
        for (a, b) in zip(data, other.data) where abs(a - b) > tolerance * (1 + max(abs(a), abs(b))) { return false }
        return true
    }
}

extension Tensor {
    /// The most floats one block of scores (some rows × a whole catalogue) may hold: 2²⁶, 256 MB. Scoring in blocks
    /// of this size never holds users × items, whatever the catalogue.
    public static let maxBlockFloats = 1 << 26

    /// Rows per block when each row is `width` floats wide: at most `cap`, at least one, and under `maxBlockFloats`.
    public static func blockRows(width: Int, cap: Int) -> Int { max(1, min(cap, maxBlockFloats / max(1, width))) }
}
