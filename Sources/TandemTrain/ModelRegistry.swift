import TandemTensor
import TandemData
import TandemModels

/// Everything Tandem knows about one model kind, in one place: its name, its traits, its tuned defaults and its
/// constructor. `ModelRegistry.descriptors` holds one per kind; the kind's name and choices, the config's validation
/// rules, `tandem compare`'s seed count and the conformance suite all read it. Adding a model is its file under
/// `TandemModels/Models/` plus one entry in that table.
public struct ModelDescriptor: Sendable {
    public typealias Constructor = @Sendable (TrainConfig, Dataset, inout RNG) throws -> RetrievalModel

    /// The name in configs and on the command line (`--model NAME`).
    public let name: String
    /// Propagates over the user–item graph (its item side has no parameters of its own: no MoCo copy, no logged rows).
    public let isGraph: Bool
    /// Parameters set by the model's own `fit` (a solve, counting, or its own optimiser), not the trainer's steps: Pop,
    /// EASE, ItemKNN, iALS, ELSA, sparse EASE.
    public let isClosedForm: Bool
    /// The result does not depend on the training seed (one run is enough in `tandem compare`).
    public let isDeterministic: Bool
    /// Trains under data parallelism (every kind does today; closed-form ones fit alike on every rank).
    public let dataParallel: Bool
    /// The kind's tuned settings over `TrainConfig()`'s (docs/BENCHMARKS.md has the sweeps behind them).
    public let defaults: @Sendable (inout TrainConfig) -> Void
    public let make: Constructor

    public init(_ name: String, graph: Bool = false, closedForm: Bool = false, deterministic: Bool = false, dataParallel: Bool = true,
                defaults: @escaping @Sendable (inout TrainConfig) -> Void = { _ in }, make: @escaping Constructor) {
        self.name = name; isGraph = graph; isClosedForm = closedForm; isDeterministic = deterministic
        self.dataParallel = dataParallel; self.defaults = defaults; self.make = make
    }
}

/// The model kinds, one descriptor each (the one place that knows which class each kind is: the trainer, the model
/// store and serving only see `RetrievalModel`).
public enum ModelRegistry {
    public static let descriptors: [ModelDescriptor] = [
        ModelDescriptor("pop", closedForm: true, deterministic: true) { _, ds, _ in Popularity(train: ds.split.train, items: ds.numItems) },
        ModelDescriptor("mf", defaults: { c in
            // 256-d at lr 0.003: the best validation NDCG@20 of the width screening on ml-100k, confirmed on ml-1m
            // validation (docs/BENCHMARKS.md, "Embedding width").
            TrainConfig.inBatchInfoNCE(&c); c.embeddingDim = 256; c.training.learningRate = 0.003
        }) { c, ds, rng in try makeMF(c, ds, &rng) },
        ModelDescriptor("two-tower", defaults: { c in
            // The self-supervised task on the item tower (CFM, α 0.1, τ 0.2) when it has features: the best lever over
            // 3 seeds on ml-100k (docs/BENCHMARKS.md); `--ssl none` turns it off.
            TrainConfig.inBatchInfoNCE(&c); c.twoTower.hidden = []; c.twoTower.fieldDim = 16; c.twoTower.ssl = .auto
        }) { c, ds, rng in try makeTwoTower(c, ds, &rng) },
        ModelDescriptor("ease", closedForm: true, deterministic: true, defaults: closedFormDefaults) { c, ds, _ in
            try EASE(c.ease, train: ds.split.train, users: ds.numUsers, items: ds.numItems)
        },
        ModelDescriptor("itemknn", closedForm: true, deterministic: true, defaults: closedFormDefaults) { c, ds, _ in
            try ItemKNN(c.itemKNN, train: ds.split.train, users: ds.numUsers, items: ds.numItems)
        },
        ModelDescriptor("ials", closedForm: true, defaults: { c in
            // iALS at 256-d: the best validation NDCG@20 of the width screening (docs/BENCHMARKS.md, "Embedding width").
            closedFormDefaults(&c); c.embeddingDim = 256
        }) { c, ds, rng in try IALS(c.ials, train: ds.split.train, users: ds.numUsers, items: ds.numItems, dim: c.embeddingDim, rng: &rng) },
        // EASE with each column fitted on the item's most co-occurring items: linear in the item count, λ from ease_lambdas.
        ModelDescriptor("sparse-ease", closedForm: true, deterministic: true, defaults: closedFormDefaults) { c, ds, _ in
            try SparseEASE(c.sparseEase, lambdas: c.ease.easeLambdas, train: ds.split.train, users: ds.numUsers, items: ds.numItems)
        },
        // ELSA, EASE in low-rank form: linear in the item count, where dense EASE refuses the catalogue.
        ModelDescriptor("elsa", closedForm: true, defaults: { c in closedFormDefaults(&c); c.embeddingDim = 256 }) { c, ds, rng in
            try ELSA(c.elsa, train: ds.split.train, users: ds.numUsers, items: ds.numItems, dim: c.embeddingDim, rng: &rng)
        },
        // LightGCN with MF's in-batch InfoNCE (docs/BENCHMARKS.md: far above the paper's BPR settings on ml-100k); 3
        // layers, L2 1e-4 as in the paper.
        ModelDescriptor("lightgcn", graph: true, defaults: { c in graphDefaults(&c); c.graph.clWeight = 0 }) { c, ds, rng in
            LightGCN(graph: graph(ds), dim: c.embeddingDim, config: c.graph, rng: &rng)
        },
        // SGL and SimGCL: LightGCN's in-batch InfoNCE main loss with a small view weight λ 0.01 (view τ 0.2). The papers'
        // settings: `--loss bpr --similarity dot --temperature 1 --logq false --learning-rate 0.001 --batch-size 2048` and
        // λ 0.1 (SGL) / 0.5 (SimGCL).
        ModelDescriptor("sgl", graph: true, defaults: { c in viewDefaults(&c); c.graph.dropRatio = 0.1 }) { c, ds, rng in
            try makeSGL(c, ds, &rng)
        },
        ModelDescriptor("simgcl", graph: true, defaults: { c in viewDefaults(&c); c.graph.noiseEps = 0.1 }) { c, ds, rng in
            SimGCL(graph: graph(ds), dim: c.embeddingDim, config: c.graph, rng: &rng)
        },
        // XSimGCL: λ 0.01 and a small noise ε 0.05, layer 1 against the last (the paper's settings: preset `paper-xsimgcl`).
        ModelDescriptor("xsimgcl", graph: true, defaults: { c in viewDefaults(&c); c.graph.noiseEps = 0.05; c.graph.clLayer = 1 }) { c, ds, rng in
            XSimGCL(graph: graph(ds), dim: c.embeddingDim, config: c.graph, rng: &rng)
        },
    ]

    /// The descriptor of each kind by name.
    static let byName: [String: ModelDescriptor] = Dictionary(uniqueKeysWithValues: descriptors.map { ($0.name, $0) })

    /// A new model of `config.model` for `dataset`, initialised from `config.seed`.
    public static func make(_ config: TrainConfig, dataset: Dataset) throws -> RetrievalModel {
        var rng = RNG(seed: config.seed &* 0x9E37_79B9 &+ 1)
        return try config.model.descriptor.make(config, dataset, &rng)
    }

    /// Closed-form scores are used as they are (X·W; iALS fits raw dot products).
    static func closedFormDefaults(_ c: inout TrainConfig) { c.objective.similarity = .dot }

    /// The graph models' shared defaults: the in-batch InfoNCE main loss, 3 layers, L2 1e-4.
    static func graphDefaults(_ c: inout TrainConfig) {
        TrainConfig.inBatchInfoNCE(&c); c.graph.layers = 3; c.graph.graphReg = 1e-4
    }

    /// The contrastive graph models' view loss: λ 0.01, τ 0.2.
    static func viewDefaults(_ c: inout TrainConfig) {
        graphDefaults(&c); c.graph.clWeight = 0.01; c.graph.clTemperature = 0.2
    }

    static func makeMF(_ c: TrainConfig, _ ds: Dataset, _ rng: inout RNG) throws -> RetrievalModel {
        if c.twoTower.itemBias {
            // The bias is part of every score, so whatever reads the vectors as geometry or copies the item side alone refuses it.
            if c.objective.loss == .alignment || c.objective.loss == .directau {
                throw ConfigError("item_bias cannot be combined with loss \(c.objective.loss.rawValue): that loss reads the embeddings' geometry, not scores")
            }
            if c.moco.queueSize > 0 { throw ConfigError("item_bias cannot be combined with queue_size: the queue holds vectors without the bias") }
            if c.concat.prototypes > 0 {
                throw ConfigError("item_bias cannot be combined with prototypes: the prototypes cluster embeddings, not scores with a bias")
            }
        }
        return MatrixFactorization(users: ds.numUsers, items: ds.numItems, dim: c.embeddingDim, itemBias: c.twoTower.itemBias, rng: &rng)
    }

    static func makeTwoTower(_ c: TrainConfig, _ ds: Dataset, _ rng: inout RNG) throws -> RetrievalModel {
        if c.twoTower.itemBias && c.objective.similarity == .cosine {
            throw ConfigError("item_bias needs similarity dot: cosine similarity would normalise the bias column with the embedding")
        }
        if c.twoTower.itemBias && c.concat.prototypes > 0 {
            throw ConfigError("item_bias cannot be combined with prototypes: the prototypes cluster embeddings, not scores with a bias")
        }
        return try TwoTower(c.twoTower, dataset: ds, dim: c.embeddingDim, useFeatures: c.data.useFeatures,
                            batchSize: c.training.batchSize, rng: &rng)
    }

    static func makeSGL(_ c: TrainConfig, _ ds: Dataset, _ rng: inout RNG) throws -> RetrievalModel {
        // Side features enter a graph model only for the view that masks them (`am`).
        let features = c.data.useFeatures
        if c.graph.augmentation == .am && (!features || (ds.userFeatures == nil && ds.itemFeatures == nil)) {
            throw ConfigError("augmentation am masks node side features, but \(ds.name) has no user or item features\(features ? "" : " in use (use_features is false)")")
        }
        return try SGL(graph: graph(ds), dim: c.embeddingDim, config: c.graph, userFeatures: features ? ds.userFeatures : nil,
                       itemFeatures: features ? ds.itemFeatures : nil, rng: &rng)
    }

    static func graph(_ ds: Dataset) -> BipartiteGraph {
        BipartiteGraph(train: ds.split.train, users: ds.numUsers, items: ds.numItems)
    }
}

/// A model kind, by its registered name (`ModelRegistry.descriptors`); `.mf` and the like name the built-in ones.
public struct ModelKind: RawRepresentable, Hashable, Codable, CaseIterable, Sendable, CustomStringConvertible {
    public let rawValue: String
    /// A registered name; nil for any other.
    public init?(rawValue: String) {
        guard ModelRegistry.byName[rawValue] != nil else { return nil }
        self.rawValue = rawValue
    }
    private init(registered name: String) { rawValue = name }

    public static let pop = ModelKind(registered: "pop"), mf = ModelKind(registered: "mf"), twoTower = ModelKind(registered: "two-tower")
    public static let ease = ModelKind(registered: "ease"), itemknn = ModelKind(registered: "itemknn"), ials = ModelKind(registered: "ials")
    public static let elsa = ModelKind(registered: "elsa"), sparseEase = ModelKind(registered: "sparse-ease")
    public static let lightgcn = ModelKind(registered: "lightgcn"), sgl = ModelKind(registered: "sgl")
    public static let simgcl = ModelKind(registered: "simgcl"), xsimgcl = ModelKind(registered: "xsimgcl")

    /// Every registered kind, in the table's order.
    public static var allCases: [ModelKind] { ModelRegistry.descriptors.map { ModelKind(registered: $0.name) } }
    public var descriptor: ModelDescriptor { ModelRegistry.byName[rawValue]! }
    public var isGraph: Bool { descriptor.isGraph }
    public var isDeterministic: Bool { descriptor.isDeterministic }
    public var description: String { rawValue }
}
