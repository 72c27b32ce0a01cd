import Testing
import Foundation
import TandemData
import TandemTrain
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
        #expect(before.planned == 36 && before.toRun == 36)  // 19 labels × 2 seeds; "cosine τ 0.2" is "in-batch B 1024"
        try report.run()
        // A second report over the same directory and code finds everything cached; a new binary reruns everything.
        #expect(try ClaimsReport(settings: settings, datasets: [Self.dataset], outDirectory: dir, code: "test-1", log: { _ in }).counts().toRun == 0)
        #expect(try ClaimsReport(settings: settings, datasets: [Self.dataset], outDirectory: dir, code: "test-2", log: { _ in }).counts().toRun == 36)
        #expect(try ClaimsReport(settings: settings, datasets: [Self.dataset], outDirectory: dir, code: "test-2", reuseRuns: true,
                                 log: { _ in }).counts().toRun == 0)

        let (page, findings) = try report.page(command: "tandem report claims --quick", date: "2026-12-01")
        let html = page.html
        for id in ["summary", "c1", "c2", "c3", "c4", "c5", "c6", "cold-start"] { #expect(html.contains("<section id=\"\(id)\">")) }
        #expect(html.components(separatedBy: "<svg ").count - 1 == 11)  // C1 three, C2 two, C3, C4, C5, C6 two, cold start one
        #expect(!html.contains("<script"))

        // Recompute C1's effect from runs.jsonl with nothing but JSON: test NDCG@20, every item minus in-batch B 256, by seed.
        let lines = try String(contentsOfFile: dir + "/runs.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 36)
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
}
