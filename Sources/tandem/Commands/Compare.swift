import ArgumentParser
import Foundation
import TandemData
import TandemTrain

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train several models over several seeds on one split and print a table of test metrics (mean ± std).",
        discussion: "Prints progress as it goes: run i of n, each epoch (or EASE λ, iALS pass), and the time left.")
    @Option(help: "Comma-separated models, of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")) (default: pop,mf,two-tower).",
            transform: ModelList.parse) var models = ModelList([.pop, .mf, .twoTower])
    @Option(help: "Number of training seeds (the split stays fixed by --split-seed; one run for pop, ease, itemknn).") var seeds = 3
    @Option(name: .long, help: "YAML file of settings applied to every model.") var config: String?
    @Option(help: "Directory for one results JSON per run.") var resultsDir: String?
    @OptionGroup var flags: ConfigFlags

    func validate() throws {
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1, got \(seeds)") }
    }

    func run() throws {
        // The shared settings, checked against the first model (a key such as `ssl` is valid for some models only).
        let base = resolveConfig(file: config, flags: flags, model: models.kinds[0])
        let comparison = Comparison(models: models.kinds, seeds: seeds, log: { print($0) }) { model, offset in
            // Training seeds base.seed, base.seed + 1, …; the split stays that of base.seed (or split_seed).
            let cfg = resolveConfig(file: config, flags: flags, model: model) { c in
                c.seed = base.seed + UInt64(offset); c.data.splitSeed = base.data.splitSeed ?? base.seed
            }
            configureThreads(cfg.training.threads)
            return cfg
        }
        let rows = reportingErrors {
            try comparison.run { model, report in
                guard let dir = resultsDir else { return }
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try report.writeJSON(to: "\(dir)/\(model.rawValue)-seed\(report.config.seed).json")
            }
        }
        print("")
        print(resultTable(rows, ks: base.evaluation.ks))
    }
}
