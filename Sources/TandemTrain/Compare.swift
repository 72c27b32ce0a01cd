import Foundation
import TandemData

/// `tandem compare`: several models, each trained over several seeds on one split, with progress as it goes (run i of
/// n, the current run's epoch or closed-form step, time left). The split stays fixed: every run's `split_seed` is the
/// first run's.
public struct Comparison {
    /// One row of the table: a model and its runs.
    public typealias Row = (label: String, reports: [RunReport])

    public let models: [ModelKind]
    public let seeds: Int
    /// The settings of `model` at training seed `base.seed + offset`, as the caller resolves them (defaults, file, flags).
    let config: (ModelKind, _ seedOffset: Int) throws -> TrainConfig
    let log: (String) -> Void

    public init(models: [ModelKind], seeds: Int, log: @escaping (String) -> Void,
                config: @escaping (ModelKind, _ seedOffset: Int) throws -> TrainConfig) {
        self.models = models; self.seeds = seeds; self.log = log; self.config = config
    }

    /// The runs in order: each model's seeds (one for a deterministic kind).
    public var plan: [(row: Int, model: ModelKind, seedOffset: Int)] {
        models.enumerated().flatMap { i, m in (0..<(m.isDeterministic ? 1 : seeds)).map { (i, m, $0) } }
    }

    /// Trains every planned run; `onRun` gets each report as it finishes (to write it). Returns the table's rows.
    public func run(onRun: (ModelKind, RunReport) throws -> Void = { _, _ in }) throws -> [Row] {
        let plan = self.plan
        var times = RunTimeEstimate(size: [:])  // a model not yet timed makes the time left unknown, not small
        var rows: [Row] = models.map { ($0.rawValue, []) }
        var loaded: (settings: DataSettings, seed: UInt64, dataset: Dataset)?  // runs share one split: loaded once
        for (k, (row, model, offset)) in plan.enumerated() {
            let cfg = try config(model, offset)
            let splitSeed = cfg.data.splitSeed ?? cfg.seed
            let ds = try loaded.flatMap { $0.settings == cfg.data && $0.seed == splitSeed ? $0.dataset : nil } ?? cfg.loadDataset(log: log)
            loaded = (cfg.data, splitSeed, ds)
            let tag = "[\(k + 1)/\(plan.count)] \(model) seed \(cfg.seed)"
            let t0 = Date()
            let report = try Trainer(config: cfg, dataset: ds, log: { self.log("\(tag) · \($0.trimmingCharacters(in: .whitespaces))") }).run()
            times.record(.init(dataset: "", label: model.rawValue), seconds: Date().timeIntervalSince(t0))
            let left = times.remaining(plan[(k + 1)...].map { .init(dataset: "", label: $0.model.rawValue) })
                .map { String(format: "about %.0f min left", $0 / 60) } ?? "time left not known yet"
            let metric = cfg.evaluation.validMetric, key = metric.description, recall = "recall@\(metric.k)"
            log(String(format: "%@: valid %@ %.4f | test %@ %.4f %@ %.4f (best epoch %d, %.0fs; %@)", tag, key, report.valid[key] ?? .nan,
                       key, report.test[key] ?? .nan, recall, report.test[recall] ?? .nan, report.bestEpoch, report.trainSeconds, left))
            try onRun(model, report)
            rows[row].reports.append(report)
        }
        return rows
    }
}
