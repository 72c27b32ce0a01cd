import Foundation
import TandemModels

/// The runs behind the claims report: for each dataset, a set of labelled settings (over each model's defaults), each
/// run once per seed. Runs shared by several claims (MF at its report settings is the control of most) run once.
public struct ClaimSettings: Sendable {
    /// Quick: a minutes-long smoke version (few epochs, short grids); else the full sweeps.
    public var quick: Bool
    /// Full: every sweep point, also those the default leaves out to fit its time budget (`fullOnly`).
    public var full: Bool
    public var seeds: Int
    /// Epochs per run instead of the mode's budget (nil: 4 when quick, else `fullBudget` with early stopping).
    public var epochs: Int?
    /// Training minutes the extra seeds of inconclusive comparisons may take, over all datasets (0: none). Each inconclusive
    /// comparison of the `seeds`-seed pilot asks a power calculation for its seeds (at most `seedCap`); the cheapest
    /// requests run first while they fit, each estimated from its pilot runs' times.
    public var extraSeedMinutes: Double
    /// The most seeds a comparison may be given.
    public var seedCap = 10

    public init(quick: Bool, full: Bool = false, seeds: Int, epochs: Int? = nil, extraSeedMinutes: Double = 0) {
        precondition(!(quick && full), "quick and full sweeps exclude each other")
        self.quick = quick; self.full = full; self.seeds = seeds; self.epochs = epochs; self.extraSeedMinutes = extraSeedMinutes
    }

    /// The runs the default sweep leaves out to keep the report on ml-100k and Book-Crossing near four hours on two
    /// cores (`--full` runs them): a third batch size, and SGL's node-dropout and random-walk views (edge dropout stays
    /// as SGL's view, SimGCL as the augmentation-free one). Each costs 3–9 minutes per seed on Book-Crossing.
    public static let fullOnly: Set<String> = ["in-batch B 4096", "SGL node dropout", "SGL random walk"]

    /// The largest catalogue whose exact softmax ("every item") the default sweep runs: its cost per row grows with
    /// the catalogue (9× in-batch B 1024's epoch on Book-Crossing's 17k items), so beyond this only `--full` runs it.
    public static let exactSoftmaxMaxItems = 5_000

    /// The MF base every MF claim varies one thing of: 64-d at Adam lr 0.01 (the width and rate the levers were first
    /// measured at, and 3–4× cheaper than the 256-d default), cosine, τ 0.2, in-batch B 1024 with logQ.
    var mfBase: RunSettings {
        RunSettings(.mf) { c in
            c.embeddingDim = 64; c.training.learningRate = 0.01; c.objective.similarity = .cosine; c.objective.temperature = 0.2
            c.training.batchSize = 1024; c.objective.negativeSampling = .inBatch; c.objective.logq = true
        }
    }

    /// The full report's epoch budget per dataset (runs early-stop within it): 40 on ml-100k; 20 on the larger
    /// catalogues, whose epochs cost 5–10× more, to keep the default report near four hours on two cores.
    public static let fullBudget: [String: Int] = ["ml-100k": 40, "book-crossing": 20, "ml-1m": 20]

    /// Epochs per run on `dataset`: `epochs` if set, 4 when quick, else the dataset's full budget (40 if not listed).
    public func epochBudget(dataset: String) -> Int { epochs ?? (quick ? 4 : Self.fullBudget[dataset] ?? 40) }

    /// The temperatures of C2 and C3.
    public var temperatures: [Double] { quick ? [0.05, 0.2, 1.0] : [0.05, 0.1, 0.2, 0.5, 1.0] }

    /// C1's runs: label → (negatives per row for a catalogue of `items`, settings).
    public func negativeRuns(items: Int) -> [(label: String, negatives: Double, settings: RunSettings)] {
        var runs: [(String, Double, ConfigEdit)] = [
            ("in-batch B 256", 255, { $0.training.batchSize = 256 }),
            ("in-batch B 1024", 1023, { _ in }),
            ("in-batch B 4096", 4095, { $0.training.batchSize = 4096 }),
            ("mixed B 1024 + 1024 uniform", 2047, { $0.objective.negativeSampling = .mixed; $0.objective.sampledNegatives = 1024 }),
            ("MoCo queue 4096", 1023 + 4096, { $0.moco.queueSize = 4096; $0.moco.momentum = 0.99 }),
            ("every item", Double(items - 1), { $0.objective.negativeSampling = .all; $0.objective.logq = false }),
        ]
        if quick { runs.removeAll { $0.0 == "MoCo queue 4096" } }
        if !full { runs.removeAll { Self.fullOnly.contains($0.0) || ($0.0 == "every item" && items > Self.exactSoftmaxMaxItems) } }
        return runs.map { ($0.0, $0.1, mfBase.then($0.2)) }
    }

    public func label(similarity: String, temperature: Double) -> String { "\(similarity) τ \(temperature)" }

    /// C2 and C3's runs: cosine and dot at each temperature.
    public func temperatureRuns() -> [(label: String, similarity: String, temperature: Double, settings: RunSettings)] {
        [Similarity.cosine, .dot].flatMap { sim in
            temperatures.map { t in
                (label(similarity: sim.rawValue, temperature: t), sim.rawValue, t,
                 mfBase.then { $0.objective.similarity = sim; $0.objective.temperature = Float(t) })
            }
        }
    }

    /// C2's second half: hard negatives mined per row (EBR's semi-hard ranks 101–500 of the model's own ranking,
    /// refreshed every epoch) on top of the in-batch negatives, at these temperatures.
    public var miningTemperatures: [Double] { [0.05, 0.2, 1.0] }
    public static let minedPerRow = 4
    public func miningLabel(temperature: Double) -> String { "cosine τ \(temperature) + mining" }
    public func miningRuns() -> [(label: String, temperature: Double, settings: RunSettings)] {
        miningTemperatures.map { t in
            (miningLabel(temperature: t), t, mfBase.then {
                $0.objective.similarity = .cosine; $0.objective.temperature = Float(t)
                $0.objective.hardNegatives = Self.minedPerRow; $0.objective.hardNegativeMining = .ranks
                $0.objective.hardNegativeRanks = [101, 500]
            })
        }
    }

    /// C4's runs: the two-tower model with and without its item tower's self-supervised task (items drawn uniformly
    /// from the catalogue, correlated feature masking: the Google setting) on 100%, 10% and 1% of the training data;
    /// and with a 20-item behaviour history, with and without the user tower's history views, on 100% and 10%.
    public var fractions: [Double] { [1.0, 0.1, 0.01] }
    public var historyFractions: [Double] { [1.0, 0.1] }
    public func sslLabel(on: Bool, fraction: Double) -> String { "two-tower SSL \(on ? "on" : "off"), \(Int(fraction * 100))% data" }
    public func historyLabel(on: Bool, fraction: Double) -> String {
        "two-tower + history, history views \(on ? "on" : "off"), \(Int(fraction * 100))% data"
    }
    public func sslRuns() -> [(label: String, on: Bool, fraction: Double, settings: RunSettings)] {
        let item = [true, false].flatMap { on in
            fractions.map { f in
                (sslLabel(on: on, fraction: f), on, f,
                 RunSettings(.twoTower) { $0.twoTower.ssl = on ? .item : SSLSelection.none; $0.data.trainFraction = f })
            }
        }
        let history = [true, false].flatMap { on in
            historyFractions.map { f in
                (historyLabel(on: on, fraction: f), on, f, RunSettings(.twoTower) {
                    $0.twoTower.historyLength = 20; $0.data.trainFraction = f
                    $0.twoTower.ssl = on ? .user : SSLSelection.none; $0.twoTower.userSslViews = .history
                })
            }
        }
        return item + history
    }

    /// C5's runs: LightGCN and its contrastive views (each model's defaults: in-batch InfoNCE main loss, λ 0.01).
    public func graphRuns() -> [(label: String, settings: RunSettings)] {
        var runs: [(String, RunSettings)] = [
            ("LightGCN", RunSettings(.lightgcn)),
            ("SGL edge dropout", RunSettings(.sgl) { $0.graph.augmentation = .ed }),
            ("SGL node dropout", RunSettings(.sgl) { $0.graph.augmentation = .nd }),
            ("SGL random walk", RunSettings(.sgl) { $0.graph.augmentation = .rw }),
            ("SimGCL", RunSettings(.simgcl)),
        ]
        if !full { runs.removeAll { Self.fullOnly.contains($0.0) } }
        return runs
    }

    /// The item cold-start runs: the two-tower model with 10% of items held out (their features only at test time).
    public let coldLabel = "two-tower, 10% of items held out"
    public func coldRuns() -> [(label: String, settings: RunSettings)] {
        [(coldLabel, RunSettings(.twoTower) { $0.data.coldItems = 0.1 })]
    }

    /// C6's run without negatives: MF at the report's settings trained on alignment alone.
    public let noNegativesLabel = "no negatives (alignment only)"
    public func noNegativeRuns() -> [(label: String, settings: RunSettings)] {
        [(noNegativesLabel, mfBase.then { $0.objective.loss = .alignment })]
    }
}
