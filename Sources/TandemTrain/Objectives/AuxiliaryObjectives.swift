import TandemTensor
import TandemAutograd
import TandemModels

/// A term added to a batch's main loss: the one way to add a loss term. The model's own terms (the self-supervised
/// feature-masking task, graph regularisers and contrastive views) and ConCAT's prototypes are objectives alike.
public protocol AuxiliaryObjective: AnyObject {
    /// Parameters the objective trains besides the model's (empty for the model's own terms).
    var parameters: [Parameter] { get }
    /// Why this objective cannot train data-parallel (nil: it can). Each rank holds only its share of the batch rows'
    /// embeddings, and every rank adds the term divided by the number of ranks: a term computed from the whole batch's
    /// ids works; one that needs every row's embeddings together does not. `Trainer` refuses the run in one place.
    var dataParallelLimit: String? { get }
    /// The weighted term for this batch (nil: none). `users`/`items` are the batch rows' embeddings as the main loss
    /// scores them.
    func loss(_ tape: Tape, batch: TrainingBatch, users: Variable, items: Variable, negatives: BatchNegatives) -> Variable?
}

/// The model's own extra terms (`RetrievalModel.auxiliaryLoss`): SSL on two-tower, L2 and views on graph models.
public final class ModelTermsObjective: AuxiliaryObjective {
    let model: RetrievalModel
    public init(_ model: RetrievalModel) { self.model = model }
    public var parameters: [Parameter] { [] }
    public var dataParallelLimit: String? { nil }
    public func loss(_ tape: Tape, batch: TrainingBatch, users: Variable, items: Variable, negatives: BatchNegatives) -> Variable? {
        model.auxiliaryLoss(tape, users: batch.users, items: batch.items, negatives: negatives.pairwiseItems)
    }
}

/// ConCAT (SwAV-style prototypes, Caron et al. 2020): swapped prediction between each user and its positive item on
/// unit vectors, times `prototype_weight`.
public final class PrototypeObjective: AuxiliaryObjective {
    public let head: PrototypeHead
    let weight: Float
    let normalized: Bool

    /// `normalized`: the batch embeddings already are unit vectors (cosine similarity).
    public init(_ settings: ConcatSettings, dim: Int, normalized: Bool, seed: UInt64) {
        var rng = RNG(seed: seed &+ 0x5157_4156)
        head = PrototypeHead(count: settings.prototypes, dim: dim, temperature: settings.prototypeTemperature,
                             epsilon: settings.sinkhornEpsilon, iterations: settings.sinkhornIterations, rng: &rng)
        weight = settings.prototypeWeight
        self.normalized = normalized
    }

    public var parameters: [Parameter] { head.parameters }
    /// The swapped prediction reads every row's embeddings, which no rank holds whole.
    public var dataParallelLimit: String? { "ConCAT prototypes (set prototypes 0)" }

    public func loss(_ tape: Tape, batch: TrainingBatch, users: Variable, items: Variable, negatives: BatchNegatives) -> Variable? {
        let clusters = head.loss(tape, users: normalized ? users : tape.l2Normalize(users),
                                 items: normalized ? items : tape.l2Normalize(items))
        return tape.scale(clusters, weight)
    }
}
