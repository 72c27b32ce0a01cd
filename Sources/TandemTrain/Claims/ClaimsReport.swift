import Foundation
import TandemData
import TandemReport

/// `tandem report claims`: runs the sweeps that answer the contrastive view's claims on each dataset (every run cached
/// in `runs.jsonl` by its config and code), then writes one self-contained page of plots and verdicts.
///
/// Claims answered: C1 more negatives per row help; C2 the temperature matters; C3 L2 normalisation helps; C4 the
/// self-supervised task helps on sparse data and tail items; C5 graph contrastive views help sparse users (metrics by
/// user-degree third); C6 negatives keep embeddings uniform (the alignment–uniformity plane, training without
/// negatives); and item cold start. Every verdict compares test metrics of settings fixed in advance or chosen on
/// validation, paired by training seed.
public final class ClaimsReport {
    public let settings: ClaimSettings
    public let datasets: [String]
    public let cache: RunCache
    /// A fingerprint of the code (the executable): a changed binary reruns every run, unless `reuseRuns`.
    public let code: String
    /// Take cached runs whatever build made them (matched by config alone): for redrawing the page after a change to
    /// the report's drawing, not to training.
    public let reuseRuns: Bool
    /// Cached runs by config alone (built when `reuseRuns`).
    private var byConfig: [String: RunRecord] = [:]
    let log: (String) -> Void
    /// Full datasets by name, loaded once.
    private var loaded: [String: Dataset] = [:]
    /// Runs that could not run, by dataset and label: the reason, shown on the page.
    public private(set) var failures: [String: [String: String]] = [:]

    public init(settings: ClaimSettings, datasets: [String], outDirectory: String, code: String, reuseRuns: Bool = false,
                log: @escaping (String) -> Void = { print($0) }) throws {
        self.settings = settings; self.datasets = datasets; self.code = code; self.reuseRuns = reuseRuns; self.log = log
        try FileManager.default.createDirectory(atPath: outDirectory, withIntermediateDirectories: true)
        cache = try RunCache(path: outDirectory + "/runs.jsonl")
        if cache.unreadableLines > 0 { log("runs.jsonl: \(cache.unreadableLines) unreadable line(s) skipped; those runs run again") }
        if reuseRuns {
            for r in cache.records.values { if let k = try? RunCache.key(r.report.config, code: "") { byConfig[k] = r } }
        }
    }

    /// The cached run of a planned one, if any.
    func cached(_ p: Planned) -> RunRecord? {
        cache.records[p.key] ?? (reuseRuns ? (try? RunCache.key(p.config, code: "")).flatMap { byConfig[$0] } : nil)
    }

    /// One run to do (or found in the cache).
    struct Planned { var dataset: String; var label: String; var config: TrainConfig; var key: String }

    static let baseSeed: UInt64 = 2020

    func dataset(_ name: String) throws -> Dataset {
        if let d = loaded[name] { return d }
        var c = TrainConfig(); c.data.dataset = name; c.data.splitSeed = Self.baseSeed
        let d = try c.loadFullDataset(log: log)
        loaded[name] = d
        return d
    }

    /// Every run of every dataset, in the order they run (cheap MF runs first).
    func plan() throws -> [Planned] {
        var out: [Planned] = [], seen = Set<String>()
        for name in datasets {
            let items = try dataset(name).numItems
            let specs = Self.claims.flatMap { $0.runs(settings, items) }
            for (label, run) in specs {
                for s in 0..<UInt64(settings.seeds) {
                    let config = try run.config { c in
                        c.data.dataset = name; c.training.epochs = settings.epochBudget(dataset: name)
                        c.seed = Self.baseSeed + s; c.data.splitSeed = Self.baseSeed
                    }
                    let key = try RunCache.key(config, code: code)
                    if seen.insert(name + "\u{1}" + label + "\u{1}" + key).inserted {
                        out.append(Planned(dataset: name, label: label, config: config, key: key))
                    }
                }
            }
        }
        return out
    }

    /// How many distinct runs the report needs and how many of them are not cached yet.
    public func counts() throws -> (planned: Int, toRun: Int) {
        let planned = try plan()
        return (Set(planned.map(\.key)).count, Set(planned.filter { cached($0) == nil }.map(\.key)).count)
    }

    /// Trains every planned run missing from the cache, printing progress (runs done and left, an ETA).
    public func run() throws {
        let planned = try plan()
        var keys = Set<String>()  // two labels can name one config (MF at τ 0.2 is also in-batch B 1024): run it once
        let todo = planned.filter { cached($0) == nil && keys.insert($0.key).inserted }
        let distinct = Set(planned.map(\.key)).count
        log("claims report: \(distinct) runs, \(distinct - todo.count) cached, \(todo.count) to run")
        var times = try timeEstimate(planned)
        let kind = { (p: Planned) in RunTimeEstimate.Kind(dataset: p.dataset, label: p.label) }
        for (k, p) in todo.enumerated() {
            let t0 = Date()
            let ds = try p.config.prepared(dataset(p.dataset))
            do {
                let report = Self.compact(try Trainer(config: p.config, dataset: ds, log: { _ in }).run())
                try cache.append(RunRecord(key: p.key, dataset: p.dataset, label: p.label, seed: p.config.seed, report: report))
                let took = Date().timeIntervalSince(t0)
                times.record(kind(p), seconds: took)
                let left = times.remaining(todo[(k + 1)...].map(kind)).map { String(format: "about %.0f min left", $0 / 60) } ?? "time left not known yet"
                log(String(format: "[%d/%d] %@ · %@ · seed %llu: test NDCG@20 %.4f (%.0f s; %@)", k + 1, todo.count,
                           p.dataset, p.label, p.config.seed, report.test["ndcg@20"] ?? .nan, took, left))
            } catch let e as ConfigError {
                failures[p.dataset, default: [:]][p.label] = e.description
                log("[\(k + 1)/\(todo.count)] \(p.dataset) · \(p.label): cannot run: \(e.description)")
            } catch let e as NonFiniteLossError {
                // A diverged run is a result about its settings, not a reason to stop the report.
                failures[p.dataset, default: [:]][p.label] = "diverged: \(e.description)"
                log("[\(k + 1)/\(todo.count)] \(p.dataset) · \(p.label): diverged: \(e.description)")
            }
        }
    }

    /// The progress line's estimator, sized by each dataset's training interactions × epoch budget and seeded with the
    /// training times of the planned runs already cached.
    func timeEstimate(_ planned: [Planned]) throws -> RunTimeEstimate {
        var size: [String: Double] = [:]
        for name in datasets { size[name] = Double(try dataset(name).split.train.count * settings.epochBudget(dataset: name)) }
        var times = RunTimeEstimate(size: size)
        for p in planned { if let r = cached(p) { times.record(.init(dataset: p.dataset, label: p.label), seconds: r.report.trainSeconds) } }
        return times
    }

    /// A run's report as runs.jsonl keeps it: every final metric, but per epoch only the validation metrics the page
    /// reads (NDCG@20, Recall@20) besides loss, time and uniformity — the full per-epoch table would be 90% of the file.
    static func compact(_ report: RunReport) -> RunReport {
        var r = report
        r.epochs = r.epochs.map { e in
            var c = EpochSummary(epoch: e.epoch, loss: e.loss, seconds: e.seconds, examplesPerSecond: e.examplesPerSecond,
                                 valid: e.valid?.filter { ["ndcg@20", "recall@20"].contains($0.key) })
            c.uniformityItems = e.uniformityItems
            return c
        }
        return r
    }

    /// The cached runs of one dataset and label under the current plan (this code, these settings), in seed order.
    func runs(_ dataset: String, _ label: String, in planned: [Planned]) -> [RunRecord] {
        planned.filter { $0.dataset == dataset && $0.label == label }.compactMap { cached($0) }.sorted { $0.seed < $1.seed }
    }
}
