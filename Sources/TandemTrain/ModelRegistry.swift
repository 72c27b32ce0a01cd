import TandemTensor
import TandemData
import TandemModels

/// Builds a freshly initialised model of each kind from a config and the data it trains on: the one place that knows
/// which class each `ModelKind` is (the trainer, the model store and serving only see `RetrievalModel`). A new model
/// adds a case to `ModelKind` and a line here.
public enum ModelRegistry {
    public typealias Constructor = @Sendable (TrainConfig, Dataset, inout RNG) throws -> RetrievalModel

    public static let constructors: [ModelKind: Constructor] = [
        .pop: { _, ds, _ in Popularity(train: ds.split.train, items: ds.numItems) },
        .mf: { c, ds, rng in MatrixFactorization(users: ds.numUsers, items: ds.numItems, dim: c.embeddingDim, rng: &rng) },
        .twoTower: { c, ds, rng in
            if c.twoTower.itemBias && c.objective.similarity == .cosine {
                throw ConfigError("item_bias needs similarity dot: cosine similarity would normalise the bias column with the embedding")
            }
            if c.twoTower.itemBias && c.concat.prototypes > 0 {
                throw ConfigError("item_bias cannot be combined with prototypes: the prototypes cluster embeddings, not scores with a bias")
            }
            return try TwoTower(c.twoTower, dataset: ds, dim: c.embeddingDim, useFeatures: c.data.useFeatures,
                                batchSize: c.training.batchSize, rng: &rng)
        },
        .lightgcn: { c, ds, rng in LightGCN(graph: graph(ds), dim: c.embeddingDim, config: c.graph, rng: &rng) },
        .sgl: { c, ds, rng in
            // Side features enter a graph model only for the view that masks them (`am`).
            let features = c.data.useFeatures
            if c.graph.augmentation == .am && (!features || (ds.userFeatures == nil && ds.itemFeatures == nil)) {
                throw ConfigError("augmentation am masks node side features, but \(ds.name) has no user or item features\(features ? "" : " in use (use_features is false)")")
            }
            return try SGL(graph: graph(ds), dim: c.embeddingDim, config: c.graph, userFeatures: features ? ds.userFeatures : nil,
                           itemFeatures: features ? ds.itemFeatures : nil, rng: &rng)
        },
        .ease: { c, ds, _ in try EASE(c.ease, train: ds.split.train, users: ds.numUsers, items: ds.numItems) },
        .itemknn: { c, ds, _ in try ItemKNN(c.itemKNN, train: ds.split.train, users: ds.numUsers, items: ds.numItems) },
        .ials: { c, ds, rng in
            try IALS(c.ials, train: ds.split.train, users: ds.numUsers, items: ds.numItems, dim: c.embeddingDim, rng: &rng)
        },
        .simgcl: { c, ds, rng in SimGCL(graph: graph(ds), dim: c.embeddingDim, config: c.graph, rng: &rng) },
        .xsimgcl: { c, ds, rng in XSimGCL(graph: graph(ds), dim: c.embeddingDim, config: c.graph, rng: &rng) },
    ]

    /// A new model of `config.model` for `dataset`, initialised from `config.seed`.
    public static func make(_ config: TrainConfig, dataset: Dataset) throws -> RetrievalModel {
        var rng = RNG(seed: config.seed &* 0x9E37_79B9 &+ 1)
        guard let make = constructors[config.model] else { preconditionFailure("no constructor registered for \(config.model)") }
        return try make(config, dataset, &rng)
    }

    static func graph(_ ds: Dataset) -> BipartiteGraph {
        BipartiteGraph(train: ds.split.train, users: ds.numUsers, items: ds.numItems)
    }
}
