import Foundation
import ArgumentParser
import TandemTrain
import TandemData

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Reports made of many runs.",
                                                    subcommands: [Claims.self])

    struct Claims: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the sweeps that answer the contrastive view's claims and write DIR/index.html (plots, verdicts) and DIR/runs.jsonl.",
            discussion: "Every run is cached in runs.jsonl by its config and the binary that ran it: a rerun resumes, and a changed binary reruns.")
        @Option(name: .customLong("dataset"), help: "A dataset to report on (repeatable; default: ml-100k with --quick, ml-100k and book-crossing, and ml-1m too with --full).")
        var datasets: [String] = []
        @Option(help: "Training seeds per setting.") var seeds = 3
        @Option(help: "Output directory.") var out = "claims"
        @Flag(help: "A minutes-long smoke version: 4 epochs per run, short grids, 2 seeds unless --seeds is given.") var quick = false
        @Flag(help: "Every sweep point, also those the default leaves out to keep its time down (a third batch size, SGL's node-dropout and random-walk views, the exact softmax on catalogues over 5,000 items).")
        var full = false
        @Option(help: "Epochs per run (default: 4 with --quick, else at most 40 with early stopping).") var epochs: Int?
        @Option(help: "Threads for training (default: all cores).") var threads: Int?
        @Flag(help: "Use cached runs whatever build of tandem made them (matched by config): to redraw the page after a change to the report, not to training.")
        var reuseRuns = false
        @Flag(help: "Write the page from the runs already cached, training none (missing runs are named on the page).")
        var pageOnly = false
        @Option(help: "Training minutes (all datasets) for extra seeds of the comparisons the pilot (--seeds) leaves inconclusive: each gets the seeds a power calculation from its pilot asks for (at most 10), cheapest first while they fit; 0: none.")
        var extraSeedMinutes: Double = 0

        func run() throws {
            configureThreads(threads)
            // MovieLens-1M's sweeps would add hours to the default's four on two cores: only --full adds it.
            let names = !datasets.isEmpty ? datasets
                : quick ? ["ml-100k"] : full ? ["ml-100k", "book-crossing", "ml-1m"] : ["ml-100k", "book-crossing"]
            let seedCount = quick && !CommandLine.arguments.contains("--seeds") ? 2 : seeds
            guard seedCount >= 1 else { fail("--seeds must be at least 1") }
            guard !(quick && full) else { fail("--quick and --full exclude each other") }
            guard extraSeedMinutes >= 0, extraSeedMinutes.isFinite else { fail("--extra-seed-minutes must be a number of minutes ≥ 0") }
            let settings = ClaimSettings(quick: quick, full: full, seeds: seedCount, epochs: epochs, extraSeedMinutes: extraSeedMinutes)
            let report = reportingErrors {
                try ClaimsReport(settings: settings, datasets: names, outDirectory: out, code: executableFingerprint(), reuseRuns: reuseRuns)
            }
            if pageOnly {
                let (planned, missing) = reportingErrors { try report.counts() }
                print("page only: \(planned - missing) of \(planned) runs cached")
            } else {
                reportingErrors { try report.run() }
            }
            let command = (["tandem"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
            let date = ISO8601DateFormatter().string(from: Date())
            let (page, findings) = reportingErrors { try report.page(command: command, date: date) }
            reportingErrors { try AtomicFile.write(Data(page.html.utf8), to: out + "/index.html") }
            for f in findings { print("\(f.claim) \(f.dataset): \(f.verdict?.rawValue ?? "not run") — \(f.reading)") }
            print("wrote \(out)/index.html and \(out)/runs.jsonl")
        }
    }
}

/// Size and modification time of the running executable: changes whenever it is rebuilt.
func executableFingerprint() -> String {
    let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let attributes = try? FileManager.default.attributesOfItem(atPath: path)
    let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
    let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
    return "\(tandemVersion) \(size) \(Int(modified))"
}
