import Foundation
import TandemAutograd
import TandemData
import TandemModels

// The parts of a run's settings, one job each. `TrainConfig` holds one of each and reads and writes them as one flat
// map, so YAML keys and CLI flags are the snake_case / kebab-case of the property names below. Every property has an
// explicit type and a doc comment: `scripts/gen_flags.py` reads both to write the CLI's typed flags and their help.

public enum Similarity: String, Codable, CaseIterable, Sendable { case dot, cosine }
public enum LossKind: String, Codable, CaseIterable, Sendable {
    case infonce, bpr, bce
    /// Alignment only: pull each user towards their positive with no negatives at all (−cos / τ; cosine similarity
    /// only). The collapse baseline of the claims report's C6, not a model to use.
    case alignment
    /// DirectAU (Wang et al. 2022): alignment plus uniformity_weight × the uniformity of the batch's users and of its
    /// items, with no negatives sampled (cosine similarity only; τ unused).
    case directau
}

/// Where the data comes from and how it is split.
public struct DataSettings: Codable, Equatable, Sendable {
    /// A known dataset (ml-100k, fetched into data_dir), synthetic[:users=N,items=N,interactions=N,clusters=N], or a
    /// directory holding NAME.inter [.user .item].
    public var dataset: String? = "ml-100k"
    /// Cache root for known datasets (default $TANDEM_DATA or ./data).
    public var dataDir: String? = nil
    /// Pre-split training file (TSV/CSV with user_id and item_id columns); with valid and test, replaces dataset and split.
    public var train: String? = nil
    /// Pre-split validation file (see train).
    public var valid: String? = nil
    /// Pre-split test file (see train).
    public var test: String? = nil
    /// User feature file for pre-split data (RecBole .user format).
    public var userFeatures: String? = nil
    /// Item feature file for pre-split data (RecBole .item format).
    public var itemFeatures: String? = nil
    /// random:0.8,0.1,0.1, temporal:0.8,0.1,0.1 or loo.
    public var split: SplitMethod = .randomRatio([0.8, 0.1, 0.1])
    /// Keep interactions rated at least this (unset: all interactions are positives).
    public var ratingThreshold: Float? = nil
    /// Keep users with at least this many interactions (k-core, applied with item_core until stable; 0: off; unset:
    /// the dataset's default, 10 for book-crossing when item_core is unset too, else 0).
    public var userCore: Int? = nil
    /// Keep items with at least this many interactions (k-core; 0: off; unset: the same rule as user_core's).
    public var itemCore: Int? = nil
    /// Seed of the split alone when different from seed (so several training seeds share one split).
    public var splitSeed: UInt64? = nil
    /// Train on this fraction of the training interactions (drawn with split_seed; validation and test unchanged;
    /// head/tail items still defined by the full training split): the sparse-data runs.
    public var trainFraction: Double = 1
    /// Use side features when the dataset has them (two-tower; sgl with augmentation am).
    public var useFeatures: Bool = true
    /// Item cold start: hold this fraction of items (drawn with split_seed) out of training and validation; every
    /// interaction with them is tested apart, ranking only those items (`…/cold_items` metrics), and the usual
    /// rankings leave them out. 0: off.
    public var coldItems: Double = 0

    public init() {}

    /// The feedback view of dataset `name`: a known dataset's default k-core applies only when neither core is set.
    public func feedback(dataset name: String) -> FeedbackOptions {
        let core = userCore == nil && itemCore == nil ? KnownDataset(rawValue: name)?.defaultCore ?? 0 : 0
        return FeedbackOptions(ratingThreshold: ratingThreshold, userCore: userCore ?? core, itemCore: itemCore ?? core)
    }
}

/// The main loss and where its negatives come from.
public struct ObjectiveSettings: Codable, Equatable, Sendable {
    /// Main loss: infonce (softmax over the batch's negatives), bpr or bce (sampled negatives per positive), directau
    /// (alignment + uniformity, no negatives), or alignment (no negatives: the collapse baseline).
    public var loss: LossKind = .infonce
    /// Score of a user and an item: dot product, or cosine (both L2-normalised).
    public var similarity: Similarity = .cosine
    /// Temperature τ dividing the scores in the loss.
    public var temperature: Float = 0.1
    /// Subtract log(item sampling probability) from in-batch logits (logQ correction).
    public var logq: Bool = true
    /// Mask in-batch columns holding the row's own positive item (accidental hits).
    public var maskAccidentalHits: Bool = true
    /// Sampled negatives per positive for bpr and bce.
    public var negatives: Int = 1
    /// Negatives of the InfoNCE softmax: in_batch (the batch's other positives), uniform or popularity
    /// (sampled_negatives items drawn for the whole batch, uniformly or ∝ count^popularity_alpha), or both: mixed
    /// (= in_batch+uniform, Yang et al. 2020) and in_batch+popularity; in_batch+logged adds the batch users' logged
    /// negatives (see logged_max_rating); all: the exact softmax over every item (no logQ).
    public var negativeSampling: NegativeSampling = .inBatch
    /// Items drawn per batch for the uniform / popularity samplers (shared by every row of the batch).
    public var sampledNegatives: Int = 256
    /// Exponent of the popularity sampler: items drawn ∝ training count^α (word2vec's 0.75).
    public var popularityAlpha: Float = 0.75
    /// in_batch+logged: a training row is a logged "shown but not clicked" negative when its label column is 0, or,
    /// where the data has no labels, when its rating is at most this (ml-100k's proxy: ratings ≤ 2). Logged rows are
    /// not trained as positives; validation and test are unchanged.
    public var loggedMaxRating: Float = 2
    /// in_batch+logged: logged negatives per batch row (each row draws this many of its own user's logged items; they
    /// share the batch's softmax like every other column).
    public var loggedPerRow: Int = 1
    /// DirectAU: weight γ of the uniformity term (the mean of the users' and the items' uniformity in the batch).
    public var uniformityWeight: Float = 1
    /// UltraGCN's item–item constraint: weight of the term pulling each user towards the items that co-occur most with
    /// its positive (0: off).
    public var itemConstraintWeight: Float = 0
    /// UltraGCN's item–item constraint: neighbours K kept per item.
    public var itemConstraintNeighbours: Int = 10
    /// Hard negatives mined per training row from the model's own current ranking, added to the in-batch (easy)
    /// negatives of the InfoNCE softmax (0: off). A user's own training items are never mined.
    public var hardNegatives: Int = 0
    /// How hard negatives are mined: ranks (drawn uniformly from ranks hard_negative_ranks of the user's ranking,
    /// Facebook EBR's semi-hard negatives) or dns (the highest-scoring of hard_negative_candidates uniform items,
    /// dynamic negative sampling).
    public var hardNegativeMining: HardNegativeMining = .ranks
    /// ranks mining: the first and last rank (1-based, both included) of the user's ranking, training items removed,
    /// that hard negatives are drawn from.
    public var hardNegativeRanks: [Int] = [101, 500]
    /// dns mining: uniform candidates scored per mined negative; the highest-scoring is kept.
    public var hardNegativeCandidates: Int = 32
    /// Training steps between refreshes of the model's ranking that negatives are mined from (ANCE's refresh);
    /// 0: once per epoch.
    public var hardNegativeRefresh: Int = 0

    public init() {}
}

/// How hard negatives are mined from the model's current ranking.
public enum HardNegativeMining: String, Codable, CaseIterable, Sendable {
    /// Uniformly from a band of ranks (EBR's semi-hard negatives, ranks 101–500).
    case ranks
    /// The highest-scoring of a few uniform candidates (Zhang et al. 2013, dynamic negative sampling).
    case dns
}

/// MoCo (He et al. 2020): a queue of momentum-encoded past positives as extra negatives.
public struct MoCoSettings: Codable, Equatable, Sendable {
    /// MoCo: item embeddings of the last queue_size positives, from a momentum copy of the item tower, join the
    /// in-batch negatives (0: off). Needs loss infonce, negative_sampling in_batch and mf or two-tower.
    public var queueSize: Int = 0
    /// MoCo: the momentum copy moves as key ← m·key + (1 − m)·θ after every step.
    public var momentum: Float = 0.99
    /// MoCo: also subtract log p(item) from the queued columns (off: correcting them cost 0.07 NDCG@20 on ml-100k).
    public var queueLogq: Bool = false
    /// MoCo: scale the item-side gradient of the in-batch negative columns by (B + Q) / B, so the item gradient
    /// estimates the full (B + Q)-negative loss's (queued rows are constants).
    public var queueCompensation: Bool = false

    public init() {}
}

/// ConCAT (SwAV-style prototypes shared by both towers, swapped prediction).
public struct ConcatSettings: Codable, Equatable, Sendable {
    /// ConCAT: K learnable prototypes shared by both towers (0: off). Sinkhorn-Knopp gives each user and item a
    /// balanced soft assignment; the user predicts its positive item's assignment and vice versa.
    public var prototypes: Int = 0
    /// ConCAT: weight β of the swapped-prediction loss.
    public var prototypeWeight: Float = 0.1
    /// ConCAT: temperature of the prototype softmax.
    public var prototypeTemperature: Float = 0.1
    /// ConCAT: Sinkhorn-Knopp's entropy ε (smaller: harder assignments).
    public var sinkhornEpsilon: Float = 0.05
    /// ConCAT: Sinkhorn-Knopp iterations (SwAV uses 3).
    public var sinkhornIterations: Int = 3

    public init() {}
}

/// The optimiser and the training loop.
public struct TrainingSettings: Codable, Equatable, Sendable {
    /// adam, adamw, adagrad or sgd (embedding tables get lazy sparse updates).
    public var optimizer: Optimizer.Kind = .adam
    /// Step size of the optimiser.
    public var learningRate: Float = 0.001
    /// Weight decay (decoupled for adamw, L2 otherwise).
    public var weightDecay: Float = 0
    /// Training rows per batch (the in-batch softmax has batch_size − 1 negatives per row).
    public var batchSize: Int = 1024
    /// Most training epochs (early stopping may end sooner; 0: evaluate the initialised model).
    public var epochs: Int = 100
    /// Worker threads (BLAS and our kernels); unset uses every core.
    public var threads: Int? = nil
    /// Under data parallelism (several ranks), whether each row's in-batch softmax has the whole global batch's
    /// positives as columns, gathered from every rank (unset: on), or only its own rank's share (cross-replica vs
    /// per-replica negatives). One process always has the whole batch.
    public var gatherNegatives: Bool? = nil

    public init() {}
}

/// Validation during training and the metrics reported.
public struct EvaluationSettings: Codable, Equatable, Sendable {
    /// Evaluate on validation every this many epochs.
    public var evalEvery: Int = 1
    /// Evaluations without improvement of valid_metric before stopping.
    public var patience: Int = 10
    /// The validation metric that picks the best epoch: recall, ndcg, mrr, hit or precision @K (K one of ks).
    public var validMetric: MetricAtK = MetricAtK(.ndcg, 20)
    /// Cut-offs K of the reported metrics, e.g. 10,20,50.
    public var ks: [Int] = [10, 20, 50]
    /// Score a seeded random sample of this many users with held-out items, the same users every evaluation (0: every
    /// user). Each sampled user's metrics are exact (ranked against the whole catalogue); the results add each
    /// metric's 95% sampling interval as `<metric>/ci95`. For catalogues and user bases too large to rank in full.
    public var evalUsers: Int = 0

    public init() {}
}

/// Where a run writes what it produced.
public struct OutputSettings: Codable, Equatable, Sendable {
    /// Model directory: best checkpoint (safetensors), resolved config and id maps.
    public var output: String? = nil
    /// Results JSON path.
    public var results: String? = nil
    /// Directory of a resumable checkpoint (parameters, optimiser, generators, sampler queues, early-stopping state),
    /// replaced atomically; `tandem train --resume DIR` continues a killed run from it.
    public var checkpoint: String? = nil
    /// Write the checkpoint after every this many epochs.
    public var checkpointEvery: Int = 1
    /// Also write it between steps once this many minutes have passed since the last (0: at epoch ends only).
    public var checkpointMinutes: Double = 0

    public init() {}
}

/// A ranking metric at a cut-off, written `ndcg@20`.
public struct MetricAtK: Codable, Hashable, Sendable, CustomStringConvertible {
    public enum Name: String, CaseIterable, Sendable { case recall, ndcg, mrr, hit, precision }
    public var name: Name
    public var k: Int

    public init(_ name: Name, _ k: Int) { self.name = name; self.k = k }

    /// `name@K` with a known name and K > 0.
    public init?(parsing text: String) {
        let parts = text.split(separator: "@")
        guard parts.count == 2, let k = Int(parts[1]), k > 0, let name = Name(rawValue: String(parts[0])) else { return nil }
        self.init(name, k)
    }

    /// The key of this metric in the evaluator's results.
    public var description: String { "\(name.rawValue)@\(k)" }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let m = MetricAtK(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "'\(text)' is not name@K with K > 0 and name one of \(Name.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        self = m
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// Where the InfoNCE softmax's negatives come from: the batch's own positives, and/or items drawn for the batch.
public enum NegativeSampling: String, Codable, CaseIterable, Sendable {
    case inBatch = "in_batch"
    case uniform, popularity
    /// In-batch plus uniform items (Yang et al. 2020); also spelled `in_batch+uniform`.
    case mixed
    case inBatchPopularity = "in_batch+popularity"
    case inBatchLogged = "in_batch+logged"
    /// Every item of the catalogue: the exact softmax, the end of the "more negatives" axis (no logQ: nothing is sampled).
    case all

    /// Items drawn from the catalogue for the whole batch.
    public enum Sampler: String, Sendable { case uniform, popularity }

    public var inBatch: Bool { self != .uniform && self != .popularity && self != .all }
    public var sampler: Sampler? {
        switch self {
        case .uniform, .mixed: return .uniform
        case .popularity, .inBatchPopularity: return .popularity
        case .inBatch, .inBatchLogged, .all: return nil
        }
    }
    /// Logged "shown but not clicked" negatives of the batch's users.
    public var logged: Bool { self == .inBatchLogged }

    /// A name, or its parts joined by `+` in any order (`uniform+in_batch` is `mixed`).
    public init?(parsing text: String) {
        let parts = Set(text.split(separator: "+").map(String.init))
        guard let found = Self.allCases.first(where: { Set($0.rawValue.split(separator: "+").map(String.init)) == parts })
                ?? (parts == ["in_batch", "uniform"] ? .mixed : nil) else { return nil }
        self = found
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let v = NegativeSampling(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "'\(text)' is not one of \(Self.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        self = v
    }
}
