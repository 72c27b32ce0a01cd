import Testing
import Foundation
import TandemData
@testable import TandemTrain
import TandemReport
import TandemTestSupport

/// The claims report on a small synthetic dataset in quick mode: every run cached and resumed, every claim on the page,
/// and the page's effects equal to those recomputed from runs.jsonl alone.
@Suite(.serialized) struct ClaimsReportTests {
    static let dataset = "synthetic:users=60,items=40,interactions=1200,clusters=3,seed=5"

    @Test func runsResumeAndThePageShowsWhatRunsJsonlHolds() throws {
        let dir = Fixtures.temporaryPath("claims")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let settings = ClaimSettings(quick: true, seeds: 2, epochs: 1)
        let report = try ClaimsReport(settings: settings, datasets: [Self.dataset], outDirectory: dir, code: "test-1", log: { _ in })
        let before = try report.counts()
        // 28 labels (C1 4, C2 + C3 6 and 3 mined, C4 6 item-SSL and 4 history, C5 3, C6 1, cold start 1) × 2 seeds;
        // "cosine τ 0.2" is "in-batch B 1024".
        #expect(before.planned == 54 && before.toRun == 54)
        try report.run()
        // A second report over the same directory and code finds everything cached; a new binary reruns everything.
        #expect(try ClaimsReport(settings: settings, datasets: [Self.dataset], outDirectory: dir, code: "test-1", log: { _ in }).counts().toRun == 0)
        #expect(try ClaimsReport(settings: settings, datasets: [Self.dataset], outDirectory: dir, code: "test-2", log: { _ in }).counts().toRun == 54)
        #expect(try ClaimsReport(settings: settings, datasets: [Self.dataset], outDirectory: dir, code: "test-2", reuseRuns: true,
                                 log: { _ in }).counts().toRun == 0)

        let (page, findings) = try report.page(command: "tandem report claims --quick", date: "2026-12-01")
        let html = page.html
        for id in ["summary", "c1", "c2", "c2-mining", "c3", "c4", "c5", "c6", "cold-start", "budget", "power"] {
            #expect(html.contains("<section id=\"\(id)\">"))
        }
        // C1 three, C2 two, mining one, C3 one, C4 two, C5 one, C6 two, cold start one.
        #expect(html.components(separatedBy: "<svg ").count - 1 == 13)
        #expect(!html.contains("<script"))

        // Recompute C1's effect from runs.jsonl with nothing but JSON: test NDCG@20, every item minus in-batch B 256, by seed.
        let lines = try String(contentsOfFile: dir + "/runs.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 54)
        var ndcg: [String: [UInt64: Double]] = [:]
        for line in lines {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let test = try #require((o["report"] as? [String: Any])?["test"] as? [String: Any])
            ndcg[o["label"] as! String, default: [:]][(o["seed"] as! NSNumber).uint64Value] = (test["ndcg@20"] as! NSNumber).doubleValue
        }
        let diffs = [2020, 2021].map { ndcg["every item"]![UInt64($0)]! - ndcg["in-batch B 256"]![UInt64($0)]! }
        let c1 = try #require(findings.first { $0.claim == "C1" })
        #expect(abs(try #require(c1.effect).mean - (diffs[0] + diffs[1]) / 2) < 1e-12)
        #expect(html.contains(String(format: "%+.4f", (diffs[0] + diffs[1]) / 2)))
        #expect(findings.allSatisfy { $0.verdict != nil || $0.claim == "C4" })
        // C2's second half: mining against none at each τ, and the gain at τ 1 minus the gain at τ 0.05, by hand.
        #expect(findings.filter { $0.claim == "C2 mining" }.count == 4)
        let gains = [2020, 2021].map { seed -> Double in
            let at = { (label: String) in ndcg[label]![UInt64(seed)]! }
            return (at("cosine τ 1.0 + mining") - at("cosine τ 1.0")) - (at("cosine τ 0.05 + mining") - at("cosine τ 0.05"))
        }
        let shrink = try #require(findings.first { $0.treatment == "mining's gain at τ 1.0" })
        #expect(abs(try #require(shrink.effect).mean - (gains[0] + gains[1]) / 2) < 1e-12)

        // A cached run without a metric its claim reads (made before the metric existed) runs again: strip C4's.
        let stripped = try lines.map { line -> String in
            var o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard (o["label"] as! String).hasPrefix("two-tower SSL") || (o["label"] as! String).hasPrefix("two-tower + history") else {
                return String(line)
            }
            var r = o["report"] as! [String: Any], test = r["test"] as! [String: Any]
            test["recall@20/within_tail"] = nil; r["test"] = test; o["report"] = r
            return String(decoding: try JSONSerialization.data(withJSONObject: o), as: UTF8.self)
        }
        try (stripped.joined(separator: "\n") + "\n").write(toFile: dir + "/runs.jsonl", atomically: true, encoding: .utf8)
        #expect(try ClaimsReport(settings: settings, datasets: [Self.dataset], outDirectory: dir, code: "test-1", log: { _ in }).counts().toRun == 20)
    }

    /// Extra seeds: each inconclusive pilot comparison asks for the seeds its power calculation gives; requests are
    /// granted cheapest first within the budget, those seeds run for both settings, and the verdicts then rest on them
    /// while the requests (read from the pilot alone) stay what they were.
    @Test func inconclusivePilotsGetTheSeedsTheyAskForWithinTheBudget() throws {
        let dir = Fixtures.temporaryPath("claims-power")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var settings = ClaimSettings(quick: true, seeds: 2, epochs: 1, extraSeedMinutes: 1_000)
        settings.seedCap = 4
        let report = try ClaimsReport(settings: settings, datasets: [Self.dataset], outDirectory: dir, code: "t", log: { _ in })
        try report.run()
        let all = try report.plan()
        let pilot = all.filter { $0.config.seed < 2022 }
        #expect(pilot.count == 56 && Set(pilot.map(\.key)).count == 54)  // two labels share one config
        let requests = report.seedRequests(pilot)
        let granted = requests.filter(\.granted)
        #expect(!granted.isEmpty, "one epoch on 40 items leaves some comparison inconclusive at 2 seeds and resolvable by 4")
        #expect(requests.allSatisfy { $0.granted == ($0.asked.map { $0 > 2 && $0 <= 4 } ?? false) })  // the budget fits all
        let (_, findings) = try report.page(command: "t", date: "d")
        for r in granted {
            for label in r.labels {
                #expect(report.runs(r.dataset, label, in: all).count >= r.asked!, "\(label)")
            }
            let f = try #require(findings.first { $0.treatment == r.treatment && $0.control == r.control && $0.metric == r.metric })
            #expect(f.effect!.n >= r.asked! && f.pilot!.n == 2)
        }
        // Every planned run is cached, and the requests read from the pilot are unchanged by the extra runs.
        #expect(try report.counts().toRun == 0)
        #expect(report.seedRequests(pilot).map(\.asked) == requests.map(\.asked))
        // A zero budget grants nothing.
        settings.extraSeedMinutes = 0
        let none = try ClaimsReport(settings: settings, datasets: [Self.dataset], outDirectory: dir, code: "t", log: { _ in })
        #expect(try none.plan().count == 56)
    }

    /// The default sweep leaves out the full-only runs, and the exact softmax beyond its catalogue size; --full runs all.
    @Test func theDefaultSweepFitsItsBudgetAndFullRunsEverything() {
        let standard = ClaimSettings(quick: false, seeds: 3), full = ClaimSettings(quick: false, full: true, seeds: 3)
        let small = standard.negativeRuns(items: 1_682).map(\.label)
        #expect(small == ["in-batch B 256", "in-batch B 1024", "mixed B 1024 + 1024 uniform", "MoCo queue 4096", "every item"])
        #expect(standard.negativeRuns(items: ClaimSettings.exactSoftmaxMaxItems).map(\.label) == small)
        #expect(standard.negativeRuns(items: ClaimSettings.exactSoftmaxMaxItems + 1).map(\.label) == Array(small.dropLast()))
        #expect(full.negativeRuns(items: 17_000).map(\.label) == ["in-batch B 256", "in-batch B 1024", "in-batch B 4096",
                                                                  "mixed B 1024 + 1024 uniform", "MoCo queue 4096", "every item"])
        #expect(standard.graphRuns().map(\.label) == ["LightGCN", "SGL edge dropout", "SimGCL"])
        #expect(full.graphRuns().map(\.label) == ["LightGCN", "SGL edge dropout", "SGL node dropout", "SGL random walk", "SimGCL"])
        #expect(ClaimSettings(quick: true, seeds: 2).negativeRuns(items: 40).map(\.label)
                == ["in-batch B 256", "in-batch B 1024", "mixed B 1024 + 1024 uniform", "every item"])
    }

    /// A line cut off mid-write (a killed run) is skipped when read back, and that run runs again.
    @Test func aTruncatedLineIsRerun() throws {
        let dir = Fixtures.temporaryPath("claims")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = try RunCache(path: dir + ".jsonl")
        defer { try? FileManager.default.removeItem(atPath: dir + ".jsonl") }
        #expect(cache.records.isEmpty)
        try Data("{\"key\": \"abc\", \"data".utf8).write(to: URL(fileURLWithPath: dir + ".jsonl"))
        let reread = try RunCache(path: dir + ".jsonl")
        #expect(reread.records.isEmpty && reread.unreadableLines == 1)
        // The next run appended starts a line of its own, so it reads back.
        var config = try TrainConfig.resolve(overrides: ["model": "pop", "ks": "[10, 20]"])
        config.data.dataset = nil
        let report = try Trainer(config: config, dataset: TrainingTests.smallData(), log: { _ in }).run()
        try reread.append(RunRecord(key: "k1", dataset: "d", label: "pop", seed: 2020, report: report))
        let again = try RunCache(path: dir + ".jsonl")
        #expect(again.records["k1"]?.report.test["ndcg@20"] == report.test["ndcg@20"] && again.unreadableLines == 1)
    }

    /// A finding still inconclusive with more seeds than its pilot says whose request brought them: its own (the seeds
    /// its pilot asked for: 10 for these differences, see `seedsToResolveFollowAPowerCalculation`) or another comparison's.
    @Test func stillInconclusiveReadingsSayWhoseSeedsTheyAre() {
        let asksTen = Effect(treatment: [0.31, 0.32, 0.30], control: [0.30, 0.30, 0.30])
        #expect(ClaimFinding.describeStillInconclusive(seeds: 10, pilot: asksTen, scale: .onePercent, cap: 10)
                == "still, after the 10 seeds its 3-seed pilot asked for")
        #expect(ClaimFinding.describeStillInconclusive(seeds: 8, pilot: asksTen, scale: .onePercent, cap: 10)
                == "still, at 8 seeds (run for another comparison of these settings; its 3-seed pilot asked for 10)")
        #expect(ClaimFinding.describeStillInconclusive(seeds: 9, pilot: asksTen, scale: .onePercent, cap: 9)
                == "still, at 9 seeds (run for another comparison of these settings; its 3-seed pilot asked for more than 9)")
        let worse = Effect(treatment: [0.28, 0.281, 0.279], control: [0.30, 0.30, 0.30])
        #expect(ClaimFinding.describeStillInconclusive(seeds: 8, pilot: worse, scale: .onePercent, cap: 10)
                == "still, at 8 seeds (run for another comparison of these settings; its 3-seed pilot was contradicted)")
    }
}
