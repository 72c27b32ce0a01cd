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
            for r in cache.inOrder { if let k = try? RunCache.key(r.report.config, code: "") { byConfig[k] = r } }
        }
    }

    /// The cached run of a planned one, if any, holding every metric the plan needs of it.
    func cached(_ p: Planned) -> RunRecord? {
        let found = [cache.records[p.key], reuseRuns ? (try? RunCache.key(p.config, code: "")).flatMap { byConfig[$0] } : nil]
        return found.compactMap { $0 }.first { r in p.needs.allSatisfy { r.report.test[$0.description] != nil } }
    }

    /// One run to do (or found in the cache).
    struct Planned {
        var dataset: String; var label: String; var config: TrainConfig; var key: String
        /// Test metrics its claim reads (`Claim.needs`).
        var needs: [MetricKey] = []
    }

    static let baseSeed: UInt64 = 2020

    func dataset(_ name: String) throws -> Dataset {
        if let d = loaded[name] { return d }
        var c = TrainConfig(); c.data.dataset = name; c.data.splitSeed = Self.baseSeed
        let d = try c.loadFullDataset(log: log)
        loaded[name] = d
        return d
    }

    /// Every run of every dataset, in the order they run (cheap MF runs first): the pilot (`settings.seeds` seeds per
    /// setting), then the extra seeds granted to inconclusive comparisons (`seedRequests`).
    func plan() throws -> [Planned] {
        let pilot = try plan(seeds: { _, _ in settings.seeds })
        guard settings.extraSeedMinutes > 0 else { return pilot }
        var asked: [String: Int] = [:]  // dataset + label → seeds
        for r in seedRequests(pilot) where r.granted {
            for label in r.labels { asked[r.dataset + "\u{1}" + label] = max(asked[r.dataset + "\u{1}" + label] ?? 0, r.asked!) }
        }
        guard !asked.isEmpty else { return pilot }
        return try plan(seeds: { d, label in asked[d + "\u{1}" + label] ?? settings.seeds })
    }

    /// The runs with `seeds(dataset, label)` seeds per setting.
    private func plan(seeds: (String, String) -> Int) throws -> [Planned] {
        var out: [Planned] = [], seen = Set<String>()
        for name in datasets {
            let items = try dataset(name).numItems
            let specs = Self.claims.flatMap { claim in claim.runs(settings, items).map { ($0.label, $0.settings, claim.needs) } }
            // Pilot seeds of every setting first, extra seeds after: a report cut short still has every pilot.
            let perLabel = specs.map { seeds(name, $0.0) }
            for (from, to) in [(0, settings.seeds), (settings.seeds, perLabel.max() ?? 0)] where to > from {
                for ((label, run, needs), n) in zip(specs, perLabel) {
                    for s in UInt64(from)..<UInt64(max(from, min(n, to))) {
                        let config = try run.config { c in
                            c.data.dataset = name; c.training.epochs = settings.epochBudget(dataset: name)
                            c.seed = Self.baseSeed + s; c.data.splitSeed = Self.baseSeed
                        }
                        let key = try RunCache.key(config, code: code)
                        if seen.insert(name + "\u{1}" + label + "\u{1}" + key).inserted {
                            out.append(Planned(dataset: name, label: label, config: config, key: key, needs: needs))
                        }
                    }
                }
            }
        }
        return out
    }

    /// An inconclusive pilot comparison's request for seeds: how many its power calculation asks for, what they
    /// would cost, and whether the extra-seed budget grants them.
    struct SeedRequest {
        var dataset: String, claim: String, treatment: String, control: String, metric: String
        /// The settings that get the extra seeds (`ClaimFinding.labels`).
        var labels: [String]
        var pilotSeeds: Int
        /// Seeds for 80% power against the margin; nil: more than `seedCap`.
        var asked: Int?
        /// Estimated training minutes of the extra runs (every compared setting, from its pilot runs' times).
        var minutes: Double
        var granted = false
    }

    /// Every inconclusive comparison of the pilot with the seeds it asks for, cheapest first, granted in that order
    /// while the total fits `settings.extraSeedMinutes`. Fixed by the pilot alone (its seeds, its validation choices),
    /// before any extra run: adding seeds until an interval happens to clear would inflate false verdicts.
    func seedRequests(_ pilot: [Planned]) -> [SeedRequest] {
        let findings = Self.claims.flatMap { $0.sections(self, pilot).findings }
        let perRun = { (d: String, label: String) -> Double in
            let secs = self.runs(d, label, in: pilot).map(\.report.trainSeconds)
            return secs.isEmpty ? .nan : secs.reduce(0, +) / Double(secs.count)
        }
        var requests = findings.compactMap { f -> SeedRequest? in
            guard let e = f.pilot, e.n >= settings.seeds, Verdict(e, scale: f.scale) == .inconclusive else { return nil }
            let asked = e.seedsToResolve(margin: f.scale.margin(e), cap: settings.seedCap)
            let minutes = Double((asked ?? e.n) - e.n) * f.labels.map { perRun(f.dataset, $0) }.reduce(0, +) / 60
            return SeedRequest(dataset: f.dataset, claim: f.claim, treatment: f.treatment, control: f.control, metric: f.metric,
                               labels: f.labels, pilotSeeds: e.n, asked: asked, minutes: minutes)
        }
        requests.sort { ($0.asked == nil ? 1 : 0, $0.minutes) < ($1.asked == nil ? 1 : 0, $1.minutes) }
        var spent = 0.0
        for k in requests.indices {
            guard let n = requests[k].asked, n > requests[k].pilotSeeds, requests[k].minutes.isFinite else { continue }
            if spent + requests[k].minutes <= settings.extraSeedMinutes { requests[k].granted = true; spent += requests[k].minutes }
        }
        return requests
    }

    /// How many distinct runs the report needs and how many of them are not cached yet.
    public func counts() throws -> (planned: Int, toRun: Int) {
        let planned = try plan()
        return (Set(planned.map(\.key)).count, Set(planned.filter { cached($0) == nil }.map(\.key)).count)
    }

    /// Trains every planned run missing from the cache, printing progress (runs done and left, an ETA): the pilot,
    /// then the extra seeds its inconclusive comparisons are granted.
    public func run() throws {
        try runMissing()
        if settings.extraSeedMinutes > 0 { try runMissing() }
    }

    private func runMissing() throws {
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
