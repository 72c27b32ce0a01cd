import TandemTensor
import TandemAutograd

/// Retrieval losses over a batch of (user, positive item) pairs. Embeddings come in already normalised when the
/// similarity is cosine; `temperature` divides every score.
public enum RetrievalLoss {
    /// In-batch softmax (InfoNCE / sampled softmax): row `i` of `users × itemsᵀ / τ` should pick column
    /// `rowOffset + i`.
    ///
    /// - `logQ`: log sampling probability of each batch item; subtracted from its column (Yi et al. 2019), which
    ///   corrects the popularity bias of in-batch negatives.
    /// - `maskAccidentalHits`: a column holding the same item as the row's positive is removed from that row's softmax.
    /// - `rowOffset`: the rows are a slice of a larger batch whose items are all columns (one rank's rows under
    ///   data-parallel training, with every rank's items gathered); 0 when rows and columns are the same batch.
    public static func inBatchSoftmax(_ tape: Tape, users: Variable, items: Variable, itemIds: [Int32],
                                      temperature: Float, logQ: [Float]? = nil, maskAccidentalHits: Bool = true,
                                      rowOffset: Int = 0) -> Variable {
        let n = itemIds.count, rows = users.value.rows
        precondition(rowOffset >= 0 && rowOffset + rows <= n, "rows \(rowOffset)..<\(rowOffset + rows) outside \(n) columns")
        // (u/τ)·v: the temperature scales the [rows, d] side, not the [rows, n] logits.
        var logits = tape.matmul(tape.scale(users, 1 / temperature), items, transposeB: true)
        if let logQ {
            precondition(logQ.count == n)
            logits = logits - tape.constant(Tensor(shape: [1, n], data: logQ))
        }
        var excluded: [(row: Int, column: Int)] = []
        if maskAccidentalHits {
            var columnsOf: [Int32: [Int]] = [:]
            for (j, id) in itemIds.enumerated() { columnsOf[id, default: []].append(j) }
            for i in 0..<rows {
                guard let group = columnsOf[itemIds[rowOffset + i]], group.count > 1 else { continue }
                for j in group where j != rowOffset + i { excluded.append((i, j)) }
            }
        }
        return tape.crossEntropy(logits: logits, targets: (0..<rows).map { Int32(rowOffset + $0) }, excluding: excluded)
    }

    /// Sampled softmax over the batch's own items (when `inBatch`) and `sampled` extra negatives shared by the whole
    /// batch (uniform, popularity, a MoCo queue): row `i` should pick its positive, item `itemIds[i]`.
    ///
    /// Columns are `[batch items (if inBatch) | sampled items]`; without in-batch negatives the first column is each
    /// row's own positive. `logQ(id)` is subtracted from every column holding item `id` (the log of how often that
    /// item shows up as a candidate, Yi et al. 2019; for mixed sources, Yang et al. 2020). Columns holding the row's
    /// own positive item (other than its target) are removed from that row's softmax.
    ///
    /// `inBatchItemGradientScale` (> 1 with a MoCo queue) multiplies the gradient that reaches the *item* side through
    /// the in-batch negative columns (off-diagonal; values and the user side unchanged). Queued rows are constants, so
    /// the items they hold never receive the push away from users that the loss's negatives should give them; since
    /// the queue holds past positives, drawn like the batch's, scaling the in-batch push by `(B + Q) / B` makes the item
    /// gradient an unbiased estimate of the full `(B + Q)`-negative loss's.
    ///
    /// `rowOffset` (with `inBatch` only): the rows are a slice of the batch whose positives are all in `positives`
    /// (one rank's rows under data-parallel training); row `i` is the batch's row `rowOffset + i`.
    ///
    /// `rowColumns` (mined hard negatives): each row's own extra columns, after the shared ones; `rowColumns[j]` holds
    /// row `i`'s `j`-th item in its row `i` (`[n, d]`), whose id is `rowColumnIds[j][i]`. They are not corrected, and one
    /// holding the row's positive is removed from that row's softmax.
    public static func sampledSoftmax(_ tape: Tape, users: Variable, positives: Variable, itemIds: [Int32],
                                      sampled: Variable?, sampledIds: [Int32], inBatch: Bool, temperature: Float,
                                      logQ: ((Int32) -> Float)? = nil, sampledLogQ: ((Int32) -> Float)?? = .none,
                                      inBatchItemGradientScale: Float = 1, rowOffset: Int = 0,
                                      rowColumns: [Variable] = [], rowColumnIds: [[Int32]] = []) -> Variable {
        // `sampledLogQ` (when given) corrects the sampled columns instead of `logQ`; `.some(nil)` leaves them as they are.
        let sampledCorrection: ((Int32) -> Float)? = sampledLogQ ?? logQ
        let n = users.value.rows
        precondition(inBatch ? rowOffset + n <= itemIds.count : rowOffset == 0 && n == itemIds.count,
                     "sampledSoftmax: rows \(rowOffset)..<\(rowOffset + n) of \(itemIds.count) positives")
        precondition(rowOffset == 0 || inBatchItemGradientScale == 1, "sampledSoftmax: a row slice with a scaled item gradient")
        let scaled = tape.scale(users, 1 / temperature)
        var parts: [Variable] = []
        var columnIds: [Int32] = []
        if inBatch {
            parts.append(inBatchItemGradientScale == 1
                         ? tape.matmul(scaled, positives, transposeB: true)
                         : scaledItemGradientProduct(tape, scaled, positives, offDiagonal: inBatchItemGradientScale))
            columnIds += itemIds
        } else {
            parts.append(tape.rowDot(scaled, positives)); columnIds.append(-1)  // per-row positive
        }
        if let sampled {
            precondition(sampled.value.rows == sampledIds.count)
            parts.append(tape.matmul(scaled, sampled, transposeB: true)); columnIds += sampledIds
        }
        let shared = columnIds.count
        precondition(rowColumns.count == rowColumnIds.count, "sampledSoftmax: \(rowColumns.count) row columns, \(rowColumnIds.count) id lists")
        for column in rowColumns {
            precondition(column.value.rows == n, "sampledSoftmax: a row column of \(column.value.rows) rows for \(n) rows")
            parts.append(tape.rowDot(scaled, column)); columnIds.append(-1)
        }
        var logits = parts.count == 1 ? parts[0] : tape.concatColumns(parts)
        let width = columnIds.count
        let batchColumns = inBatch ? itemIds.count : 1
        if logQ != nil || sampledCorrection != nil {
            let row = columnIds.enumerated().map { j, id -> Float in
                guard id >= 0 else { return 0 }
                return (j < batchColumns ? logQ : sampledCorrection)?(id) ?? 0
            }
            if inBatch {
                // Every row gets the same shift: one broadcast row.
                logits = logits - tape.constant(Tensor(shape: [1, width], data: row))
            } else {
                var shift = Tensor(shape: [n, width], data: [Float](repeating: 0, count: n * width))
                for i in 0..<n {
                    shift.data.replaceSubrange((i * width + 1)..<((i + 1) * width), with: row[1...])
                    shift.data[i * width] = logQ?(itemIds[i]) ?? 0
                }
                logits = logits - tape.constant(shift)
            }
        }
        // Accidental hits: the columns of each item id, found through a dictionary (O(n + width), not O(n · width)).
        var columnsOf: [Int32: [Int]] = [:]
        for (j, id) in columnIds.enumerated() where id >= 0 { columnsOf[id, default: []].append(j) }
        var excluded: [(row: Int, column: Int)] = []
        for i in 0..<n {
            let target = inBatch ? rowOffset + i : 0
            for j in columnsOf[itemIds[rowOffset + i]] ?? [] where j != target { excluded.append((i, j)) }
            for (j, ids) in rowColumnIds.enumerated() where ids[i] == itemIds[rowOffset + i] { excluded.append((i, shared + j)) }
        }
        return tape.crossEntropy(logits: logits, targets: (0..<n).map { Int32(inBatch ? rowOffset + $0 : 0) }, excluding: excluded)
    }

    /// The exact softmax over the catalogue: row `i` of `users × catalogueᵀ / τ` should pick column `targets[i]`
    /// (column `j` is item `j`, so no column repeats a row's positive and nothing needs masking).
    public static func fullSoftmax(_ tape: Tape, users: Variable, catalogue: Variable, targets: [Int32], temperature: Float) -> Variable {
        tape.crossEntropy(logits: tape.matmul(tape.scale(users, 1 / temperature), catalogue, transposeB: true), targets: targets,
                          excluding: [])
    }

    /// `users × itemsᵀ` whose value is the plain product, the users' gradient the plain one, and the items' gradient
    /// scaled by `offDiagonal` off the diagonal (the positives' own entries keep scale 1).
    public static func scaledItemGradientProduct(_ tape: Tape, _ users: Variable, _ items: Variable, offDiagonal c: Float) -> Variable {
        let n = users.value.rows
        let userSide = tape.matmul(users, tape.constant(items.value), transposeB: true)   // gradient to users only
        let itemSide = tape.matmul(tape.constant(users.value), items, transposeB: true)   // gradient to items only
        var weights = Tensor(repeating: c, shape: [n, n])
        for i in 0..<n { weights.data[i * n + i] = 1 }
        // x·W + const(x·(1 − W)) has the value x and the gradient W ⊙ g.
        var rest = itemSide.value
        for k in rest.data.indices { rest.data[k] *= 1 - weights.data[k] }
        let itemScaled = itemSide * tape.constant(weights) + tape.constant(rest)
        // userSide + itemScaled − value(userSide): the value u·v once, each side's gradient once.
        return userSide + itemScaled - tape.constant(userSide.value)
    }

    /// Bayesian personalised ranking: mean of `softplus(−(s⁺ − s⁻)/τ)` = `−log σ(Δ/τ)` over each positive and its
    /// negatives. `negatives` holds `k` rows per user, user-major (`[n·k, d]`).
    /// Alignment with no negatives: −mean(s(u, i⁺)) / τ. Minimising it alone lets every embedding collapse onto one
    /// point (Wang & Isola 2020): what the negatives of the other losses prevent.
    public static func alignment(_ tape: Tape, users: Variable, positives: Variable, temperature: Float) -> Variable {
        tape.scale(tape.mean(tape.rowDot(users, positives)), -1 / temperature)
    }

    /// DirectAU (Wang et al., "Towards Representation Alignment and Uniformity in Collaborative Filtering", KDD 2022):
    /// `mean ‖u − v⁺‖² + γ · (unif(users) + unif(items)) / 2`, with `unif(x) = log mean_{i≠j} exp(−2‖xᵢ − xⱼ‖²)` over the
    /// batch's rows. Inputs are L2-normalised, so `‖a − b‖² = 2 − 2a·b`.
    public static func directAU(_ tape: Tape, users: Variable, positives: Variable, uniformityWeight gamma: Float) -> Variable {
        let align = tape.addScalar(tape.scale(tape.mean(tape.rowDot(users, positives)), -2), 2)
        return align + tape.scale(uniformity(tape, users) + uniformity(tape, positives), gamma / 2)
    }

    /// `log mean_{i≠j} exp(−2‖xᵢ − xⱼ‖²)` over the rows of L2-normalised `x` (Wang & Isola 2020, t = 2): the diagonal's
    /// n terms, each exp(0) = 1, are taken out of the sum.
    public static func uniformity(_ tape: Tape, _ x: Variable) -> Variable {
        let n = x.value.rows
        precondition(n >= 2, "uniformity needs two rows")
        let e = tape.exp(tape.addScalar(tape.scale(tape.matmul(x, x, transposeB: true), 4), -4))
        return tape.log(tape.scale(tape.addScalar(tape.sum(e), -Float(n)), 1 / Float(n * (n - 1))))
    }

    public static func bpr(_ tape: Tape, users: Variable, positives: Variable, negatives: Variable, perUser k: Int,
                           temperature: Float) -> Variable {
        let (_, posRep, neg) = pairScores(tape, users: users, positives: positives, negatives: negatives, perUser: k)
        return tape.mean(tape.softplus(tape.scale(neg - posRep, 1 / temperature)))
    }

    /// Binary cross-entropy: positives labelled 1, sampled negatives 0; the mean over all scored pairs
    /// of `softplus(−s⁺/τ)` and `softplus(s⁻/τ)`.
    public static func bce(_ tape: Tape, users: Variable, positives: Variable, negatives: Variable, perUser k: Int,
                           temperature: Float) -> Variable {
        let (pos, _, neg) = pairScores(tape, users: users, positives: positives, negatives: negatives, perUser: k)
        let lp = tape.sum(tape.softplus(tape.scale(pos, -1 / temperature)))
        let ln = tape.sum(tape.softplus(tape.scale(neg, 1 / temperature)))
        return tape.scale(lp + ln, 1 / Float(pos.value.rows * (1 + k)))
    }

    /// Positive scores `[n, 1]`, the same repeated per negative `[n·k, 1]`, and negative scores `[n·k, 1]`
    /// (negative row `i·k + j` is scored against user `i`).
    static func pairScores(_ tape: Tape, users: Variable, positives: Variable, negatives: Variable, perUser k: Int) -> (Variable, Variable, Variable) {
        let n = users.value.rows
        precondition(negatives.value.rows == n * k, "expected \(n * k) negative rows, got \(negatives.value.rows)")
        let pos = tape.rowDot(users, positives)
        let repeated = tape.gatherRows(users, (0..<(n * k)).map { Int32($0 / k) })
        let neg = tape.rowDot(repeated, negatives)   // [n·k, 1], user-major
        let posRep = tape.gatherRows(pos, (0..<(n * k)).map { Int32($0 / k) })
        return (pos, posRep, neg)
    }
}
