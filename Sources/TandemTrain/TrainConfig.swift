import Foundation
import Yams
import TandemAutograd
import TandemData
import TandemModels

public enum ModelKind: String, Codable, CaseIterable, Sendable {
    case pop, mf
    case twoTower = "two-tower"
    /// Graph recall. All four default to the in-batch InfoNCE main loss (presets `paper-lightgcn` and `paper-xsimgcl` keep
    /// the papers' BPR settings).
    case lightgcn, sgl, simgcl, xsimgcl

    public var isGraph: Bool { [.lightgcn, .sgl, .simgcl, .xsimgcl].contains(self) }
}

public enum Similarity: String, Codable, CaseIterable, Sendable { case dot, cosine }
public enum LossKind: String, Codable, CaseIterable, Sendable { case infonce, bpr, bce }

/// Every setting of a training run. YAML keys and CLI flags use the snake_case / kebab-case of these names.
/// Defaults depend on the model (`TrainConfig.defaults(for:)`): `--model mf` alone gets the tuned settings.
public struct TrainConfig: Codable, Equatable, Sendable {
    // Data
    /// A known dataset (`ml-100k`, fetched into `data_dir`) or a directory holding `NAME.inter` [.user .item].
    public var dataset: String? = "ml-100k"
    /// Cache root for known datasets (default `$TANDEM_DATA` or `./data`).
    public var dataDir: String?
    /// Pre-split TSV/CSV files with `user_id` and `item_id` columns; when set, `dataset` and `split` are ignored.
    public var train: String?
    public var valid: String?
    public var test: String?
    public var userFeatures: String?
    public var itemFeatures: String?
    /// `random:0.8,0.1,0.1`, `temporal:0.8,0.1,0.1` or `loo`.
    public var split = "random:0.8,0.1,0.1"
    /// Keep interactions rated at least this (nil: all interactions are positives).
    public var ratingThreshold: Float?
    public var userCore = 0
    public var itemCore = 0
    /// Seeds the split, the initialisation and the batch order.
    public var seed: UInt64 = 2020
    /// Seed of the split alone when different from `seed` (so several training seeds share one split).
    public var splitSeed: UInt64?

    // Model
    public var model: ModelKind = .mf
    /// A named bundle of settings (`TrainConfig.presets`): `moco`, `mixed`, `popularity-negatives`, `logged`, `concat`,
    /// `ssl-cfm`, `ssl-rfm`, `ssl-fd`, `senet`, `history`, `simgcl-infonce`, `sgl-infonce`, `paper-lightgcn`, `paper-xsimgcl`. The preset's values sit under the config file's and the flags' own, which still win.
    public var preset: String?
    public var embeddingDim = 64
    /// Hidden layer sizes of each tower's MLP (two-tower).
    public var hidden: [Int] = []
    /// Embedding size of each side-feature field (two-tower).
    public var fieldDim = 16
    /// SENet field re-weighting (FiBiNET) before the tower MLP: `none`, `user`, `item` or `both` (two-tower only;
    /// a tower with fewer than two fields has nothing to re-weight).
    public var senet = "none"
    /// Behaviour pooling (two-tower): the user tower gets a `history` field, the mean embedding of the user's last
    /// `history_length` training items (0: off). Also a cold-start input: `"user_features": {"history": [item ids]}`.
    public var historyLength = 0
    /// Behaviour pooling: in training, drop each history item with this probability (Mult-DAE's denoising input).
    public var historyDropout: Float = 0
    /// Behaviour pooling: leave each training row's positive out of its user's history, so the tower cannot find the
    /// label in its input. With a user-id embedding the tower can still learn the full history per user and read the
    /// held-out item off the difference (measured: validation NDCG fell 0.289 → 0.213 as the training loss dropped),
    /// so the default (nil) holds out exactly when `user_ids` is false.
    public var historyHoldout: Bool?
    /// Whether training rows hold their positive out of the history: `history_holdout`, else `!user_ids`.
    public var holdsOutHistoryPositive: Bool { historyHoldout ?? !userIds }
    /// SENet squeeze layer width: ⌈fields / senet_reduction⌉ units.
    public var senetReduction = 2
    /// Self-supervised auxiliary loss (Yao et al. 2021; two-tower): `none`, `user`, `item` or `both` towers, or `auto`
    /// (the item tower when it has side features, else none). Two masked views of uniformly drawn entities, InfoNCE
    /// between them, added to the main loss with weight `ssl_weight`.
    public var ssl = "none"
    /// How the two views are made: `fd` (feature dropout), `rfm` (random feature masking: complementary random halves),
    /// `cfm` (correlated feature masking: a seed field and its highest mutual-information fields vs the rest).
    public var sslAugmentation: FeatureAugmentation = .cfm
    /// Weight α of the self-supervised loss.
    public var sslWeight: Float = 0.1
    /// Temperature of the self-supervised InfoNCE.
    public var sslTemperature: Float = 0.2
    /// `fd`: probability of dropping each field in each view.
    public var sslDropRate: Float = 0.3
    /// Entities per self-supervised batch (0: `batch_size`).
    public var sslBatchSize = 0
    /// Train on this fraction of the training interactions (drawn with `split_seed`; validation and test unchanged;
    /// head/tail items still defined by the full training split): the sparse-data runs.
    public var trainFraction: Double = 1
    /// ConCAT (SwAV-style prototypes): K learnable prototypes shared by both towers (0: off). Sinkhorn-Knopp gives each
    /// user and item a balanced soft assignment; the user predicts its positive item's assignment and vice versa.
    public var prototypes = 0
    /// ConCAT: weight β of the swapped-prediction loss.
    public var prototypeWeight: Float = 0.1
    /// ConCAT: temperature of the prototype softmax.
    public var prototypeTemperature: Float = 0.1
    /// ConCAT: Sinkhorn-Knopp's entropy ε (smaller: harder assignments).
    public var sinkhornEpsilon: Float = 0.05
    /// ConCAT: Sinkhorn-Knopp iterations (SwAV uses 3).
    public var sinkhornIterations = 3
    /// Use side features when the dataset has them (two-tower).
    public var useFeatures = true
    /// The user tower embeds the user id (two-tower). False makes the user a function of its features and history
    /// only, like YouTube DNN's: every user, seen in training or not, is embedded the same way.
    public var userIds = true
    public var dropout: Float = 0
    public var similarity: Similarity = .cosine
    public var temperature: Float = 0.1

    // Graph models (lightgcn, sgl, simgcl, xsimgcl)
    /// Propagation layers K.
    public var layers = 3
    /// L2 penalty on the batch's ego embeddings.
    public var graphReg: Float = 1e-4
    /// Weight λ of the contrastive view loss (sgl, simgcl, xsimgcl).
    public var clWeight: Float = 0.1
    /// Temperature of the contrastive view loss.
    public var clTemperature: Float = 0.2
    /// SimGCL/XSimGCL noise magnitude ε.
    public var noiseEps: Float = 0.1
    /// SGL augmentation: ed (edge dropout), nd (node dropout), rw (random walk: edge dropout per layer), am (attribute
    /// masking: node side features enter the ego embeddings and each view masks feature fields; needs features).
    public var augmentation = "ed"
    /// SGL dropout ratio ρ.
    public var dropRatio: Double = 0.1
    /// XSimGCL: the layer contrasted with the final embeddings.
    public var clLayer = 1

    // Objective
    public var loss: LossKind = .infonce
    /// Sampled negatives per positive for `bpr` and `bce`.
    public var negatives = 1
    /// Negatives of the InfoNCE softmax: `in_batch` (the batch's other positives), `uniform` or `popularity`
    /// (`sampled_negatives` items drawn for the whole batch, uniformly or ∝ count^`popularity_alpha`), or both:
    /// `mixed` (= `in_batch+uniform`, Yang et al. 2020) and `in_batch+popularity`; `in_batch+logged` adds the batch
    /// users' logged negatives (see `logged_max_rating`).
    public var negativeSampling = "in_batch"
    /// Items drawn per batch for the `uniform` / `popularity` samplers (shared by every row of the batch).
    public var sampledNegatives = 256
    /// `in_batch+logged`: logged "shown but not clicked" negatives join the in-batch ones. A training row is a logged
    /// negative when its `label` column is 0, or, where the data has no labels, when its rating is at most
    /// `logged_max_rating` (ml-100k's proxy: ratings ≤ 2 read as shown-but-disliked; a proxy, not real impressions).
    /// Logged rows are not trained as positives; validation and test are unchanged.
    public var loggedMaxRating: Float = 2
    /// `in_batch+logged`: logged negatives per batch row (each row draws this many of its own user's logged items;
    /// they share the batch's softmax like every other column).
    public var loggedPerRow = 1
    /// Exponent of the popularity sampler: items drawn ∝ training count^α (word2vec's 0.75).
    public var popularityAlpha: Float = 0.75
    /// MoCo: item embeddings of the last `queue_size` positives, from a momentum copy of the item tower, join the
    /// in-batch negatives (0: off). Needs `loss: infonce`, `negative_sampling: in_batch` and a model with its own
    /// item tower (mf, two-tower).
    public var queueSize = 0
    /// MoCo: the momentum copy moves as `key ← m·key + (1 − m)·θ` after every step.
    public var momentum: Float = 0.99
    /// MoCo: also subtract log p(item) from the queued columns (the in-batch columns always get it with `logq`).
    /// Off by default: queued rows are constants, and correcting them cost 0.07 NDCG@20 on ml-100k.
    public var queueLogq = false
    /// MoCo: scale the item-side gradient of the in-batch negative columns by `(B + Q) / B`. Queued rows are constants,
    /// so the items they hold never get pushed away from users; the queue holds past positives (drawn like the batch),
    /// so this makes the item gradient an unbiased estimate of the full `(B + Q)`-negative loss's.
    public var queueCompensation = false
    /// Subtract log(item sampling probability) from in-batch logits.
    public var logq = true
    public var maskAccidentalHits = true

    // Optimisation
    public var optimizer: Optimizer.Kind = .adam
    public var learningRate: Float = 0.001
    public var weightDecay: Float = 0
    public var batchSize = 1024
    public var epochs = 100
    public var evalEvery = 1
    /// Evaluations without improvement of `valid_metric` before stopping.
    public var patience = 10
    public var validMetric = "ndcg@20"
    public var ks = [10, 20, 50]
    /// Worker threads (BLAS and our kernels); nil uses every core.
    public var threads: Int?

    // Outputs
    /// Model directory: best checkpoint (safetensors), resolved config and id maps.
    public var output: String?
    /// Results JSON path.
    public var results: String?

    public init() {}

    /// Tuned defaults per model (see docs/BENCHMARKS.md for the sweeps behind them).
    public static func defaults(for model: ModelKind) -> TrainConfig {
        var c = TrainConfig()
        c.model = model
        switch model {
        case .pop:
            break
        case .mf:
            // ml-100k sweep (docs/BENCHMARKS.md): τ 0.2–0.25 best on validation; logQ is essential for in-batch negatives.
            c.similarity = .cosine; c.temperature = 0.2; c.logq = true; c.learningRate = 0.01; c.batchSize = 1024
        case .twoTower:
            c.similarity = .cosine; c.temperature = 0.2; c.logq = true; c.learningRate = 0.01; c.batchSize = 1024
            c.hidden = []; c.fieldDim = 16
            // The self-supervised task on the item tower (CFM, α 0.1, τ 0.2) when it has features: the best lever over
            // 3 seeds on ml-100k, NDCG@20 0.3254 ± 0.0009 / Recall@20 0.3879 ± 0.0014 against 0.3233 ± 0.0017 / 0.3815 ±
            // 0.0012 without (docs/BENCHMARKS.md); `--ssl none` turns it off.
            c.ssl = "auto"
        case .lightgcn:
            // In-batch InfoNCE as for MF (cosine, τ 0.2, logQ, lr 0.01, batch 1024): ml-100k test NDCG@20 0.3252 ± 0.0015
            // over 3 seeds, against 0.2166 with the paper's BPR settings (docs/BENCHMARKS.md); 3 layers, L2 1e-4 as in the paper.
            c.loss = .infonce; c.similarity = .cosine; c.temperature = 0.2; c.logq = true; c.learningRate = 0.01; c.batchSize = 1024
            c.layers = 3; c.graphReg = 1e-4; c.clWeight = 0
        case .sgl, .simgcl:
            // LightGCN's in-batch InfoNCE main loss with a small view weight λ 0.01 (view τ 0.2), 3 seeds on ml-100k:
            // SimGCL (ε 0.1) NDCG@20 0.3308 ± 0.0012, SGL (edge dropout 0.1) 0.3251 ± 0.0020, against 0.3252 for
            // LightGCN (docs/BENCHMARKS.md). The papers' settings: `--loss bpr --similarity dot --temperature 1 --logq false
            // --learning-rate 0.001 --batch-size 2048` and λ 0.1 (SGL) / 0.5 (SimGCL).
            c.loss = .infonce; c.similarity = .cosine; c.temperature = 0.2; c.logq = true; c.learningRate = 0.01; c.batchSize = 1024
            c.layers = 3; c.graphReg = 1e-4; c.clWeight = 0.01; c.clTemperature = 0.2
            if model == .sgl { c.dropRatio = 0.1 } else { c.noiseEps = 0.1 }
        case .xsimgcl:
            // LightGCN's in-batch InfoNCE main loss with λ 0.01 and a small noise ε 0.05 (layer 1 against the last), 3 seeds
            // on ml-100k: NDCG@20 0.3259 ± 0.0022 against LightGCN's 0.3252 ± 0.0015 (docs/BENCHMARKS.md). The paper's
            // settings: `--loss bpr --similarity dot --temperature 1 --logq false --learning-rate 0.001 --batch-size 2048
            // --cl-weight 0.2 --noise-eps 0.2`.
            c.loss = .infonce; c.similarity = .cosine; c.temperature = 0.2; c.logq = true; c.learningRate = 0.01; c.batchSize = 1024
            c.layers = 3; c.graphReg = 1e-4
            c.clWeight = 0.01; c.clTemperature = 0.2; c.noiseEps = 0.05; c.clLayer = 1
        }
        return c
    }

    /// A named bundle of settings, so a user gets a lever's measured settings without knowing the numbers.
    public struct Preset: Sendable {
        public let summary: String
        public let settings: [String: String]
    }

    /// The presets by name; docs/BENCHMARKS.md has each one's single-seed ml-100k result next to the baseline.
    public static let presets: [String: Preset] = [
        "moco": Preset(summary: "two-tower, MoCo queue of 1,024 momentum-encoded positives (m 0.99) as extra negatives",
                       settings: ["model": "two-tower", "queue_size": "1024", "momentum": "0.99"]),
        "mixed": Preset(summary: "two-tower, mixed negative sampling: in-batch plus 256 uniform items per batch (Yang et al. 2020)",
                        settings: ["model": "two-tower", "negative_sampling": "mixed", "sampled_negatives": "256"]),
        "popularity-negatives": Preset(summary: "two-tower, in-batch plus 256 items drawn ∝ count^0.75 per batch",
                                       settings: ["model": "two-tower", "negative_sampling": "in_batch+popularity",
                                                  "sampled_negatives": "256", "popularity_alpha": "0.75"]),
        "logged": Preset(summary: "two-tower, in-batch plus each row's logged negatives (ml-100k proxy: ratings ≤ 2)",
                         settings: ["model": "two-tower", "negative_sampling": "in_batch+logged", "logged_max_rating": "2",
                                    "logged_per_row": "1"]),
        "simgcl-infonce": Preset(summary: "SimGCL with LightGCN's in-batch InfoNCE main loss and a small view weight (λ 0.01, ε 0.1)",
                                 settings: ["model": "simgcl", "loss": "infonce", "similarity": "cosine", "temperature": "0.2",
                                            "logq": "true", "learning_rate": "0.01", "batch_size": "1024",
                                            "cl_weight": "0.01", "noise_eps": "0.1"]),
        "sgl-infonce": Preset(summary: "SGL (edge dropout 0.1) with LightGCN's in-batch InfoNCE main loss and λ 0.01",
                              settings: ["model": "sgl", "loss": "infonce", "similarity": "cosine", "temperature": "0.2",
                                         "logq": "true", "learning_rate": "0.01", "batch_size": "1024",
                                         "cl_weight": "0.01", "drop_ratio": "0.1", "augmentation": "ed"]),
        "concat": Preset(summary: "two-tower with ConCAT: 64 prototypes, Sinkhorn-Knopp (ε 0.05, 3 iterations), swapped prediction β 0.1",
                         settings: ["model": "two-tower", "prototypes": "64", "prototype_weight": "0.1", "prototype_temperature": "0.1",
                                    "sinkhorn_epsilon": "0.05", "sinkhorn_iterations": "3"]),
        "ssl-cfm": Preset(summary: "two-tower with the self-supervised loss on the item tower, correlated feature masking (α 0.1, τ 0.2; the two-tower default)",
                          settings: ["model": "two-tower", "ssl": "item", "ssl_augmentation": "cfm", "ssl_weight": "0.1",
                                     "ssl_temperature": "0.2"]),
        "ssl-rfm": Preset(summary: "two-tower with the self-supervised loss on the item tower, random feature masking (α 0.1, τ 0.2)",
                          settings: ["model": "two-tower", "ssl": "item", "ssl_augmentation": "rfm", "ssl_weight": "0.1",
                                     "ssl_temperature": "0.2"]),
        "ssl-fd": Preset(summary: "two-tower with the self-supervised loss on the item tower, feature dropout 0.3 (α 0.1, τ 0.2)",
                         settings: ["model": "two-tower", "ssl": "item", "ssl_augmentation": "fd", "ssl_drop_rate": "0.3",
                                    "ssl_weight": "0.1", "ssl_temperature": "0.2"]),
        "senet": Preset(summary: "two-tower with SENet field re-weighting in the item tower",
                        settings: ["model": "two-tower", "senet": "item", "senet_reduction": "2"]),
        "history": Preset(summary: "two-tower whose user tower pools the user's last 20 training items",
                          settings: ["model": "two-tower", "history_length": "20"]),
        "paper-xsimgcl": Preset(summary: "XSimGCL with the paper's settings: BPR on the dot product, batch 2048, Adam lr 0.001, λ 0.2, ε 0.2",
                                settings: ["model": "xsimgcl", "loss": "bpr", "similarity": "dot", "temperature": "1", "logq": "false",
                                           "learning_rate": "0.001", "batch_size": "2048", "cl_weight": "0.2", "noise_eps": "0.2"]),
        "paper-lightgcn": Preset(summary: "LightGCN with the paper's settings: BPR on the dot product, batch 2048, Adam lr 0.001",
                                 settings: ["model": "lightgcn", "loss": "bpr", "similarity": "dot", "temperature": "1",
                                            "logq": "false", "learning_rate": "0.001", "batch_size": "2048"]),
    ]

    /// The valid keys, in snake_case as YAML and `--set` use them.
    public static var keys: [String] {
        Mirror(reflecting: TrainConfig()).children.compactMap { $0.label.map(snakeCase) }
    }

    /// `learningRate` → `learning_rate`: how config keys (and API field names) are spelled.
    public static func snakeCase(_ s: String) -> String {
        var out = ""
        for ch in s { if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) } }
        return out
    }
}

/// A config file or flag that cannot be used, with what would be valid.
public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

extension TrainConfig {
    /// Resolves a run's settings: model defaults, then the YAML file's keys, then flag overrides (raw strings,
    /// parsed as YAML scalars or lists). Unknown keys are errors listing the valid keys.
    public static func resolve(yaml: String? = nil, yamlFile: String = "config", overrides: [String: String] = [:]) throws -> TrainConfig {
        var values: [String: Any] = [:]
        if let yaml, !yaml.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            let loaded: Any?
            do { loaded = try Yams.load(yaml: yaml) } catch { throw ConfigError("\(yamlFile): not valid YAML: \(error)") }
            guard let map = loaded as? [String: Any] else { throw ConfigError("\(yamlFile): expected a mapping of key: value at the top level") }
            values = map
        }
        for (k, raw) in overrides {
            values[k] = (try? Yams.load(yaml: raw)).flatMap { $0 } ?? raw
        }
        if let name = values["preset"] as? String {
            guard let preset = presets[name] else {
                throw ConfigError("unknown preset '\(name)'; presets are: \(presets.keys.sorted().joined(separator: ", "))")
            }
            for (k, v) in preset.settings where values[k] == nil { values[k] = (try? Yams.load(yaml: v)).flatMap { $0 } ?? v }
        }
        let valid = Set(keys)
        let unknown = values.keys.filter { !valid.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw ConfigError("unknown config key\(unknown.count > 1 ? "s" : "") \(unknown.map { "'\($0)'" }.joined(separator: ", ")); valid keys are: \(keys.joined(separator: ", "))")
        }
        let modelName = (values["model"] as? String) ?? ModelKind.mf.rawValue
        guard let model = ModelKind(rawValue: modelName) else {
            throw ConfigError("unknown model '\(modelName)'; choose one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        // Merge over the model's defaults through JSON, so every value is type-checked by Codable.
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        var merged = try JSONSerialization.jsonObject(with: encoder.encode(defaults(for: model))) as! [String: Any]
        for (k, v) in values { merged[k] = v is NSNull ? nil : v }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let config: TrainConfig
        do {
            config = try decoder.decode(TrainConfig.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch let DecodingError.typeMismatch(type, ctx), let DecodingError.valueNotFound(type, ctx) {
            throw ConfigError("config key '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))': expected \(type), got '\(ctx.codingPath.first.flatMap { merged[$0.stringValue] } ?? "null")'")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw ConfigError("config key '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))': \(ctx.debugDescription)")
        }
        try config.validate()
        return config
    }

    /// Range checks that Codable cannot express.
    public func validate() throws {
        func need(_ ok: Bool, _ msg: String) throws { if !ok { throw ConfigError(msg) } }
        try need(embeddingDim > 0, "embedding_dim must be positive")
        try need(temperature > 0, "temperature must be positive")
        try need(batchSize > 1, "batch_size must be at least 2")
        try need(epochs >= 0, "epochs must not be negative")
        try need(learningRate > 0, "learning_rate must be positive")
        try need(dropout >= 0 && dropout < 1, "dropout must be in [0, 1)")
        try need(negatives > 0, "negatives must be positive")
        try need(!ks.isEmpty && ks.allSatisfy { $0 > 0 }, "ks must be positive integers")
        try need(evalEvery > 0 && patience > 0, "eval_every and patience must be positive")
        let (metric, k) = try parsedValidMetric()
        try need(ks.contains(k), "valid_metric \(metric)@\(k) needs \(k) in ks \(ks)")
        let presplit = [train, valid, test].compactMap { $0 }.count
        try need(presplit == 0 || presplit == 3, "give all three of train, valid and test, or none")
        try need(presplit == 3 || dataset != nil, "give a dataset, or train/valid/test files")
        try need(["ed", "nd", "rw", "am"].contains(augmentation), "augmentation '\(augmentation)' is not ed, nd, rw or am")
        try need(layers >= 1 && clLayer >= 1 && clLayer <= layers, "layers must be ≥ 1 and cl_layer in 1…layers")
        try need(dropRatio >= 0 && dropRatio < 1, "drop_ratio must be in [0, 1)")
        try need(NegativeSampling(parsing: negativeSampling) != nil,
                 "negative_sampling '\(negativeSampling)' is not in_batch, uniform, popularity, mixed, in_batch+popularity or in_batch+logged")
        try need(loggedPerRow >= 1, "logged_per_row must be ≥ 1")
        try need(historyLength >= 0, "history_length must be ≥ 0")
        try need(historyDropout >= 0 && historyDropout < 1, "history_dropout must be in [0, 1)")
        try need(["none", "user", "item", "both"].contains(senet) && senetReduction >= 1,
                 "senet must be none, user, item or both, and senet_reduction ≥ 1")
        try need(!(NegativeSampling(parsing: negativeSampling)?.logged ?? false) || (loss == .infonce && !model.isGraph),
                 "negative_sampling in_batch+logged needs loss infonce and mf or two-tower (a graph would keep the logged rows as edges)")
        try need(sampledNegatives > 0 && popularityAlpha >= 0, "sampled_negatives must be positive and popularity_alpha ≥ 0")
        try need(queueSize >= 0 && momentum >= 0 && momentum < 1, "queue_size must be ≥ 0 and momentum in [0, 1)")
        try need(queueSize == 0 || (loss == .infonce && negativeSampling == "in_batch" && !model.isGraph),
                 "queue_size needs loss infonce, negative_sampling in_batch and a model with its own item tower (mf, two-tower)")
        try need(["none", "auto", "user", "item", "both"].contains(ssl), "ssl must be none, auto, user, item or both")
        try need(ssl == "none" || model == .twoTower, "ssl needs model two-tower (it masks a tower's feature fields)")
        try need(sslWeight >= 0 && sslTemperature > 0 && sslDropRate >= 0 && sslDropRate < 1 && sslBatchSize >= 0,
                 "ssl_weight must be ≥ 0, ssl_temperature > 0, ssl_drop_rate in [0, 1) and ssl_batch_size ≥ 0")
        try need(trainFraction > 0 && trainFraction <= 1, "train_fraction must be in (0, 1]")
        try need(prototypes >= 0 && prototypeWeight >= 0 && prototypeTemperature > 0 && sinkhornEpsilon > 0 && sinkhornIterations >= 1,
                 "prototypes must be ≥ 0, prototype_weight ≥ 0, prototype_temperature and sinkhorn_epsilon > 0, sinkhorn_iterations ≥ 1")
        try need(SplitMethod(parsing: split) != nil, "split '\(split)' is not random[:a,b,c], temporal[:a,b,c] or loo")
    }

    public var parsedNegativeSampling: NegativeSampling { NegativeSampling(parsing: negativeSampling)! }

    func parsedValidMetric() throws -> (String, Int) {
        let parts = validMetric.split(separator: "@")
        guard parts.count == 2, let k = Int(parts[1]), ["recall", "ndcg", "mrr", "hit", "precision"].contains(String(parts[0])) else {
            throw ConfigError("valid_metric '\(validMetric)' is not of the form name@K (recall, ndcg, mrr, hit, precision)")
        }
        return (String(parts[0]), k)
    }
}

/// Where the InfoNCE softmax's negatives come from: the batch's own positives, and/or items drawn for the batch.
public struct NegativeSampling: Equatable, Sendable {
    public enum Sampler: String, Sendable { case uniform, popularity }
    public var inBatch: Bool
    public var sampler: Sampler?
    /// Logged "shown but not clicked" negatives of the batch's users (`in_batch+logged`).
    public var logged: Bool

    /// `in_batch`, `uniform`, `popularity`, `mixed` (= `in_batch+uniform`), `in_batch+popularity`, `in_batch+logged`.
    public init?(parsing text: String) {
        var parts = Set((text == "mixed" ? "in_batch+uniform" : text).split(separator: "+").map(String.init))
        logged = parts.remove("logged") != nil
        inBatch = parts.contains("in_batch")
        if logged && (!inBatch || parts.count > 1) { return nil }  // logged negatives are mixed with in-batch ones only
        let samplers = parts.subtracting(["in_batch"])
        guard samplers.count <= 1, inBatch || !samplers.isEmpty else { return nil }
        if let name = samplers.first {
            guard let s = Sampler(rawValue: name) else { return nil }
            sampler = s
        } else {
            sampler = nil
        }
    }
}
