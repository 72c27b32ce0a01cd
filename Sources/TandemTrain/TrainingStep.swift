import TandemTensor
import TandemAutograd
import TandemModels

/// The batch's positives as the columns of the in-batch softmax: this process's own rows' positives, or (data-parallel,
/// negatives gathered) every rank's, with this process's first row's target at column `offset`.
struct InBatchColumns {
    let embeddings: Variable
    let ids: [Int32]
    let offset: Int
}

/// How a step's batch is spread over processes. One process trains every row (`WholeBatch`); data-parallel ranks each
/// train a contiguous share, with the batch's positives gathered as columns and the gradients summed (`DataParallel`).
/// The step itself (`Trainer.step`) is the same for both: a partition supplies rows, columns and reductions only.
protocol BatchPartition: AnyObject {
    /// How many processes share each batch.
    var ranks: Int { get }
    /// The rows of an `n`-row batch this process trains.
    func rows(of n: Int) -> Range<Int>
    /// The in-batch softmax's columns for this process's rows, whose positives' embeddings are `positives`.
    func columns(_ tape: Tape, positives: Variable, batch: TrainingBatch, rows: Range<Int>) throws -> InBatchColumns
    /// The gradients of `loss` (summed over ranks) and the batch's loss (the same on every rank). `columns`: what
    /// `columns(…)` returned this step, nil when the loss read none.
    func backward(_ tape: Tape, _ loss: Variable, positives: Variable, rows: Range<Int>,
                  columns: InBatchColumns?) throws -> (gradients: Gradients, loss: Float)
}

/// One process: every row is its own, the columns are its positives, nothing is reduced.
final class WholeBatch: BatchPartition {
    var ranks: Int { 1 }
    func rows(of n: Int) -> Range<Int> { 0..<n }
    func columns(_ tape: Tape, positives: Variable, batch: TrainingBatch, rows: Range<Int>) -> InBatchColumns {
        InBatchColumns(embeddings: positives, ids: batch.items, offset: 0)
    }
    func backward(_ tape: Tape, _ loss: Variable, positives: Variable, rows: Range<Int>,
                  columns: InBatchColumns?) -> (gradients: Gradients, loss: Float) {
        (tape.backward(loss), loss.value.data[0])
    }
}

extension TrainingBatch {
    /// Rows `range` of the batch.
    func rows(_ range: Range<Int>) -> TrainingBatch {
        TrainingBatch(users: Array(users[range]), items: Array(items[range]))
    }
}

extension Trainer {
    /// One training step, the same in one process and on every data-parallel rank: embed this process's rows → the
    /// sampler's negatives (drawn for the whole batch) → the main loss → plus every auxiliary objective → backward.
    /// With several ranks the main loss is scaled by share/B and each auxiliary term (computed on the whole batch by
    /// every rank) by 1/ranks, so the ranks' losses add up to the one-process loss. Returns the gradients (summed over
    /// ranks) and the batch's loss.
    func step(_ tape: Tape, _ batch: TrainingBatch, rng: inout RNG) throws -> (gradients: Gradients, loss: Float) {
        let n = batch.items.count, rows = partition.rows(of: n), ranks = partition.ranks
        let local = rows.count == n ? batch : batch.rows(rows)
        let u = model.scoredUsers(tape, model.userEmbeddings(tape, local.users, positives: local.items), normalize: normalizes)
        let v = scoredItems(tape, local.items)
        let negatives = sampler.negatives(for: batch, tape: tape, embed: { self.scoredItems(tape, $0) }, rng: &rng)
        var columns: InBatchColumns?
        var loss = try mainLoss(tape, local, rows: rows, users: u, positives: v, negatives: negatives) {
            let c = try partition.columns(tape, positives: v, batch: batch, rows: rows)
            columns = c
            return c
        }
        if ranks > 1 { loss = tape.scale(loss, Float(rows.count) / Float(n)) }
        for objective in objectives {
            guard let term = objective.loss(tape, batch: batch, users: u, items: v, negatives: negatives) else { continue }
            loss = loss + (ranks > 1 ? tape.scale(term, 1 / Float(ranks)) : term)
        }
        return try partition.backward(tape, loss, positives: v, rows: rows, columns: columns)
    }

    /// Whether the loss scores normalised embeddings (cosine similarity).
    var normalizes: Bool { config.objective.similarity == .cosine }

    /// Items' vectors as the loss scores them: L2-normalised for cosine similarity, with the model's item score bias.
    func scoredItems(_ tape: Tape, _ ids: [Int32]) -> Variable {
        model.scoredItems(tape, ids, normalize: normalizes)
    }

    /// The main loss of this process's rows (`local`, rows `rows` of the batch) over their negatives. `columns` gives
    /// the in-batch columns; it is called only by the losses that read them.
    func mainLoss(_ tape: Tape, _ local: TrainingBatch, rows: Range<Int>, users u: Variable, positives v: Variable,
                  negatives: BatchNegatives, columns: () throws -> InBatchColumns) throws -> Variable {
        let o = config.objective
        if o.loss == .alignment { return RetrievalLoss.alignment(tape, users: u, positives: v, temperature: o.temperature) }
        if o.loss == .directau { return RetrievalLoss.directAU(tape, users: u, positives: v, uniformityWeight: o.uniformityWeight) }
        switch negatives {
        case .inBatch:
            let c = try columns()
            return RetrievalLoss.inBatchSoftmax(tape, users: u, items: c.embeddings, itemIds: c.ids, temperature: o.temperature,
                                                logQ: o.logq ? c.ids.map { itemLogQ[$0] } : nil, maskAccidentalHits: o.maskAccidentalHits,
                                                rowOffset: c.offset)
        case .columns(let s):
            // Without in-batch columns, each row's own positive is its first column: nothing is gathered.
            let c = s.inBatch ? try columns() : InBatchColumns(embeddings: v, ids: local.items, offset: 0)
            // Each row's own columns (mined negatives), this process's rows only: column j holds every row's j-th.
            let rowIds = (0..<s.perRow).map { j in rows.map { s.rowIds[$0 * s.perRow + j] } }
            return RetrievalLoss.sampledSoftmax(tape, users: u, positives: c.embeddings, itemIds: c.ids, sampled: s.embeddings,
                                                sampledIds: s.ids, inBatch: s.inBatch, temperature: o.temperature,
                                                logQ: s.correction, sampledLogQ: s.extraCorrection,
                                                inBatchItemGradientScale: s.inBatchItemGradientScale, rowOffset: c.offset,
                                                rowColumns: rowIds.map { scoredItems(tape, $0) }, rowColumnIds: rowIds)
        case .catalogue(let all):
            return RetrievalLoss.fullSoftmax(tape, users: u, catalogue: all, targets: local.items, temperature: o.temperature)
        case .perRow(let ids, let k):
            let mine = rows.count * k == ids.count ? ids : Array(ids[(rows.lowerBound * k)..<(rows.upperBound * k)])
            let n = scoredItems(tape, mine)
            return o.loss == .bce
                ? RetrievalLoss.bce(tape, users: u, positives: v, negatives: n, perUser: k, temperature: o.temperature)
                : RetrievalLoss.bpr(tape, users: u, positives: v, negatives: n, perUser: k, temperature: o.temperature)
        }
    }
}
