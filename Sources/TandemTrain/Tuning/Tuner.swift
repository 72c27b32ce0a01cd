import Foundation
import TandemData

/// One trained trial at one rung, as a line of the trials file (JSONL): what was run and its validation score only
/// (test metrics are never computed during a search).
public struct TrialRecord: Codable, Sendable {
    /// The search's fingerprint (`SearchSpace.fingerprint`): a file's lines from another search are refused.
    public var space: String
    /// The configuration's place in `SearchSpace.configurations()`.
    public var trial: Int
    /// The rung of successive halving (0: the first, shortest).
    public var rung: Int
    /// Most epochs at this rung (nil: the trial's own, as for closed-form models).
    public var epochs: Int?
    public var params: [String: ParameterValue]
    /// The validation metric (`valid_metric`) of the best epoch; nil when the trial failed.
    public var score: Double?
    public var valid: [String: Double]
    public var bestEpoch: Int
    /// Epochs trained (early stopping may end a rung sooner).
    public var epochsTrained: Int
    public var seconds: Double
    /// Why the trial failed (a diverged loss, a setting the model refuses); nil when it ran.
    public var error: String?
}

/// `tandem tune`: trains each configuration of a `SearchSpace` and keeps the best on validation.
///
/// With `halving`, successive halving over epochs (Jamieson & Talwalkar 2016; the synchronous form of ASHA): every
/// configuration trains `min_epochs`, the best 1/η go on to η times as many, and so on up to the base's `epochs`;
/// a promoted trial is retrained from its seed (its first epochs repeat exactly, costing at most 1/η more). Closed-form
/// models (EASE, ItemKNN, iALS) have one rung. Every finished trial is appended to the trials file at once, so a killed
/// search continues where it stopped; a wall-clock budget stops launching trials that would not finish within it.
public struct Tuner {
    public let space: SearchSpace
    public let trialsFile: String?
    public let budgetSeconds: Double?
    let log: (String) -> Void
    /// Trains one trial (validation only). Replaceable so that tests can count and inspect trials.
    let train: (TrainConfig, Dataset) throws -> RunReport

    public init(space: SearchSpace, trialsFile: String?, budgetSeconds: Double? = nil, log: @escaping (String) -> Void,
                train: @escaping (TrainConfig, Dataset) throws -> RunReport = Tuner.trainOnValidation) {
        self.space = space; self.trialsFile = trialsFile; self.budgetSeconds = budgetSeconds; self.log = log; self.train = train
    }

    /// Trains a trial and evaluates it on validation only.
    public static func trainOnValidation(_ config: TrainConfig, _ dataset: Dataset) throws -> RunReport {
        try Trainer(config: config, dataset: dataset, log: { _ in }).run(testing: false)
    }

    /// What a search found.
    public struct Outcome {
        /// Every record of this search, read from the trials file and run now.
        public var records: [TrialRecord]
        /// The best trial of the highest rung reached; nil when every trial failed.
        public var best: TrialRecord?
        /// The best trial's settings as a config file (`tandem train --config` takes it), at the base's full epochs.
        public var bestYAML: String?
        /// Whether the budget stopped the search before its plan was done.
        public var stoppedByBudget: Bool
    }

    /// Epochs of each rung: `min_epochs · ηᵏ` below the base's epochs, then the base's epochs; one rung of the trial's
    /// own epochs (nil) without halving or for a closed-form model.
    public func rungs() throws -> [Int?] {
        guard let (r0, eta) = space.halving else { return [nil] }
        guard space.distributions["epochs"] == nil else { throw ConfigError("halving sets each rung's epochs: epochs cannot be tuned with it") }
        let first = try config(space.configurations()[0], epochs: nil, trial: 0)
        if first.model.descriptor.isClosedForm { return [nil] }
        var out: [Int?] = []
        var e = r0
        while e < first.training.epochs { out.append(e); e *= eta }
        return out + [first.training.epochs]
    }

    func config(_ params: [String: ParameterValue], epochs: Int?, trial: Int) throws -> TrainConfig {
        try TrainConfig.resolve(yaml: space.yaml(params, epochs: epochs), yamlFile: "trial \(trial + 1)")
    }

    /// Runs the search: the trials file's records are reused, the rest trained in order, rung by rung.
    public func run() throws -> Outcome {
        let start = Date()
        let configurations = space.configurations()
        let rungs = try rungs()
        let eta = space.halving?.eta ?? 1
        var records = try previousRecords()
        var done: [Int: [Int: TrialRecord]] = [:]  // rung → trial → record
        for r in records { done[r.rung, default: [:]][r.trial] = r }
        if !records.isEmpty { log("continuing: \(records.count) trial run(s) already in \(trialsFile ?? "")") }
        var planned = [configurations.count]
        for _ in rungs.dropFirst() { planned.append((planned.last! + eta - 1) / eta) }
        var pace = Pace()
        var loaded: (settings: DataSettings, seed: UInt64, dataset: Dataset)?
        var active = Array(configurations.indices), stopped = false, reached = 0
        rungLoop: for (k, epochs) in rungs.enumerated() {
            reached = k
            for (position, t) in active.enumerated() where done[k]?[t] == nil {
                let left = pace.secondsLeft(rungs: rungs, planned: planned, rung: k, leftInRung: active.count - position)
                if let budget = budgetSeconds, Date().timeIntervalSince(start) + (pace.expected(epochs) ?? 0) > budget {
                    log("budget of \(Int(budget / 60)) min reached: stopping before trial \(t + 1) at rung \(k + 1)" + (left.map { String(format: " (about %.0f min of the plan left)", $0 / 60) } ?? ""))
                    stopped = true
                    break rungLoop
                }
                let record = try runTrial(t, configurations[t], rung: k, epochs: epochs, loaded: &loaded)
                pace.record(record, epochs: epochs)
                records.append(record)
                done[k, default: [:]][t] = record
                try append(record)
                let best = Self.best(Array(done[k]!.values))
                let after = pace.secondsLeft(rungs: rungs, planned: planned, rung: k, leftInRung: active.count - position - 1)
                log("[trial \(t + 1)/\(configurations.count) · rung \(k + 1)/\(rungs.count)\(epochs.map { ", \($0) epochs" } ?? "")] "
                    + describe(configurations[t]) + " → " + (record.score.map { String(format: "valid %.4f", $0) } ?? "failed: \(record.error ?? "")")
                    + (best.map { String(format: " (best %.4f: trial %d)", $0.score!, $0.trial + 1) } ?? "")
                    + String(format: " · %.0f s · ", record.seconds) + (after.map { String(format: "about %.0f min left", $0 / 60) } ?? "time left not known yet"))
            }
            guard k + 1 < rungs.count else { break }
            // Promote the best ⌈n/η⌉ of this rung (failed trials never; ties go to the earlier trial), to be trained best
            // first: a budget that stops the next rung part-way has then spent its time on the most promising trials.
            let ranked = active.compactMap { done[k]?[$0] }.filter { $0.score != nil }.sorted(by: Self.better)
            active = ranked.prefix(planned[k + 1]).map(\.trial)
            if active.isEmpty { break }
        }
        // The best of the highest rung with a finished trial (a score from more epochs is the better evidence).
        let top = (0...reached).reversed().lazy.compactMap { k in done[k].flatMap { Self.best(Array($0.values)) } }.first
        return Outcome(records: records, best: top, bestYAML: top.map { bestYAML($0, rungs: rungs, stoppedByBudget: stopped) },
                       stoppedByBudget: stopped)
    }

    /// The higher score first; among equal scores, the earlier trial.
    static func better(_ a: TrialRecord, _ b: TrialRecord) -> Bool {
        (a.score ?? -.infinity, -a.trial) > (b.score ?? -.infinity, -b.trial)
    }

    static func best(_ records: [TrialRecord]) -> TrialRecord? {
        records.filter { $0.score != nil }.sorted(by: better).first
    }

    func describe(_ params: [String: ParameterValue]) -> String {
        space.keys.map { key in
            let shown: String
            switch params[key] {
            case .number(let x)?: shown = String(format: "%.4g", x)  // four digits on screen; the file keeps every digit
            case let v?: shown = "\(v)"
            case nil: shown = "-"
            }
            return "\(key)=\(shown)"
        }.joined(separator: " ")
    }

    /// Trains one trial; a diverged loss or a refused setting is recorded as a failed trial, not the end of the search.
    func runTrial(_ t: Int, _ params: [String: ParameterValue], rung: Int, epochs: Int?,
                  loaded: inout (settings: DataSettings, seed: UInt64, dataset: Dataset)?) throws -> TrialRecord {
        let t0 = Date()
        var record = TrialRecord(space: space.fingerprint, trial: t, rung: rung, epochs: epochs, params: params, score: nil, valid: [:],
                                 bestEpoch: 0, epochsTrained: 0, seconds: 0, error: nil)
        do {
            let cfg = try config(params, epochs: epochs, trial: t)
            let splitSeed = cfg.data.splitSeed ?? cfg.seed
            let ds = try loaded.flatMap { $0.settings == cfg.data && $0.seed == splitSeed ? $0.dataset : nil } ?? cfg.loadDataset(log: log)
            loaded = (cfg.data, splitSeed, ds)
            let report = try train(cfg, ds)
            record.valid = report.valid
            record.score = report.valid[cfg.evaluation.validMetric.description]
            record.bestEpoch = report.bestEpoch
            record.epochsTrained = report.epochs.count
        } catch let e as NonFiniteLossError {
            record.error = e.description
        } catch let e as ConfigError {
            record.error = e.description
        }
        record.seconds = Date().timeIntervalSince(t0)
        return record
    }

    /// The trials file's records of this search (none when there is no file yet).
    func previousRecords() throws -> [TrialRecord] {
        guard let path = trialsFile, FileManager.default.fileExists(atPath: path) else { return [] }
        var text = try String(contentsOfFile: path, encoding: .utf8)
        if !text.isEmpty, !text.hasSuffix("\n") {
            // A line cut short by a kill mid-write: that trial reruns; the file is cut back to its last whole line.
            text = text.lastIndex(of: "\n").map { String(text[...$0]) } ?? ""
            try AtomicFile.write(Data(text.utf8), to: path)
            log("\(path): dropped an unfinished last line (a trial stopped while being written); it will run again")
        }
        var out: [TrialRecord] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            let record: TrialRecord
            do { record = try JSONDecoder().decode(TrialRecord.self, from: Data(line.utf8)) } catch {
                throw DataError(file: path, line: n + 1, column: 1, "not a trial record: \(error)")
            }
            guard record.space == space.fingerprint else {
                throw ConfigError("\(path) holds trials of another search (its base, space, seed or halving differ): give a new --trials-file")
            }
            out.append(record)
        }
        return out
    }

    /// Appends one record as a line (the file is the search's log: a line is whole or, cut by a kill, refused on read).
    func append(_ record: TrialRecord) throws {
        guard let path = trialsFile else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var line = try encoder.encode(record)
        line.append(0x0A)
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw ConfigError("\(path): cannot create the trials file") }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw ConfigError("\(path): cannot write the trials file") }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: line)
    }

    /// The best trial as a config file: the base, the trial's values, and the base's epochs (not a rung's); the header
    /// says when the budget stopped the search, so a config chosen from a cut-short search says so where it is used.
    func bestYAML(_ best: TrialRecord, rungs: [Int?], stoppedByBudget: Bool) -> String {
        let epochs = rungs.last.flatMap { $0 }
        let header = "# tandem tune: trial \(best.trial + 1) of \(space.configurations().count), valid \(String(format: "%.4f", best.score ?? .nan))"
            + " at rung \(best.rung + 1) of \(rungs.count)\(best.epochs.map { " (\($0) epochs)" } ?? "")"
            + (stoppedByBudget ? "; the budget stopped the search early" : "") + "\n"
        return header + space.yaml(best.params, epochs: epochs)
    }
}

/// The search's pace: seconds per epoch trained (gradient models) or per trial (closed form), for the time left.
struct Pace {
    var seconds = 0.0, epochs = 0, trials = 0

    mutating func record(_ r: TrialRecord, epochs rungEpochs: Int?) {
        seconds += r.seconds; trials += 1
        epochs += rungEpochs == nil ? 0 : max(1, r.epochsTrained)
    }

    /// Expected seconds of one trial at a rung of `rungEpochs` (nil until one trial has run).
    func expected(_ rungEpochs: Int?) -> Double? {
        guard trials > 0 else { return nil }
        if let e = rungEpochs, epochs > 0 { return seconds / Double(epochs) * Double(e) }
        return seconds / Double(trials)
    }

    /// Seconds left: `leftInRung` trials at rung `rung`, then every later rung's planned trials.
    func secondsLeft(rungs: [Int?], planned: [Int], rung: Int, leftInRung: Int) -> Double? {
        guard trials > 0 else { return nil }
        var total = Double(leftInRung) * (expected(rungs[rung]) ?? 0)
        for k in (rung + 1)..<max(rung + 1, rungs.count) { total += Double(planned[k]) * (expected(rungs[k]) ?? 0) }
        return total
    }
}
