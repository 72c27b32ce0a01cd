import CKernels

/// A compressed-sparse-row Float32 matrix: the user–item graph, multi-hot fields, and masks of seen items.
public struct CSRMatrix: Sendable, Equatable {
    public let rows: Int
    public let cols: Int
    /// `rowPointers[r]..<rowPointers[r+1]` indexes row `r`'s entries; `rowPointers.count == rows + 1`.
    public let rowPointers: [Int]
    public let columnIndices: [Int32]
    public let values: [Float]

    public init(rows: Int, cols: Int, rowPointers: [Int], columnIndices: [Int32], values: [Float]) {
        precondition(rowPointers.count == rows + 1 && rowPointers.first == 0 && rowPointers.last == columnIndices.count,
                     "CSR row pointers do not match \(rows) rows and \(columnIndices.count) entries")
        precondition(columnIndices.count == values.count, "CSR has \(columnIndices.count) indices but \(values.count) values")
        precondition(columnIndices.allSatisfy { $0 >= 0 && Int($0) < cols }, "CSR column index out of 0..<\(cols)")
        self.rows = rows; self.cols = cols
        self.rowPointers = rowPointers; self.columnIndices = columnIndices; self.values = values
    }

    /// Builds from coordinate triples; duplicates are summed, columns sorted within each row.
    public init(rows: Int, cols: Int, coordinates: [(row: Int32, col: Int32, value: Float)]) {
        var counts = [Int](repeating: 0, count: rows + 1)
        for t in coordinates { counts[Int(t.row) + 1] += 1 }
        for r in 0..<rows { counts[r + 1] += counts[r] }
        var cursor = counts
        var idx = [Int32](repeating: 0, count: coordinates.count)
        var val = [Float](repeating: 0, count: coordinates.count)
        for t in coordinates {
            let p = cursor[Int(t.row)]; cursor[Int(t.row)] += 1
            idx[p] = t.col; val[p] = t.value
        }
        // Sort each row by column and merge duplicates.
        var outPtr = [0], outIdx: [Int32] = [], outVal: [Float] = []
        outIdx.reserveCapacity(idx.count); outVal.reserveCapacity(idx.count)
        for r in 0..<rows {
            let range = counts[r]..<counts[r + 1]
            let order = range.sorted { idx[$0] < idx[$1] }
            var last: Int32 = -1
            for p in order {
                if idx[p] == last { outVal[outVal.count - 1] += val[p] } else {
                    outIdx.append(idx[p]); outVal.append(val[p]); last = idx[p]
                }
            }
            outPtr.append(outIdx.count)
        }
        self.init(rows: rows, cols: cols, rowPointers: outPtr, columnIndices: outIdx, values: outVal)
    }

    public var nonZeros: Int { columnIndices.count }

    /// Column indices of row `r`.
    @inlinable public func columns(ofRow r: Int) -> ArraySlice<Int32> { columnIndices[rowPointers[r]..<rowPointers[r + 1]] }

    /// The transpose, also in CSR form (so `Aᵀ × X` is a row-parallel product too).
    public func transposed() -> CSRMatrix {
        var counts = [Int](repeating: 0, count: cols + 1)
        for c in columnIndices { counts[Int(c) + 1] += 1 }
        for c in 0..<cols { counts[c + 1] += counts[c] }
        var cursor = counts
        var idx = [Int32](repeating: 0, count: nonZeros)
        var val = [Float](repeating: 0, count: nonZeros)
        for r in 0..<rows {
            for p in rowPointers[r]..<rowPointers[r + 1] {
                let c = Int(columnIndices[p])
                let q = cursor[c]; cursor[c] += 1
                idx[q] = Int32(r); val[q] = values[p]
            }
        }
        return CSRMatrix(rows: cols, cols: rows, rowPointers: counts, columnIndices: idx, values: val)
    }

    /// `self × dense`, parallel over rows (the inner loop is C, AVX2 when available).
    public func multiply(_ dense: Tensor) -> Tensor {
        precondition(dense.rows == cols, "CSR × dense: \(rows)×\(cols) times \(dense.shape)")
        let d = dense.cols
        var out = Tensor(zeros: [rows, d])
        dense.data.withUnsafeBufferPointer { x in
            out.data.withUnsafeMutableBufferPointer { y in
                let yb = y.baseAddress!, xb = x.baseAddress
                rowPointers.withUnsafeBufferPointer { ptr in
                    columnIndices.withUnsafeBufferPointer { ci in
                        values.withUnsafeBufferPointer { vv in
                            let pp = UnsafeRawPointer(ptr.baseAddress!).assumingMemoryBound(to: Int64.self)
                            Parallel.forChunks(rows, minPerChunk: max(1, 32768 / max(1, d))) { range in
                                tandem_spmm_rows(Int64(range.lowerBound), Int64(range.upperBound), pp, ci.baseAddress,
                                                 vv.baseAddress, xb, yb, Int64(d))
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// A dense copy (tests).
    public func toDense() -> Tensor {
        var t = Tensor(zeros: [rows, cols])
        for r in 0..<rows { for p in rowPointers[r]..<rowPointers[r + 1] { t[r, Int(columnIndices[p])] += values[p] } }
        return t
    }
}
