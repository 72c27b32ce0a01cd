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

    /// The matrix of rows `rows` (in that order, repeats allowed), times `scale`: `rows.count × cols`.
    public func selectingRows(_ rows: [Int32], scaledBy scale: Float = 1) -> CSRMatrix {
        var pointers = [0]
        pointers.reserveCapacity(rows.count + 1)
        for r in rows {
            precondition(r >= 0 && Int(r) < self.rows, "selectingRows: row \(r) out of 0..<\(self.rows)")
            pointers.append(pointers[pointers.count - 1] + rowPointers[Int(r) + 1] - rowPointers[Int(r)])
        }
        let total = pointers[pointers.count - 1]
        // Filled through pointers: per-row slices and `map` allocated an array per row (a 1M-graph batch has 6k rows).
        let columns = [Int32](unsafeUninitializedCapacity: total) { out, count in
            columnIndices.withUnsafeBufferPointer { ci in
                for (k, r) in rows.enumerated() where pointers[k + 1] > pointers[k] {  // no base address when empty
                    let lo = rowPointers[Int(r)]
                    (out.baseAddress! + pointers[k]).update(from: ci.baseAddress! + lo, count: pointers[k + 1] - pointers[k])
                }
            }
            count = total
        }
        let vals = [Float](unsafeUninitializedCapacity: total) { out, count in
            values.withUnsafeBufferPointer { vv in
                for (k, r) in rows.enumerated() {
                    let lo = rowPointers[Int(r)]
                    for i in 0..<(pointers[k + 1] - pointers[k]) { out[pointers[k] + i] = vv[lo + i] * scale }
                }
            }
            count = total
        }
        return CSRMatrix(rows: rows.count, cols: cols, rowPointers: pointers, columnIndices: columns, values: vals)
    }

    /// The transpose, also in CSR form (so `Aᵀ × X` is a row-parallel product too).
    public func transposed() -> CSRMatrix {
        var counts = [Int](repeating: 0, count: cols + 1)
        columnIndices.withUnsafeBufferPointer { ci in
            counts.withUnsafeMutableBufferPointer { n in for c in ci { n[Int(c) + 1] += 1 } }
        }
        for c in 0..<cols { counts[c + 1] += counts[c] }
        var cursor = counts
        var idx = [Int32](repeating: 0, count: nonZeros)
        var val = [Float](repeating: 0, count: nonZeros)
        // Through pointers: the array form paid bounds and uniqueness checks on every non-zero (a 1M-graph batch's
        // rows are transposed every step).
        rowPointers.withUnsafeBufferPointer { rp in
            columnIndices.withUnsafeBufferPointer { ci in
                values.withUnsafeBufferPointer { vv in
                    cursor.withUnsafeMutableBufferPointer { cur in
                        idx.withUnsafeMutableBufferPointer { ix in
                            val.withUnsafeMutableBufferPointer { vx in
                                for r in 0..<rows {
                                    for p in rp[r]..<rp[r + 1] {
                                        let c = Int(ci[p]), q = cur[c]
                                        cur[c] = q + 1
                                        ix[q] = Int32(r); vx[q] = vv[p]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return CSRMatrix(rows: cols, cols: rows, rowPointers: counts, columnIndices: idx, values: val)
    }

    /// `self × dense`, parallel over rows (the inner loop is C, AVX2 when available).
    public func multiply(_ dense: Tensor) -> Tensor {
        var out = Tensor(uninitialized: [rows, dense.cols])  // the product writes every element
        multiply(dense, adding: nil, into: &out)
        return out
    }

    /// `Σ_{k=0}^{K} selfᵏ x` by Horner's rule, `y ← x + self·y` K times: K products and two buffers, instead of K
    /// layer tensors and their sums (LightGCN's layer sum, and its backward with `selfᵀ`). Square matrices only.
    public func powerSum(_ x: Tensor, layers: Int) -> Tensor {
        precondition(rows == cols, "power sum needs a square matrix, got \(rows)×\(cols)")
        // Each product writes every element of its output. The output is never `x`'s storage: swapping the first
        // product's input (`x` itself) into `next` would make the second product copy the whole table on write, so the
        // first output gets a buffer of its own and later ones alternate.
        var y = x, next = Tensor(uninitialized: x.shape)
        for k in 0..<layers {
            multiply(y, adding: x, into: &next)
            if k == 0 {
                y = next
                if layers > 1 { next = Tensor(uninitialized: x.shape) }
            } else {
                swap(&y, &next)
            }
        }
        return y
    }

    /// `out = base + self × dense` (`base` nil: zero), writing every element of `out`.
    public func multiply(_ dense: Tensor, adding base: Tensor?, into out: inout Tensor) {
        precondition(dense.rows == cols, "CSR × dense: \(rows)×\(cols) times \(dense.shape)")
        let d = dense.cols
        precondition(out.rows == rows && out.cols == d && (base == nil || base!.shape == out.shape), "CSR × dense: output shapes")
        let baseData = base?.data ?? []
        dense.data.withUnsafeBufferPointer { x in
          baseData.withUnsafeBufferPointer { b in
            out.data.withUnsafeMutableBufferPointer { y in
                let yb = y.baseAddress!, xb = x.baseAddress, bb = base == nil ? nil : b.baseAddress
                rowPointers.withUnsafeBufferPointer { ptr in
                    columnIndices.withUnsafeBufferPointer { ci in
                        values.withUnsafeBufferPointer { vv in
                            let pp = UnsafeRawPointer(ptr.baseAddress!).assumingMemoryBound(to: Int64.self)
                            // Chunks of equal non-zero counts, not equal rows: in a bipartite graph the item rows are
                            // far denser than the user rows. Four chunks per core, taken dynamically.
                            let bounds = nonZeroBalancedChunks(count: nonZeros * d >= 1 << 16 ? Parallel.cores * 4 : 1)
                            Parallel.forEach(bounds.count - 1) { c in
                                tandem_spmm_rows(Int64(bounds[c]), Int64(bounds[c + 1]), pp, ci.baseAddress, vv.baseAddress, xb, bb, yb, Int64(d))
                            }
                        }
                    }
                }
            }
          }
        }
    }

    /// Row boundaries `[0, …, rows]` splitting the matrix into `count` runs of rows with about equal non-zeros.
    func nonZeroBalancedChunks(count: Int) -> [Int] {
        var bounds = [0]
        for c in 1..<max(1, count) {
            let target = Int64(nonZeros) * Int64(c) / Int64(count)
            var lo = bounds.last!, hi = rows  // first row whose start reaches the target
            while lo < hi { let mid = (lo + hi) / 2; if Int64(rowPointers[mid]) < target { lo = mid + 1 } else { hi = mid } }
            if lo > bounds.last! && lo < rows { bounds.append(lo) }
        }
        bounds.append(rows)
        return bounds
    }

    /// Rows `ids` as dense vectors, `ids.count × cols` (a 0/1 incidence row is the user's items as a vector).
    public func denseRows(_ ids: [Int32]) -> Tensor {
        var out = Tensor(zeros: [ids.count, cols])
        for (r, row) in ids.enumerated() {
            for p in rowPointers[Int(row)]..<rowPointers[Int(row) + 1] { out.data[r * cols + Int(columnIndices[p])] += values[p] }
        }
        return out
    }

    /// Rows `ids` of `self` times the sparse `other`, as dense rows (`ids.count × other.cols`): each output row adds up
    /// `other`'s rows at the row's columns, scaled by its values. Parallel over rows; never forms `self × other` whole.
    public func denseProduct(rows ids: [Int32], _ other: CSRMatrix) -> Tensor {
        precondition(cols == other.rows, "\(rows) × \(cols) times \(other.rows) × \(other.cols)")
        var out = Tensor(zeros: [ids.count, other.cols])
        let width = other.cols
        out.data.withUnsafeMutableBufferPointer { o in
            let base = o.baseAddress!
            rowPointers.withUnsafeBufferPointer { rp in columnIndices.withUnsafeBufferPointer { ci in values.withUnsafeBufferPointer { vv in
                other.rowPointers.withUnsafeBufferPointer { orp in other.columnIndices.withUnsafeBufferPointer { oci in
                    other.values.withUnsafeBufferPointer { ov in
                        Parallel.forChunks(ids.count, minPerChunk: 8) { range in
                            for r in range {
                                let row = base + r * width, u = Int(ids[r])
                                for p in rp[u]..<rp[u + 1] {
                                    let l = Int(ci[p]), scale = vv[p]
                                    for q in orp[l]..<orp[l + 1] { row[Int(oci[q])] += scale * ov[q] }
                                }
                            }
                        }
                    }
                } }
            } } }
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

extension Collection where Element == Int32, Index == Int {
    /// Whether a sorted collection (a CSR row's columns) contains `x`, by binary search.
    @inlinable public func sortedContains(_ x: Int32) -> Bool {
        var lo = startIndex, hi = endIndex
        while lo < hi {
            let mid = (lo + hi) / 2
            if self[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return lo < endIndex && self[lo] == x
    }
}
