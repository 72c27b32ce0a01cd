import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels

/// One training batch: row `r` is user `users[r]` with positive item `items[r]`.
public struct TrainingBatch {
    public let users: [Int32]
    public let items: [Int32]
    public init(users: [Int32], items: [Int32]) { self.users = users; self.items = items }
}

/// Item columns a sampler adds to a batch's softmax, and how each column's logit is corrected.
public struct SampledColumns {
    /// Whether the batch's other positives are columns too (in-batch negatives).
    public var inBatch: Bool
    /// Extra columns: items embedded on the tape, or constants (a MoCo queue); nil when there are none this batch.
    public var embeddings: Variable?
    /// The item of each extra column (a column equal to a row's positive is masked for that row).
    public var ids: [Int32]
    /// Logit correction by item id (logQ); nil: none.
    public var correction: ((Int32) -> Float)?
    /// Correction of the extra columns when it differs from `correction` (`.some(nil)`: none).
    public var extraCorrection: ((Int32) -> Float)?? = .none
    /// Scale of the item-side gradient of the in-batch columns (MoCo's queue compensation).
    public var inBatchItemGradientScale: Float = 1
    /// Columns of each row's own (mined hard negatives): row `r`'s are `rowIds[r·perRow ..< (r+1)·perRow]`, scored
    /// against that row only and never corrected; empty when there are none.
    public var rowIds: [Int32] = []
    public var perRow: Int = 0
}

/// The negatives of one batch, in the form the configured loss reads them.
public enum BatchNegatives {
    /// The in-batch softmax alone: each row's negatives are the batch's other positives.
    case inBatch
    /// A softmax over the batch's positives (optionally) and extra columns.
    case columns(SampledColumns)
    /// `perRow` items for each row (row `r`'s are `ids[r·perRow ..< (r+1)·perRow]`), for BPR and BCE.
    case perRow(ids: [Int32], perRow: Int)
    /// Every item of the catalogue, in id order: row `r`'s target is column `items[r]` (the exact softmax).
    case catalogue(Variable)

    /// Items whose ego rows a graph model's regulariser also penalises (BPR's sampled negatives, as in LightGCN).
    public var pairwiseItems: [Int32] {
        if case .perRow(let ids, _) = self { return ids }
        return []
    }
}

/// Where a batch's negatives come from. A training step reads: embed → negatives → loss → Σ auxiliary objectives.
/// `embed` embeds item ids on the step's tape as the loss scores them (normalised for cosine similarity).
public protocol NegativeSampler: AnyObject {
    func negatives(for batch: TrainingBatch, tape: Tape, embed: ([Int32]) -> Variable, rng: inout RNG) -> BatchNegatives
    /// Called after the optimiser step (MoCo moves its momentum copy and enqueues the batch).
    func afterStep()
    /// Why this sampler cannot train data-parallel (nil: it can; every rank draws the whole batch's negatives alike).
    var dataParallelLimit: String? { get }
    /// Writes what the sampler carries from one step to the next (a queue, a ranking), under `prefix`: a checkpoint's share.
    func saveTrainingState(_ state: inout TrainingState, prefix: String)
    /// Puts back what `saveTrainingState` wrote.
    func restoreTrainingState(_ state: TrainingState, prefix: String) throws
}

extension NegativeSampler {
    public func afterStep() {}
    public var dataParallelLimit: String? { nil }
    public func saveTrainingState(_ state: inout TrainingState, prefix: String) {}
    public func restoreTrainingState(_ state: TrainingState, prefix: String) throws {}
}

/// log p_train(item): each item's share of the training interactions (logQ correction of in-batch columns).
public struct ItemLogProbabilities: Sendable {
    public let values: [Float]
    public init(train: Interactions, items: Int) {
        let counts = train.itemCounts(items: items)
        values = counts.map { Float(Foundation.log(Double(max($0, 1)) / Double(max(train.count, 1)))) }
    }
    public subscript(_ item: Int32) -> Float { values[Int(item)] }
}

/// In-batch negatives (the batch's other positives), the default.
public final class InBatchSampler: NegativeSampler {
    public init() {}
    public func negatives(for batch: TrainingBatch, tape: Tape, embed: ([Int32]) -> Variable, rng: inout RNG) -> BatchNegatives {
        .inBatch
    }
}

/// `sampled_negatives` items drawn from the catalogue for the whole batch, uniformly or ∝ training count^α, with or
/// without the in-batch ones (`mixed` = in-batch + uniform, Yang et al. 2020). The logQ correction of item j is
/// log of its expected count among the candidates: B·p_train(j) in-batch plus N·q_sampler(j) drawn.
public final class CatalogueSampler: NegativeSampler {
    public let sampler: NegativeSampling.Sampler
    public let inBatch: Bool
    public let count: Int
    let logQ: ItemLogProbabilities?
    let items: Int
    let popularity: AliasTable
    let popularityProbability: [Float]

    public init(_ sampler: NegativeSampling.Sampler, inBatch: Bool, count: Int, counts: [Int], alpha: Float, logQ: ItemLogProbabilities?) {
        self.sampler = sampler; self.inBatch = inBatch; self.count = count; self.logQ = logQ
        items = counts.count
        let weights = counts.map { Foundation.pow(Double($0), Double(alpha)) }
        // An empty training log leaves nothing to weight by: fall back to uniform.
        let w = weights.reduce(0, +) > 0 ? weights : [Double](repeating: 1, count: counts.count)
        popularity = AliasTable(w)
        let sum = w.reduce(0, +)
        popularityProbability = w.map { Float($0 / sum) }
    }

    public func draw(_ rng: inout RNG) -> Int32 {
        switch sampler {
        case .uniform: return Int32(rng.int(below: items))
        case .popularity: return Int32(popularity.sample(&rng))
        }
    }

    public func probability(_ item: Int32) -> Float {
        switch sampler {
        case .uniform: return 1 / Float(items)
        case .popularity: return popularityProbability[Int(item)]
        }
    }

    public func negatives(for batch: TrainingBatch, tape: Tape, embed: ([Int32]) -> Variable, rng: inout RNG) -> BatchNegatives {
        let drawn = (0..<count).map { _ in draw(&rng) }
        let b = Float(inBatch ? batch.items.count : 0), n = Float(drawn.count)
        let correction: ((Int32) -> Float)? = logQ.map { logQ in
            { j in Foundation.log(b * Foundation.exp(logQ[j]) + n * self.probability(j)) }
        }
        return .columns(SampledColumns(inBatch: inBatch, embeddings: embed(drawn), ids: drawn, correction: correction))
    }
}

/// Every item as a column of every row (`negative_sampling: all`): the exact softmax over the catalogue, the end of the
/// "more negatives" axis (in-batch B − 1 → mixed → MoCo queue → every item). Column `j` is item `j`, so a row's
/// positive is its target column and no other column holds it; nothing is logQ-corrected: no column was sampled.
///
/// Memory: the logits, their softmax and their gradient are `batch_size × items` each (12 bytes per entry in all);
/// a batch above `maxEntries` entries is refused, pointing to the sampled alternatives.
public final class FullCatalogueSampler: NegativeSampler {
    /// 2²⁷ logits per batch (about 1.6 GB with the softmax and the gradient).
    public static let maxEntries = 1 << 27
    let all: [Int32]

    public init(items: Int, batchSize: Int) throws {
        guard batchSize * items <= Self.maxEntries else {
            throw ConfigError("negative_sampling all scores every item for every row: batch_size \(batchSize) × \(items) items = \(batchSize * items) logits per batch, above the \(Self.maxEntries) this keeps in memory; use a smaller batch_size, or sampled negatives (mixed, popularity, a MoCo queue)")
        }
        all = (0..<Int32(items)).map { $0 }
    }

    public func negatives(for batch: TrainingBatch, tape: Tape, embed: ([Int32]) -> Variable, rng: inout RNG) -> BatchNegatives {
        .catalogue(embed(all))
    }
}

/// In-batch negatives plus each row's logged "shown but not clicked" items (`in_batch+logged`). Logged columns are not
/// logQ-corrected: they are not drawn from a catalogue distribution.
public final class LoggedSampler: NegativeSampler {
    public let logged: LoggedNegatives
    public let perRow: Int
    let logQ: ItemLogProbabilities?

    public init(_ logged: LoggedNegatives, perRow: Int, logQ: ItemLogProbabilities?) {
        self.logged = logged; self.perRow = perRow; self.logQ = logQ
    }

    public func negatives(for batch: TrainingBatch, tape: Tape, embed: ([Int32]) -> Variable, rng: inout RNG) -> BatchNegatives {
        let drawn = logged.draw(for: batch.users, perRow: perRow, rng: &rng)
        return .columns(SampledColumns(inBatch: true, embeddings: drawn.isEmpty ? nil : embed(drawn), ids: drawn,
                                       correction: logQ.map { logQ in { logQ[$0] } }, extraCorrection: .some(nil)))
    }
}

/// MoCo (He et al., CVPR 2020): item embeddings of past positives from a momentum copy of the item tower, queued, join
/// the in-batch negatives. Queued columns are constants and are not logQ-corrected unless `queue_logq`.
public final class MoCoQueueSampler: NegativeSampler {
    public let encoder: MomentumEncoder
    public private(set) var queue: EmbeddingQueue
    let model: RetrievalModel
    let normalize: Bool
    let settings: MoCoSettings
    let logQ: ItemLogProbabilities?
    private var pending: (embeddings: Tensor, ids: [Int32])?

    public init(model: RetrievalModel, settings: MoCoSettings, normalize: Bool, logQ: ItemLogProbabilities?) {
        self.model = model; self.settings = settings; self.normalize = normalize; self.logQ = logQ
        encoder = MomentumEncoder(model: model, momentum: settings.momentum)
        let dim = encoder.itemEmbeddings(model, [0], normalize: false).cols
        queue = EmbeddingQueue(capacity: settings.queueSize, dimension: dim)
    }

    public func negatives(for batch: TrainingBatch, tape: Tape, embed: ([Int32]) -> Variable, rng: inout RNG) -> BatchNegatives {
        // This batch's positives through the momentum copy go into the queue after the step; the row's own item is
        // masked wherever it sits in the queue.
        pending = (encoder.itemEmbeddings(model, batch.items, normalize: normalize), batch.items)
        let (queued, ids) = queue.contents
        let b = Float(batch.items.count)
        return .columns(SampledColumns(inBatch: true, embeddings: ids.isEmpty ? nil : tape.constant(queued), ids: ids,
                                       correction: logQ.map { logQ in { logQ[$0] } },
                                       extraCorrection: settings.queueLogq ? .none : .some(nil),
                                       inBatchItemGradientScale: settings.queueCompensation ? (b + Float(ids.count)) / b : 1))
    }

    /// Queue compensation scales the item gradient of in-batch columns, which data parallelism gathers as constants.
    public var dataParallelLimit: String? { settings.queueCompensation ? "MoCo's queue_compensation (set it false)" : nil }

    public func afterStep() {
        guard let keys = pending else { return }
        encoder.update()
        queue.enqueue(keys.embeddings, ids: keys.ids)
        pending = nil
    }

    /// The queue (oldest first) and the momentum copy; between steps nothing is pending.
    public func saveTrainingState(_ state: inout TrainingState, prefix: String) {
        let (rows, ids) = queue.contents
        state.tensors[prefix + "queue"] = rows
        state.ints[prefix + "queue_ids"] = ids
        encoder.save(&state, prefix: prefix + "momentum.")
    }

    public func restoreTrainingState(_ state: TrainingState, prefix: String) throws {
        let rows = try state.tensor(prefix + "queue")
        guard let ids = state.ints[prefix + "queue_ids"], ids.count == rows.rows, rows.rows <= queue.capacity,
              rows.rows == 0 || rows.cols == queue.dimension else {
            throw StateError("the checkpoint's MoCo queue does not fit this run's (queue_size \(queue.capacity), dimension \(queue.dimension))")
        }
        queue = EmbeddingQueue(capacity: queue.capacity, dimension: queue.dimension)
        if !ids.isEmpty { queue.enqueue(rows, ids: ids) }
        try encoder.restore(state, prefix: prefix + "momentum.")
        pending = nil
    }
}

/// `negatives` items per row drawn uniformly from the catalogue, re-drawn (up to 10 times) while the user has the item
/// in training: the pairwise losses' (BPR, BCE) sampler.
public final class PairwiseSampler: NegativeSampler {
    public let perRow: Int
    let seen: CSRMatrix
    let items: Int

    public init(perRow: Int, seen: CSRMatrix, items: Int) {
        self.perRow = perRow; self.seen = seen; self.items = items
    }

    public func negatives(for batch: TrainingBatch, tape: Tape, embed: ([Int32]) -> Variable, rng: inout RNG) -> BatchNegatives {
        var negs: [Int32] = []
        negs.reserveCapacity(batch.users.count * perRow)
        for user in batch.users {
            let known = seen.columns(ofRow: Int(user))
            for _ in 0..<perRow {
                var j = Int32(rng.int(below: items))
                var tries = 0
                while known.sortedContains(j) && tries < 10 { j = Int32(rng.int(below: items)); tries += 1 }
                negs.append(j)
            }
        }
        return .perRow(ids: negs, perRow: perRow)
    }
}

/// Logged "shown but not clicked" negatives read from the training split: rows with label 0, or (no label column)
/// rating ≤ `maxRating`, grouped by user. Those rows are not trained as positives.
public struct LoggedNegatives {
    /// Training rows used as positives (every row when logged negatives are off), 4 bytes each.
    public let positiveRows: [Int32]
    /// Logged negative items of each user.
    public let byUser: [[Int32]]

    public init(train: Interactions, users: Int, enabled: Bool, maxRating: Float) {
        var byUser = [[Int32]](repeating: [], count: users)
        precondition(train.count <= Int(Int32.max), "more than \(Int32.max) training interactions")
        guard enabled else { positiveRows = (0..<Int32(train.count)).map { $0 }; self.byUser = byUser; return }
        var positives: [Int32] = []
        for p in 0..<train.count {
            let negative = train.labels.map { $0[p] == 0 } ?? train.ratings.map { $0[p] <= maxRating } ?? false
            if negative { byUser[Int(train.users[p])].append(train.items[p]) } else { positives.append(Int32(p)) }
        }
        positiveRows = positives
        self.byUser = byUser
    }

    /// Number of logged negative rows.
    public var count: Int { byUser.reduce(0) { $0 + $1.count } }

    /// `perRow` logged items of each row's user, drawn with replacement (none for a user without logged negatives).
    public func draw(for users: [Int32], perRow: Int, rng: inout RNG) -> [Int32] {
        var out: [Int32] = []
        for u in users {
            let own = byUser[Int(u)]
            if own.isEmpty { continue }
            for _ in 0..<perRow { out.append(own[rng.int(below: own.count)]) }
        }
        return out
    }
}

/// Hard negatives mined from the model's own current ranking, `perRow` per training row, added to the in-batch
/// (easy) negatives: ANCE's negatives from an index refreshed as training goes, with Facebook EBR's semi-hard ranks
/// (`.ranks`, e.g. 101–500) or dynamic negative sampling (`.dns`: the highest-scoring of M uniform candidates; Zhang et
/// al. 2013). A user's own training items are never mined. The ranking is the model's user and item embeddings as
/// scored, recomputed every `refreshEvery` steps (the first batch computes it).
public final class HardNegativeMiner: NegativeSampler {
    public enum Mode: Sendable {
        /// Uniformly from ranks `lower...upper` (1-based) of the user's ranking with their training items removed.
        case ranks(ClosedRange<Int>)
        /// The highest-scoring of `candidates` uniformly drawn items that the user has not trained on.
        case dns(candidates: Int)
    }

    public let mode: Mode
    public let perRow: Int
    public let refreshEvery: Int
    /// The training matrix (users × items): a user's items are never mined.
    let known: CSRMatrix
    let logQ: ItemLogProbabilities?
    /// The current user and item embeddings as the loss scores them.
    let snapshot: () -> (users: Tensor, items: Tensor)
    /// `.ranks`: each user's band of ranks, best first (recomputed at each refresh).
    public private(set) var pools: [[Int32]] = []
    /// The embeddings of the last refresh (`.dns` scores candidates on them; `.ranks` made `pools` from them).
    var embeddings: (users: Tensor, items: Tensor)?
    var stepsSinceRefresh = Int.max
    public private(set) var refreshes = 0

    public init(_ mode: Mode, perRow: Int, refreshEvery: Int, known: CSRMatrix, logQ: ItemLogProbabilities?,
                snapshot: @escaping () -> (users: Tensor, items: Tensor)) {
        self.mode = mode; self.perRow = perRow; self.refreshEvery = max(1, refreshEvery); self.known = known; self.logQ = logQ
        self.snapshot = snapshot
    }

    public var dataParallelLimit: String? { "hard-negative mining (not yet checked against one process)" }

    /// Recomputes the ranking from the model's current embeddings.
    public func refresh() {
        let e = snapshot()
        refreshes += 1
        stepsSinceRefresh = 0
        embeddings = e
        if case .ranks(let band) = mode { pools = Self.bands(users: e.users, items: e.items, known: known, ranks: band) }
    }

    /// The last refresh's embeddings and the steps since; the bands are recomputed from the embeddings on restore.
    public func saveTrainingState(_ state: inout TrainingState, prefix: String) {
        state.set(prefix + "steps_since_refresh", stepsSinceRefresh == .max ? -1 : stepsSinceRefresh)
        state.set(prefix + "refreshes", refreshes)
        if let e = embeddings { state.tensors[prefix + "users"] = e.users; state.tensors[prefix + "items"] = e.items }
    }

    public func restoreTrainingState(_ state: TrainingState, prefix: String) throws {
        let steps = try state.int(prefix + "steps_since_refresh")
        stepsSinceRefresh = steps < 0 ? .max : steps
        refreshes = try state.int(prefix + "refreshes")
        embeddings = nil; pools = []
        guard state.tensors[prefix + "users"] != nil else { return }
        let e = (users: try state.tensor(prefix + "users"), items: try state.tensor(prefix + "items"))
        guard e.items.rows == known.cols, e.users.rows == known.rows else {
            throw StateError("the checkpoint's mined ranking covers \(e.users.rows) users × \(e.items.rows) items, this run's data \(known.rows) × \(known.cols)")
        }
        embeddings = e
        if case .ranks(let band) = mode { pools = Self.bands(users: e.users, items: e.items, known: known, ranks: band) }
    }

    /// For every user, the items at ranks `ranks` (1-based) of their ranking by `users · itemsᵀ` with their `known`
    /// items removed (ties to the lower item). A user with fewer unknown items than `ranks.lowerBound` gets the last
    /// `ranks.count` of them.
    public static func bands(users: Tensor, items: Tensor, known: CSRMatrix, ranks: ClosedRange<Int>) -> [[Int32]] {
        var out = [[Int32]](repeating: [], count: users.rows)
        let n = items.rows, block = 256
        var start = 0
        while start < users.rows {
            let end = min(users.rows, start + block)
            let d = users.cols
            var scores = BLAS.matmul(Tensor(shape: [end - start, d], data: Array(users.data[(start * d)..<(end * d)])), items, transposeB: true)
            let found = UnsafeMutableBufferPointer<[Int32]>.allocate(capacity: end - start)
            found.initialize(repeating: [])
            scores.data.withUnsafeMutableBufferPointer { s in
                let base = s.baseAddress!
                Parallel.forEach(end - start) { r in
                    let u = start + r, row = base + r * n
                    for k in known.rowPointers[u]..<known.rowPointers[u + 1] { row[Int(known.columnIndices[k])] = -.infinity }
                    let unknown = n - (known.rowPointers[u + 1] - known.rowPointers[u])
                    let top = TopK.select(UnsafeBufferPointer(start: row, count: n), k: min(ranks.upperBound, unknown))
                    let first = min(ranks.lowerBound - 1, max(0, top.count - ranks.count))
                    found[r] = Array(top[first...])
                }
            }
            for r in 0..<(end - start) { out[start + r] = found[r] }
            _ = found.deinitialize(); found.deallocate()
            start = end
        }
        return out
    }

    /// `perRow` mined items for each row's user, row-major.
    public func mine(for batch: TrainingBatch, rng: inout RNG) -> [Int32] {
        if stepsSinceRefresh >= refreshEvery { refresh() }
        stepsSinceRefresh += 1
        let users = embeddings?.users ?? Tensor(zeros: [0, 0]), items = embeddings?.items ?? Tensor(zeros: [0, 0])
        let d = users.cols, catalogue = known.cols
        var ids: [Int32] = []
        ids.reserveCapacity(batch.users.count * perRow)
        // Raw buffers for the inner loops: dns scores tens of candidates per row.
        known.rowPointers.withUnsafeBufferPointer { starts in
            known.columnIndices.withUnsafeBufferPointer { columns in
                users.data.withUnsafeBufferPointer { u in
                    items.data.withUnsafeBufferPointer { v in
                        /// Whether `item` is among the user's training items (a CSR row's columns are sorted: bisection).
                        func isKnown(_ user: Int, _ item: Int32) -> Bool {
                            var lo = starts[user], hi = starts[user + 1]
                            while lo < hi {
                                let mid = (lo + hi) / 2
                                if columns[mid] < item { lo = mid + 1 } else { hi = mid }
                            }
                            return lo < starts[user + 1] && columns[lo] == item
                        }
                        /// A uniformly drawn item the user has not trained on (any item after 64 tries: the user knows nearly all).
                        func unknownItem(_ user: Int, _ rng: inout RNG) -> Int32 {
                            var item = Int32(rng.int(below: catalogue))
                            var tries = 0
                            while tries < 64 && isKnown(user, item) { item = Int32(rng.int(below: catalogue)); tries += 1 }
                            return item
                        }
                        for user in batch.users.map(Int.init) {
                            for _ in 0..<perRow {
                                switch mode {
                                case .ranks:
                                    let pool = pools[user]
                                    ids.append(pool.isEmpty ? unknownItem(user, &rng) : pool[rng.int(below: pool.count)])
                                case .dns(let m):
                                    var best: Int32 = -1, bestScore = -Float.infinity
                                    for _ in 0..<m {
                                        let item = unknownItem(user, &rng)
                                        let score = VectorMath.dot(u.baseAddress! + user * d, v.baseAddress! + Int(item) * d, count: d)
                                        if best < 0 || score > bestScore { best = item; bestScore = score }
                                    }
                                    ids.append(best)
                                }
                            }
                        }
                    }
                }
            }
        }
        return ids
    }

    public func negatives(for batch: TrainingBatch, tape: Tape, embed: ([Int32]) -> Variable, rng: inout RNG) -> BatchNegatives {
        var columns = SampledColumns(inBatch: true, embeddings: nil, ids: [], correction: logQ.map { logQ in { logQ[$0] } },
                                     extraCorrection: .some(nil))
        columns.rowIds = mine(for: batch, rng: &rng)
        columns.perRow = perRow
        return .columns(columns)
    }
}
