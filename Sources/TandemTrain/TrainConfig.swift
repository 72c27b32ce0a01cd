import Foundation
import Yams
import TandemAutograd
import TandemData
import TandemModels

/// A typed change to a config: what presets, the CLI's flags and the claims report's sweeps are made of (strings stay
/// at the YAML / command-line boundary).
public typealias ConfigEdit = @Sendable (inout TrainConfig) -> Void

/// A run's settings as a typed edit of a model's defaults: a sweep point, a claim's arm.
public struct RunSettings: Sendable {
    public var model: ModelKind
    public var edit: ConfigEdit
    public init(_ model: ModelKind, _ edit: @escaping ConfigEdit = { _ in }) { self.model = model; self.edit = edit }

    /// These settings, then `more`.
    public func then(_ more: @escaping ConfigEdit) -> RunSettings {
        let first = edit
        return RunSettings(model) { first(&$0); more(&$0) }
    }

    /// The config: the model's defaults, this edit, then `more`, validated.
    public func config(_ more: (inout TrainConfig) -> Void = { _ in }) throws -> TrainConfig {
        try TrainConfig.resolve(model: model) { edit(&$0); more(&$0) }
    }
}

/// Every setting of a training run, in parts with one job each. YAML keys and CLI flags are flat: the snake_case /
/// kebab-case of each part's property names (`learning_rate`, `--learning-rate`), as `TrainConfig.keys` lists them.
/// Defaults depend on the model (`TrainConfig.defaults(for:)`): `--model mf` alone gets the tuned settings.
public struct TrainConfig: Equatable, Sendable {
    /// The model to train (docs/ARCHITECTURE.md lists them with their papers).
    public var model: ModelKind = .mf
    /// A named bundle of settings (TrainConfig.presets): moco, mixed, popularity-negatives, logged, concat, ssl-cfm,
    /// ssl-rfm, ssl-fd, senet, history, simgcl-infonce, sgl-infonce, paper-lightgcn, paper-xsimgcl. The preset's values
    /// sit under the config file's and the flags' own, which still win.
    public var preset: String? = nil
    /// Seeds the split, the initialisation and the batch order.
    public var seed: UInt64 = 2020
    /// Size d of the user and item embeddings.
    public var embeddingDim: Int = 64

    public var data = DataSettings()
    public var objective = ObjectiveSettings()
    public var moco = MoCoSettings()
    public var concat = ConcatSettings()
    public var twoTower = TwoTowerConfig()
    public var graph = GraphConfig()
    public var ease = EASEConfig()
    public var itemKNN = ItemKNNConfig()
    public var ials = IALSConfig()
    public var elsa = ELSAConfig()
    public var sparseEase = SparseEASEConfig()
    public var training = TrainingSettings()
    public var evaluation = EvaluationSettings()
    public var outputs = OutputSettings()

    public init() {}

    /// Tuned defaults per model: `TrainConfig()` with the kind's own settings (`ModelDescriptor.defaults`).
    public static func defaults(for model: ModelKind) -> TrainConfig {
        var c = TrainConfig()
        c.model = model
        model.descriptor.defaults(&c)
        return c
    }

    /// A named bundle of settings, so a user gets a lever's measured settings without knowing the numbers: a typed
    /// edit of the model's defaults, under the config file's and the flags' own values.
    public struct Preset: Sendable {
        public let summary: String
        /// The model it is for, used when the run names none.
        public let model: ModelKind
        public let edit: ConfigEdit
        public init(_ summary: String, model: ModelKind, edit: @escaping ConfigEdit) { self.summary = summary; self.model = model; self.edit = edit }
    }

    /// The presets by name; docs/BENCHMARKS.md has each one's single-seed ml-100k result next to the baseline.
    public static let presets: [String: Preset] = [
        "moco": Preset("two-tower, MoCo queue of 1,024 momentum-encoded positives (m 0.99) as extra negatives", model: .twoTower) {
            $0.moco.queueSize = 1024; $0.moco.momentum = 0.99
        },
        "mixed": Preset("two-tower, mixed negative sampling: in-batch plus 256 uniform items per batch (Yang et al. 2020)", model: .twoTower) {
            $0.objective.negativeSampling = .mixed; $0.objective.sampledNegatives = 256
        },
        "popularity-negatives": Preset("two-tower, in-batch plus 256 items drawn ∝ count^0.75 per batch", model: .twoTower) {
            $0.objective.negativeSampling = .inBatchPopularity; $0.objective.sampledNegatives = 256; $0.objective.popularityAlpha = 0.75
        },
        "logged": Preset("two-tower, in-batch plus each row's logged negatives (ml-100k proxy: ratings ≤ 2)", model: .twoTower) {
            $0.objective.negativeSampling = .inBatchLogged; $0.objective.loggedMaxRating = 2; $0.objective.loggedPerRow = 1
        },
        "simgcl-infonce": Preset("SimGCL with LightGCN's in-batch InfoNCE main loss and a small view weight (λ 0.01, ε 0.1)", model: .simgcl) {
            inBatchInfoNCE(&$0); $0.graph.clWeight = 0.01; $0.graph.noiseEps = 0.1
        },
        "sgl-infonce": Preset("SGL (edge dropout 0.1) with LightGCN's in-batch InfoNCE main loss and λ 0.01", model: .sgl) {
            inBatchInfoNCE(&$0); $0.graph.clWeight = 0.01; $0.graph.dropRatio = 0.1; $0.graph.augmentation = .ed
        },
        "concat": Preset("two-tower with ConCAT: 64 prototypes, Sinkhorn-Knopp (ε 0.05, 3 iterations), swapped prediction β 0.1", model: .twoTower) {
            $0.concat.prototypes = 64; $0.concat.prototypeWeight = 0.1; $0.concat.prototypeTemperature = 0.1
            $0.concat.sinkhornEpsilon = 0.05; $0.concat.sinkhornIterations = 3
        },
        "ssl-cfm": Preset("two-tower with the self-supervised loss on the item tower, correlated feature masking (α 0.1, τ 0.2; the two-tower default)",
                          model: .twoTower) { sslOnItems(&$0, .cfm) },
        "ssl-rfm": Preset("two-tower with the self-supervised loss on the item tower, random feature masking (α 0.1, τ 0.2)", model: .twoTower) {
            sslOnItems(&$0, .rfm)
        },
        "ssl-fd": Preset("two-tower with the self-supervised loss on the item tower, feature dropout 0.3 (α 0.1, τ 0.2)", model: .twoTower) {
            sslOnItems(&$0, .fd); $0.twoTower.sslDropRate = 0.3
        },
        "senet": Preset("two-tower with SENet field re-weighting in the item tower", model: .twoTower) {
            $0.twoTower.senet = .item; $0.twoTower.senetReduction = 2
        },
        "history": Preset("two-tower whose user tower pools the user's last 20 training items", model: .twoTower) { $0.twoTower.historyLength = 20 },
        "paper-xsimgcl": Preset("XSimGCL with the paper's settings: BPR on the dot product, batch 2048, Adam lr 0.001, λ 0.2, ε 0.2", model: .xsimgcl) {
            paperBPR(&$0); $0.graph.clWeight = 0.2; $0.graph.noiseEps = 0.2
        },
        "paper-lightgcn": Preset("LightGCN with the paper's settings: BPR on the dot product, batch 2048, Adam lr 0.001", model: .lightgcn) {
            paperBPR(&$0)
        },
    ]

    /// The tuned in-batch softmax (ml-100k sweep: τ 0.2–0.25 best on validation; logQ is essential for in-batch
    /// negatives): cosine, τ 0.2, logQ, lr 0.01, batch 1024.
    static func inBatchInfoNCE(_ c: inout TrainConfig) {
        c.objective.loss = .infonce; c.objective.similarity = .cosine; c.objective.temperature = 0.2; c.objective.logq = true
        c.training.learningRate = 0.01; c.training.batchSize = 1024
    }

    /// The graph papers' main loss: BPR on the dot product, batch 2048, Adam lr 0.001.
    static func paperBPR(_ c: inout TrainConfig) {
        c.objective.loss = .bpr; c.objective.similarity = .dot; c.objective.temperature = 1; c.objective.logq = false
        c.training.learningRate = 0.001; c.training.batchSize = 2048
    }

    /// The self-supervised loss on the item tower with `augmentation` (α 0.1, τ 0.2).
    static func sslOnItems(_ c: inout TrainConfig, _ augmentation: FeatureAugmentation) {
        c.twoTower.ssl = .item; c.twoTower.sslAugmentation = augmentation; c.twoTower.sslWeight = 0.1; c.twoTower.sslTemperature = 0.2
    }

    /// The valid keys, in snake_case as YAML and flags use them, part by part.
    public static var keys: [String] {
        let c = TrainConfig()
        return ["model", "preset", "seed", "embedding_dim"]
            + parts.flatMap { Mirror(reflecting: $0.value(c)).children.compactMap { $0.label.map(snakeCase) } }
    }

    /// One part of the settings: where it sits in `TrainConfig`, the file that declares its type, and its heading in
    /// `tandem train --help`.
    struct Part: Sendable {
        let heading: String
        let file: String
        let value: @Sendable (TrainConfig) -> Any
        let decode: @Sendable (Decoder, inout TrainConfig) throws -> Void
        let encode: @Sendable (TrainConfig, Encoder) throws -> Void

        init<P: Codable & Sendable>(_ path: WritableKeyPath<TrainConfig, P> & Sendable, _ type: P.Type, _ heading: String, file: String) {
            self.heading = heading; self.file = file
            value = { $0[keyPath: path] }
            decode = { d, c in c[keyPath: path] = try decodeFillingDefaults(P.self, from: d, defaults: c[keyPath: path]) }
            encode = { c, e in try c[keyPath: path].encode(to: e) }
        }
    }

    /// The parts, in the order of `--help`'s sections: the one list of them. scripts/gen_flags.py reads these lines (one
    /// `Part(…)` a line) to write the typed flags.
    static let parts: [Part] = [
        Part(\.data, DataSettings.self, "Data", file: "Sources/TandemTrain/Settings.swift"),
        Part(\.objective, ObjectiveSettings.self, "Objective and negatives", file: "Sources/TandemTrain/Settings.swift"),
        Part(\.moco, MoCoSettings.self, "MoCo queue", file: "Sources/TandemTrain/Settings.swift"),
        Part(\.concat, ConcatSettings.self, "ConCAT prototypes", file: "Sources/TandemTrain/Settings.swift"),
        Part(\.twoTower, TwoTowerConfig.self, "Two-tower", file: "Sources/TandemModels/Models/TwoTower.swift"),
        Part(\.graph, GraphConfig.self, "Graph models", file: "Sources/TandemModels/Models/GraphPropagation.swift"),
        Part(\.ease, EASEConfig.self, "EASE", file: "Sources/TandemModels/Models/EASE.swift"),
        Part(\.itemKNN, ItemKNNConfig.self, "ItemKNN", file: "Sources/TandemModels/Models/ItemKNN.swift"),
        Part(\.ials, IALSConfig.self, "iALS", file: "Sources/TandemModels/Models/IALS.swift"),
        Part(\.elsa, ELSAConfig.self, "ELSA", file: "Sources/TandemModels/Models/ELSA.swift"),
        Part(\.sparseEase, SparseEASEConfig.self, "Sparse EASE", file: "Sources/TandemModels/Models/SparseEASE.swift"),
        Part(\.training, TrainingSettings.self, "Optimisation", file: "Sources/TandemTrain/Settings.swift"),
        Part(\.evaluation, EvaluationSettings.self, "Evaluation", file: "Sources/TandemTrain/Settings.swift"),
        Part(\.outputs, OutputSettings.self, "Outputs", file: "Sources/TandemTrain/Settings.swift"),
    ]

    /// `learningRate` → `learning_rate`: how config keys (and API field names) are spelled.
    public static func snakeCase(_ s: String) -> String {
        var out = ""
        for ch in s { if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) } }
        return out
    }

    /// The choices of each key that takes one of a fixed set of names (for error messages).
    static let choices: [String: [String]] = [
        "model": ModelKind.allCases.map(\.rawValue), "similarity": Similarity.allCases.map(\.rawValue),
        "loss": LossKind.allCases.map(\.rawValue), "negative_sampling": NegativeSampling.allCases.map(\.rawValue),
        "optimizer": Optimizer.Kind.allCases.map(\.rawValue), "senet": TowerSelection.allCases.map(\.rawValue),
        "ssl": SSLSelection.allCases.map(\.rawValue), "ssl_augmentation": FeatureAugmentation.allCases.map(\.rawValue),
        "augmentation": SGLAugmentation.allCases.map(\.rawValue), "ials_solver": IALSSolver.allCases.map(\.rawValue),
        "sparse_ease_gram": SparseEASEGram.allCases.map(\.rawValue), "user_ssl_views": UserSSLViews.allCases.map(\.rawValue),
        "feature_towers": TowerSelection.allCases.map(\.rawValue), "hard_negative_mining": HardNegativeMining.allCases.map(\.rawValue),
    ]
}

// The parts read and write one flat map: each part decodes its own keys from the same container.
extension TrainConfig: Codable {
    private enum CodingKeys: String, CodingKey { case model, preset, seed, embeddingDim }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(ModelKind.self, forKey: .model)
        preset = try c.decodeIfPresent(String.self, forKey: .preset)
        seed = try c.decode(UInt64.self, forKey: .seed)
        embeddingDim = try c.decode(Int.self, forKey: .embeddingDim)
        for part in Self.parts { try part.decode(decoder, &self) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encodeIfPresent(preset, forKey: .preset)
        try c.encode(seed, forKey: .seed)
        try c.encode(embeddingDim, forKey: .embeddingDim)
        for part in Self.parts { try part.encode(self, encoder) }
    }
}

extension TrainConfig {
    /// Resolves a run's settings: the model's defaults, then its preset's edit, then the YAML file's keys and the text
    /// overrides (parsed as YAML scalars or lists: the text boundary), then `edit` (typed: the CLI's flags, a sweep's
    /// settings), then `validate`. The model is `model`, else the YAML's or the overrides' `model`, else the preset's,
    /// else mf. Unknown keys are errors listing the valid keys.
    public static func resolve(yaml: String? = nil, yamlFile: String = "config", overrides: [String: String] = [:],
                               model: ModelKind? = nil, preset: String? = nil, edit: (inout TrainConfig) -> Void = { _ in }) throws -> TrainConfig {
        var values = try textValues(yaml: yaml, yamlFile: yamlFile, overrides: overrides)
        let presetName = preset ?? (values["preset"] as? String)
        if preset != nil { values["preset"] = nil }
        let found = try presetName.map { name -> Preset in
            guard let p = presets[name] else {
                throw ConfigError("unknown preset '\(name)'; presets are: \(presets.keys.sorted().joined(separator: ", "))")
            }
            return p
        }
        let kind: ModelKind
        if let model { kind = model } else if let named = values["model"].map({ "\($0)" }) {
            guard let k = ModelKind(rawValue: named) else {
                throw ConfigError("model '\(named)' is not one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            kind = k
        } else {
            kind = found?.model ?? .mf
        }
        var config = defaults(for: kind)
        found?.edit(&config)
        config.preset = presetName
        config = try overlay(values, on: config)
        edit(&config)
        config.model = model ?? config.model
        try config.validate()
        return config
    }

    /// The YAML file's keys and the text overrides (which win), each value parsed as a YAML scalar or list.
    static func textValues(yaml: String?, yamlFile: String, overrides: [String: String]) throws -> [String: Any] {
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
        let valid = Set(keys)
        let unknown = values.keys.filter { !valid.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw ConfigError("unknown config key\(unknown.count > 1 ? "s" : "") \(unknown.map { "'\($0)'" }.joined(separator: ", ")); valid keys are: \(keys.joined(separator: ", "))")
        }
        return values
    }

    /// `config` with the keys of `values` set, through its JSON form so that every value is type-checked by Codable.
    static func overlay(_ values: [String: Any], on config: TrainConfig) throws -> TrainConfig {
        if values.isEmpty { return config }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        var merged = try JSONSerialization.jsonObject(with: encoder.encode(config)) as! [String: Any]
        for (k, v) in values { merged[k] = v is NSNull ? nil : v }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.userInfo[everyKeyRequired] = true  // a key set to null here is an error, not a default
        func describe(_ ctx: DecodingError.Context) -> (key: String, got: String) {
            let key = ctx.codingPath.first.map { snakeCase($0.stringValue) } ?? "?"
            return (key, merged[key].map { "\($0)" } ?? "null")
        }
        do {
            return try decoder.decode(TrainConfig.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch let DecodingError.typeMismatch(type, ctx), let DecodingError.valueNotFound(type, ctx) {
            let (key, got) = describe(ctx)
            let expected = choices[key].map { "one of \($0.joined(separator: ", "))" } ?? Self.typeName(type)
            throw ConfigError("config key '\(key)': expected \(expected), got '\(got)'")
        } catch let DecodingError.keyNotFound(codingKey, _) {
            throw ConfigError("config key '\(snakeCase(codingKey.stringValue))' cannot be null: give it a value or leave it out")
        } catch let DecodingError.dataCorrupted(ctx) {
            let (key, got) = describe(ctx)
            if let options = choices[key] {
                throw ConfigError("config key '\(key)': '\(got)' is not one of \(options.joined(separator: ", "))")
            }
            throw ConfigError("config key '\(key)': \(ctx.debugDescription)")
        }
    }

    /// A type as a person would name it in a config file.
    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Float.Type, is Double.Type: return "a number"
        case is Int.Type, is UInt64.Type: return "an integer"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        case is [Int].Type, is [Any].Type, is Array<Any>.Type: return "a list of integers"
        default: return "\(type)"
        }
    }

    /// Range checks and combinations that Codable cannot express.
    public func validate() throws {
        func need(_ ok: Bool, _ msg: String) throws { if !ok { throw ConfigError(msg) } }
        let o = objective, t = training, e = evaluation, d = data, tt = twoTower, g = graph
        try need(embeddingDim > 0, "embedding_dim must be positive")
        try need(o.temperature > 0, "temperature must be positive")
        try need(t.batchSize > 1, "batch_size must be at least 2")
        try need(t.epochs >= 0, "epochs must not be negative")
        try need(t.learningRate > 0, "learning_rate must be positive")
        try need(t.threads.map { $0 > 0 } ?? true, "threads must be positive")
        try need(tt.dropout >= 0 && tt.dropout < 1, "dropout must be in [0, 1)")
        try need(o.negatives > 0, "negatives must be positive")
        try need(!e.ks.isEmpty && e.ks.allSatisfy { $0 > 0 }, "ks must be positive integers")
        try need(e.evalEvery > 0 && e.patience > 0, "eval_every and patience must be positive")
        try need(e.evalUsers >= 0, "eval_users must be ≥ 0 (0: every user)")
        try need(outputs.checkpointEvery > 0 && outputs.checkpointMinutes >= 0, "checkpoint_every must be positive and checkpoint_minutes ≥ 0")
        try need(e.ks.contains(e.validMetric.k),
                 "valid_metric \(e.validMetric) needs \(e.validMetric.k) in ks \(e.ks.map(String.init).joined(separator: ","))")
        let presplit = [d.train, d.valid, d.test].compactMap { $0 }.count
        try need(presplit == 0 || presplit == 3, "give all three of train, valid and test, or none")
        try need(presplit == 3 || d.dataset != nil, "give a dataset, or train/valid/test files")
        try need(g.layers >= 1 && g.clLayer >= 1 && g.clLayer <= g.layers, "layers must be ≥ 1 and cl_layer in 1…layers")
        try need(g.dropRatio >= 0 && g.dropRatio < 1, "drop_ratio must be in [0, 1)")
        try need(o.loggedPerRow >= 1, "logged_per_row must be ≥ 1")
        try need(tt.historyLength >= 0, "history_length must be ≥ 0")
        try need(tt.historyDropout >= 0 && tt.historyDropout < 1, "history_dropout must be in [0, 1)")
        try need(tt.historyCrop > 0 && tt.historyCrop <= 1 && tt.historyMask >= 0 && tt.historyMask < 1,
                 "history_crop must be in (0, 1] and history_mask in [0, 1)")
        try need(tt.userSslViews == .fields || !tt.ssl.user || tt.historyLength > 0,
                 "user_ssl_views history varies the behaviour history: it needs history_length > 0")
        try need(tt.senetReduction >= 1, "senet_reduction must be ≥ 1")
        try need(o.hardNegatives >= 0 && o.hardNegativeCandidates >= 1 && o.hardNegativeRefresh >= 0,
                 "hard_negatives must be ≥ 0, hard_negative_candidates ≥ 1 and hard_negative_refresh ≥ 0")
        try need(o.hardNegativeRanks.count == 2 && o.hardNegativeRanks[0] >= 1 && o.hardNegativeRanks[0] <= o.hardNegativeRanks[1],
                 "hard_negative_ranks must be two ranks, first ≤ last, from 1 (e.g. 101,500)")
        try need(o.itemConstraintWeight >= 0 && o.itemConstraintNeighbours >= 1, "item_constraint_weight must be ≥ 0 and item_constraint_neighbours ≥ 1")
        try need(o.hardNegatives == 0 || moco.queueSize == 0, "hard_negatives and queue_size cannot be combined")
        try need(o.sampledNegatives > 0 && o.popularityAlpha >= 0, "sampled_negatives must be positive and popularity_alpha ≥ 0")
        try need(moco.queueSize >= 0 && moco.momentum >= 0 && moco.momentum < 1, "queue_size must be ≥ 0 and momentum in [0, 1)")
        // Every sampler the config asks for, with what it needs (the sampler table).
        if let unmet = SamplerRegistry.unmetNeed(self) { throw ConfigError(unmet) }
        try need(tt.ssl == .none || model == .twoTower, "ssl needs model two-tower (it masks a tower's feature fields)")
        try need(tt.sslWeight >= 0 && tt.sslTemperature > 0 && tt.sslDropRate >= 0 && tt.sslDropRate < 1 && tt.sslBatchSize >= 0,
                 "ssl_weight must be ≥ 0, ssl_temperature > 0, ssl_drop_rate in [0, 1) and ssl_batch_size ≥ 0")
        try need(d.trainFraction > 0 && d.trainFraction <= 1, "train_fraction must be in (0, 1]")
        try need(o.loss != .directau || (o.similarity == .cosine && o.uniformityWeight >= 0),
                 "loss directau needs similarity cosine (its uniformity is over the unit sphere) and uniformity_weight ≥ 0")
        try need(o.loss != .alignment || o.similarity == .cosine,
                 "loss alignment needs similarity cosine: with no negatives, dot-product scores grow without bound")
        try need(d.coldItems >= 0 && d.coldItems < 1, "cold_items must be in [0, 1): the fraction of items held out for cold start")
        try need((d.userCore ?? 0) >= 0 && (d.itemCore ?? 0) >= 0, "user_core and item_core must be ≥ 0")
        try need(concat.prototypes >= 0 && concat.prototypeWeight >= 0 && concat.prototypeTemperature > 0 && concat.sinkhornEpsilon > 0
                    && concat.sinkhornIterations >= 1,
                 "prototypes must be ≥ 0, prototype_weight ≥ 0, prototype_temperature and sinkhorn_epsilon > 0, sinkhorn_iterations ≥ 1")
    }
}

extension TrainConfig {
    /// A key's default as `--help` shows it: `TrainConfig()`'s value, and the models whose tuned defaults differ
    /// (`default 0.1; mf, two-tower: 0.2`); empty for a key that is unset by default for every model.
    public static func defaultHelp(_ key: String) -> String {
        let base = DefaultValues.base[key] ?? nil
        var differing: [String: [String]] = [:], order: [String] = []
        for (kind, values) in DefaultValues.byModel {
            let v = values[key] ?? nil
            guard v != base, let v else { continue }
            if differing[v] == nil { order.append(v) }
            differing[v, default: []].append(kind)
        }
        let others = order.map { "\(differing[$0]!.joined(separator: ", ")): \($0)" }
        return ([base.map { "default \($0)" } ?? (others.isEmpty ? nil : "default unset")] + others).compactMap { $0 }.joined(separator: "; ")
    }
}

/// Every key's default as text, for `TrainConfig.defaultHelp`: computed once.
private enum DefaultValues {
    static let base: [String: String?] = text(TrainConfig())
    static let byModel: [(String, [String: String?])] = ModelKind.allCases.map { ($0.rawValue, text(TrainConfig.defaults(for: $0))) }

    static func text(_ c: TrainConfig) -> [String: String?] {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? e.encode(c), let map = try? JSONDecoder().decode([String: Value].self, from: data) else { return [:] }
        var out = map.mapValues { $0.text.map { $0.isEmpty ? "none" : $0 } }
        out["model"] = nil  // the model picks the defaults: it has none of its own
        return out
    }

    /// A JSON value as a flag's text (lists comma-separated, whole numbers without a fraction); nil for null.
    struct Value: Decodable {
        let text: String?
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { text = nil } else if let b = try? c.decode(Bool.self) { text = b ? "true" : "false" } else if let n = try? c.decode(Double.self) {
                text = n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : "\(n)"
            } else if let list = try? c.decode([Value].self) { text = list.map { $0.text ?? "" }.joined(separator: ",") } else {
                text = try c.decode(String.self)
            }
        }
    }
}

/// Decodes a settings part whose keys may be missing: a config written before a key existed (a model directory, a
/// checkpoint, a claims run) takes that key's default (`defaults`', TrainConfig()'s) instead of failing to load. The
/// keys present are read as raw JSON values and laid over `defaults`' own encoding, and the part is decoded from that.
func decodeFillingDefaults<P: Codable>(_ type: P.Type, from decoder: Decoder, defaults: P) throws -> P {
    if decoder.userInfo[everyKeyRequired] as? Bool == true { return try P(from: decoder) }
    let present = try decoder.container(keyedBy: AnyCodingKey.self)
    let base = try JSONDecoder().decode([String: JSONValue].self, from: JSONEncoder().encode(defaults))
    var merged = base
    // Every key present (the flat map's other parts' keys too, which P ignores; optionals absent from the defaults).
    for key in present.allKeys { merged[key.stringValue] = try present.decode(JSONValue.self, forKey: key) }
    do {
        return try JSONDecoder().decode(P.self, from: JSONEncoder().encode(merged))
    } catch let DecodingError.dataCorrupted(context) {
        throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: decoder.codingPath + context.codingPath,
                                                                debugDescription: context.debugDescription))
    } catch let DecodingError.typeMismatch(t, context) {
        throw DecodingError.typeMismatch(t, DecodingError.Context(codingPath: decoder.codingPath + context.codingPath,
                                                                  debugDescription: context.debugDescription))
    }
}

/// Set to true in a decoder's `userInfo` to decode configs with every key required (`TrainConfig.overlay`, where every
/// key is present unless the user set it to null).
let everyKeyRequired = CodingUserInfoKey(rawValue: "tandem.everyKeyRequired")!

/// Any key, for reading whichever keys a container holds.
struct AnyCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int? = nil
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// A JSON value as it was written (integers kept exact), to move keys between encodings untouched.
enum JSONValue: Codable, Equatable {
    case null, bool(Bool), int(Int64), unsigned(UInt64), number(Double), string(String)
    case array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let u = try? c.decode(UInt64.self) { self = .unsigned(u) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .unsigned(let u): try c.encode(u)
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}
