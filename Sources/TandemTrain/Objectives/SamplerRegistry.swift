import TandemTensor
import TandemData
import TandemModels

/// What a negative sampler needs from the rest of the run; `TrainConfig.validate` checks each asked-for sampler's needs.
public struct SamplerNeeds: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// The InfoNCE softmax main loss (its negatives are softmax columns).
    public static let softmax = SamplerNeeds(rawValue: 1)
    /// No other sampled negatives beside the in-batch ones (`negative_sampling: in_batch`).
    public static let inBatchOnly = SamplerNeeds(rawValue: 2)
    /// A model whose item side is its own (not a graph model's shared propagation): a momentum copy of it, or logged
    /// rows that a graph would keep as edges.
    public static let ownItemTower = SamplerNeeds(rawValue: 4)

    /// Whether `config` gives what these needs ask for.
    func met(by config: TrainConfig) -> Bool {
        (!contains(.softmax) || config.objective.loss == .infonce)
            && (!contains(.inBatchOnly) || config.objective.negativeSampling == .inBatch)
            && (!contains(.ownItemTower) || !config.model.isGraph)
    }
}

/// What a sampler is built from.
struct SamplerContext {
    let config: TrainConfig
    let dataset: Dataset
    let model: RetrievalModel
    let logged: LoggedNegatives
    /// The logQ correction of in-batch columns; nil when `logq` is off.
    let logQ: ItemLogProbabilities?
}

/// One way of drawing a batch's negatives: when a config asks for it, what it needs, and how it is built.
struct SamplerChoice: Sendable {
    let asked: @Sendable (TrainConfig) -> Bool
    let needs: SamplerNeeds
    /// The error when a config asks for it without what it needs.
    let unmet: String
    let make: @Sendable (SamplerContext) throws -> NegativeSampler

    init(needs: SamplerNeeds = [], unmet: String = "", asked: @escaping @Sendable (TrainConfig) -> Bool,
         make: @escaping @Sendable (SamplerContext) throws -> NegativeSampler) {
        self.needs = needs; self.unmet = unmet; self.asked = asked; self.make = make
    }
}

/// The negative samplers, keyed by what asks for them. A run's sampler is the first entry its config asks for; every
/// entry it asks for must have its needs met (`TrainConfig.validate`). A new sampler is a class in
/// `NegativeSamplers.swift` and an entry here.
enum SamplerRegistry {
    static let choices: [SamplerChoice] = [
        // Alignment (the collapse baseline) and DirectAU read no negatives.
        SamplerChoice(asked: { $0.objective.loss == .alignment || $0.objective.loss == .directau }) { _ in InBatchSampler() },
        SamplerChoice(asked: { $0.objective.loss == .bpr || $0.objective.loss == .bce }) { c in
            let ds = c.dataset
            return PairwiseSampler(perRow: c.config.objective.negatives, seen: ds.split.train.matrix(users: ds.numUsers, items: ds.numItems),
                                   items: ds.numItems)
        },
        SamplerChoice(needs: [.softmax, .inBatchOnly, .ownItemTower],
                      unmet: "queue_size needs loss infonce, negative_sampling in_batch and a model with its own item tower (mf, two-tower)",
                      asked: { $0.moco.queueSize > 0 }) { c in
            MoCoQueueSampler(model: c.model, settings: c.config.moco, normalize: c.config.objective.similarity == .cosine, logQ: c.logQ)
        },
        SamplerChoice(needs: [.softmax, .inBatchOnly],
                      unmet: "hard_negatives adds mined columns to the in-batch InfoNCE softmax: it needs loss infonce and negative_sampling in_batch",
                      asked: { $0.objective.hardNegatives > 0 }) { c in
            let o = c.config.objective, ds = c.dataset, config = c.config, model = c.model
            let mode: HardNegativeMiner.Mode = o.hardNegativeMining == .ranks
                ? .ranks(o.hardNegativeRanks[0]...o.hardNegativeRanks[1]) : .dns(candidates: o.hardNegativeCandidates)
            let steps = (c.logged.positiveRows.count + config.training.batchSize - 1) / config.training.batchSize
            return HardNegativeMiner(mode, perRow: o.hardNegatives, refreshEvery: o.hardNegativeRefresh > 0 ? o.hardNegativeRefresh : max(1, steps),
                                     known: ds.split.train.matrix(users: ds.numUsers, items: ds.numItems), logQ: c.logQ) {
                ModelStore.scoredEmbeddings(model, config: config, dataset: ds)
            }
        },
        SamplerChoice(needs: .softmax,
                      unmet: "negative_sampling all is the InfoNCE softmax over every item: it needs loss infonce",
                      asked: { $0.objective.negativeSampling == .all }) { c in
            try FullCatalogueSampler(items: c.dataset.numItems, batchSize: c.config.training.batchSize)
        },
        SamplerChoice(needs: [.softmax, .ownItemTower],
                      unmet: "negative_sampling in_batch+logged needs loss infonce and mf or two-tower (a graph would keep the logged rows as edges)",
                      asked: { $0.objective.negativeSampling.logged }) { c in
            LoggedSampler(c.logged, perRow: c.config.objective.loggedPerRow, logQ: c.logQ)
        },
        SamplerChoice(asked: { $0.objective.negativeSampling.sampler != nil }) { c in
            let o = c.config.objective
            return CatalogueSampler(o.negativeSampling.sampler!, inBatch: o.negativeSampling.inBatch, count: o.sampledNegatives,
                                    counts: c.dataset.split.train.itemCounts(items: c.dataset.numItems), alpha: o.popularityAlpha, logQ: c.logQ)
        },
        SamplerChoice(asked: { _ in true }) { _ in InBatchSampler() },
    ]

    /// The sampler `config` asks for (the first entry it asks for).
    static func choice(for config: TrainConfig) -> SamplerChoice {
        choices.first { $0.asked(config) }!
    }

    /// The first unmet need among the samplers `config` asks for, as an error message; nil when all are met.
    static func unmetNeed(_ config: TrainConfig) -> String? {
        choices.first { $0.asked(config) && !$0.needs.met(by: config) }?.unmet
    }
}
