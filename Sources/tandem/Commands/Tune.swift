import ArgumentParser
import Foundation
import TandemData
import TandemTrain

struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search settings on validation (grid or random, successive halving over epochs) and write the best as a config file.",
        discussion: """
            The search space is a YAML file: base (config keys every trial shares), space (tuned keys: {choice: [...]}, \
            {uniform: [a, b]}, {log_uniform: [a, b]}, {int: [a, b]}), search (grid or random), trials, seed, \
            halving ({min_epochs: 5, eta: 3}), and include (configurations tried first, e.g. the defaults). Test metrics are never computed. Every finished trial is appended to the \
            trials file; rerun the same command to continue a stopped search. Example: \
            tandem tune --space configs/tune/mf.yaml --set dataset=book-crossing --out configs/book-crossing/mf.yaml
            """)
    @Option(help: "The search space (YAML).") var space: String
    @Option(help: "Where the best trial's settings are written (a config file for tandem train --config).") var out = "tuned.yaml"
    @Option(help: "The trials log (JSONL), read to continue a search (default: --out with .trials.jsonl).") var trialsFile: String?
    @Option(help: "Stop launching trials that would end after this many minutes (default: no limit).") var budgetMinutes: Double?
    @Option(help: "Number of random configurations (default: the space file's trials).") var trials: Int?
    @Option(name: .customLong("set"), help: "A base setting, key=value (repeatable), e.g. --set dataset=book-crossing.")
    var settings: [String] = []

    func run() throws {
        var searchSpace = reportingErrors { () -> SearchSpace in
            let text: String
            do { text = try String(contentsOfFile: space, encoding: .utf8) } catch { throw ConfigError("\(space): cannot read the search space") }
            var s = try SearchSpace(yaml: text, file: space)
            var overrides: [String: String] = [:]
            for kv in settings {
                guard let eq = kv.firstIndex(of: "="), eq != kv.startIndex else { throw ConfigError("--set \(kv): expected key=value") }
                overrides[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
            }
            try s.set(overrides)
            return s
        }
        if let trials {
            guard trials > 0 else { fail("--trials must be positive, got \(trials)") }
            searchSpace.trials = trials
        }
        let log = out.hasSuffix(".yaml") ? String(out.dropLast(5)) + ".trials.jsonl" : out + ".trials.jsonl"
        let tuner = Tuner(space: searchSpace, trialsFile: trialsFile ?? log, budgetSeconds: budgetMinutes.map { $0 * 60 }, log: { print($0) })
        let first = reportingErrors { try TrainConfig.resolve(yaml: searchSpace.yaml(searchSpace.configurations()[0]), yamlFile: space) }
        configureThreads(first.training.threads)
        let rungs = reportingErrors { try tuner.rungs() }
        print("\(searchSpace.configurations().count) configuration(s), \(searchSpace.method.rawValue) search"
              + (rungs.count > 1 ? "; successive halving over \(rungs.compactMap { $0 }.map(String.init).joined(separator: " → ")) epochs" : "")
              + "; choosing on valid \(first.evaluation.validMetric)")
        let outcome = reportingErrors { try tuner.run() }
        guard let best = outcome.best, let yaml = outcome.bestYAML else { fail("every trial failed; see \(trialsFile ?? log)") }
        reportingErrors { try AtomicFile.write(Data(yaml.utf8), to: out) }
        print("")
        print(String(format: "best: trial %d, valid %@ %.4f%@", best.trial + 1, first.evaluation.validMetric.description, best.score!,
                     outcome.stoppedByBudget ? " (the budget stopped the search early)" : ""))
        print("wrote \(out): tandem train --config \(out)")
    }
}
