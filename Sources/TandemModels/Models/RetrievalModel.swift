import TandemTensor
import TandemAutograd
import TandemData
import TandemEval

/// A model that embeds users and items into one space; relevance is the inner product of the two
/// (after L2 normalisation when the similarity is cosine). Every model kind conforms, Pop included, so the trainer,
/// the evaluator, the model store and serving handle them all the same way (`ModelRegistry` builds them).
public protocol RetrievalModel: AnyObject {
    var parameters: [Parameter] { get }
    func userEmbeddings(_ tape: Tape, _ users: [Int32]) -> Variable
    func itemEmbeddings(_ tape: Tape, _ items: [Int32]) -> Variable
    /// A learned score per item that the similarity leaves alone (MF's `item_bias`): each scored item vector is the
    /// (normalised) embedding with this `[n, 1]` column appended, and each user vector gets a 1, so a score is
    /// `sim(u, v) + c_i`, still an inner product (the loss divides it by τ: the logit bias is `c_i / τ`). Cosine
    /// similarity cannot carry popularity in a vector's length; this column can. nil (most models): none.
    func itemScoreBias(_ tape: Tape, _ items: [Int32]) -> Variable?
    /// True when `itemScoreBias` gives a column: scored vectors are then one wider than the embeddings.
    var hasItemScoreBias: Bool { get }
    /// The user embeddings of training rows whose positives are `positives`: models that read the user's history
    /// leave each row's own positive out of it. Defaults to `userEmbeddings`.
    func userEmbeddings(_ tape: Tape, _ users: [Int32], positives: [Int32]) -> Variable
    /// Called before each training epoch (e.g. to draw new augmented views).
    func beginEpoch()
    /// A model-specific term added to the main loss (regularisers, contrastive views); nil when none.
    func auxiliaryLoss(_ tape: Tape, users: [Int32], items: [Int32], negatives: [Int32]) -> Variable?
    /// The parameters that `itemEmbeddings` reads and nothing on the user side does (a MoCo momentum copy of the
    /// item tower copies exactly these); empty when the two sides share parameters (graph models).
    var itemParameters: [Parameter] { get }
    /// True when embedding any rows computes every entity's embedding (graph propagation): `allEmbeddings` then
    /// reads all of them from one inference tape instead of re-propagating for every block.
    var computesAllRowsAtOnce: Bool { get }
    /// Embeddings of all `count` entities of one side as scored (L2-normalised when `normalize`).
    func allEmbeddings(users: Bool, count: Int, normalize: Bool) -> Tensor
    /// The tower that embeds a user the model has no id row for, from raw feature values (cold start); nil when the
    /// model has none. A model directory keeps its `Tower.Spec` and weights so serving can rebuild it.
    var coldStartUserTower: Tower? { get }
    /// The tower that embeds an item from raw feature values alone (items added after training); nil when the model
    /// has no item features. A model directory keeps its `Tower.Spec` so serving can rebuild it.
    var featureItemTower: Tower? { get }
    /// Zeroes what `items`' own rows contribute (their id embeddings, biases), so items never trained on are scored
    /// from their features alone (item cold start). Models with nothing per item beyond those rows score them as zero.
    func forgetItems(_ items: [Int32])
    /// False for models whose parameters come from a solve (EASE): the trainer calls `fit` instead of taking steps.
    var trainsByGradient: Bool { get }
    /// Sets the parameters of a closed-form model, choosing its hyper-parameters by `validate` (the validation metric
    /// of the current parameters, higher is better); returns what it chose, for the results.
    func fit(validate: () -> Double, log: (String) -> Void) throws -> [String: Double]
    /// Scores users against every item without embeddings, for a model whose embeddings are as wide as the catalogue
    /// (ItemKNN, sparse EASE); nil (every other model): scores are inner products of `allEmbeddings`.
    func directScorer() -> UserItemScorer?
    /// Writes what the model carries from one step to the next besides its parameters (the generator of its augmented
    /// views), under `prefix`: a checkpoint's share. Nothing for most models.
    func saveTrainingState(_ state: inout TrainingState, prefix: String)
    /// Puts back what `saveTrainingState` wrote, so the model continues exactly as it would have at that step.
    func restoreTrainingState(_ state: TrainingState, prefix: String) throws
}

extension RetrievalModel {
    public func beginEpoch() {}
    public func userEmbeddings(_ tape: Tape, _ users: [Int32], positives: [Int32]) -> Variable { userEmbeddings(tape, users) }
    public func auxiliaryLoss(_ tape: Tape, users: [Int32], items: [Int32], negatives: [Int32]) -> Variable? { nil }
    public var itemParameters: [Parameter] { [] }
    public var computesAllRowsAtOnce: Bool { false }
    public var coldStartUserTower: Tower? { nil }
    public var featureItemTower: Tower? { nil }
    public var trainsByGradient: Bool { true }
    public func forgetItems(_ items: [Int32]) {}
    public func fit(validate: () -> Double, log: (String) -> Void) throws -> [String: Double] { [:] }
    public func directScorer() -> UserItemScorer? { nil }
    public func itemScoreBias(_ tape: Tape, _ items: [Int32]) -> Variable? { nil }
    public var hasItemScoreBias: Bool { false }
    public func saveTrainingState(_ state: inout TrainingState, prefix: String) {}
    public func restoreTrainingState(_ state: TrainingState, prefix: String) throws {}
    public func allEmbeddings(users: Bool, count: Int, normalize: Bool) -> Tensor {
        embeddingsInBlocks(users: users, count: count, normalize: normalize)
    }

    /// Embeddings of all `count` entities of one side, computed in blocks of `batch` without keeping a tape.
    public func embeddingsInBlocks(users: Bool, count: Int, normalize: Bool, batch: Int = 4096) -> Tensor {
        var rows: [Float] = []
        var dim = 0
        var start = 0
        let shared = computesAllRowsAtOnce ? Tape(training: false) : nil
        while start < count {
            let ids = (start..<min(count, start + batch)).map { Int32($0) }
            let tape = shared ?? Tape(training: false)
            let e = users ? scoredUsers(tape, userEmbeddings(tape, ids), normalize: normalize)
                          : scoredItems(tape, ids, normalize: normalize)
            dim = e.value.cols
            rows.append(contentsOf: e.value.data)
            start += batch
        }
        return Tensor(shape: [count, dim], data: rows)
    }

    /// User vectors as scored: `e` L2-normalised when `normalize` (cosine similarity), then a column of ones when the
    /// model has item score biases (the user's side of `sim(u, v) + c_i`).
    public func scoredUsers(_ tape: Tape, _ e: Variable, normalize: Bool) -> Variable {
        let n = normalize ? tape.l2Normalize(e) : e
        guard hasItemScoreBias else { return n }
        let rows = n.value.rows
        return tape.concatColumns([n, tape.constant(Tensor(shape: [rows, 1], data: [Float](repeating: 1, count: rows)))])
    }

    /// Item vectors as scored: the embeddings of `ids` L2-normalised when `normalize`, then the item score bias column
    /// when the model has one.
    public func scoredItems(_ tape: Tape, _ ids: [Int32], normalize: Bool) -> Variable {
        let e = itemEmbeddings(tape, ids)
        let n = normalize ? tape.l2Normalize(e) : e
        guard let bias = itemScoreBias(tape, ids) else { return n }
        return tape.concatColumns([n, bias])
    }
}
