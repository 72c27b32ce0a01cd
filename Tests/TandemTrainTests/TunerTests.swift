import Foundation
import Testing
import TandemData
import TandemTrain
import TandemTestSupport

@Suite struct TunerTests {
    static let data = "\"synthetic:users=300,items=120,interactions=6000,clusters=4,seed=3\""

    /// A report whose validation NDCG@20 is `score` (what a fake trainer returns).
    static func report(_ cfg: TrainConfig, _ score: Double, epochs: Int) -> RunReport {
        let e = (1...max(1, epochs)).map { EpochSummary(epoch: $0, loss: 0, seconds: 0, examplesPerSecond: 0, valid: nil) }
        return RunReport(model: cfg.model.rawValue, dataset: "", config: cfg, valid: ["ndcg@20": score], test: [:], bestEpoch: epochs,
                         epochs: e, trainSeconds: 0, geometry: [:])
    }

    @Test func readsDistributionsAndRefusesBadSpaces() throws {
        let s = try SearchSpace(yaml: """
            base: {model: mf, dataset: \(Self.data)}
            space:
              learning_rate: {log_uniform: [0.0001, 0.1]}
              temperature: [0.1, 0.2]
              embedding_dim: {int: [8, 64]}
              weight_decay: {uniform: [0, 0.01]}
            trials: 50
            """)
        #expect(s.method == .random && s.trials == 50 && s.keys == ["embedding_dim", "learning_rate", "temperature", "weight_decay"])
        let configs = s.configurations()
        #expect(configs.count == 50)
        for c in configs {
            guard case .number(let lr) = c["learning_rate"], case .integer(let d) = c["embedding_dim"], case .number(let wd) = c["weight_decay"] else {
                Issue.record("wrong kinds: \(c)"); continue
            }
            #expect(lr >= 0.0001 && lr <= 0.1 && d >= 8 && d <= 64 && wd >= 0 && wd <= 0.01)
            #expect(c["temperature"] == .number(0.1) || c["temperature"] == .number(0.2))
        }
        // Log-uniform: about half the draws below the geometric midpoint 0.00316 (a uniform draw would put ~3% there).
        let low = configs.filter { if case .number(let x) = $0["learning_rate"]! { return x < 0.00316 }; return false }.count
        #expect(low > 12 && low < 38)
        // Drawing more keeps the first draws: a rerun with a larger `trials` extends the search.
        var more = s
        more.trials = 60
        #expect(Array(more.configurations().prefix(50)) == configs)
        // Every drawn configuration resolves to a valid config.
        let cfg = try TrainConfig.resolve(yaml: s.yaml(configs[0], epochs: 3))
        #expect(cfg.training.epochs == 3 && cfg.model == .mf)

        let bad: [(String, String)] = [
            ("space: {learning_rat: [0.1]}", "learning_rat is not a config key"),
            ("space: {learning_rate: {normal: [0, 1]}}", "unknown distribution 'normal'"),
            ("space: {learning_rate: {log_uniform: [0, 1]}}", "log_uniform needs low > 0"),
            ("space: {learning_rate: {uniform: [1, 0]}}", "low ≤ high"),
            ("search: grid\nspace: {learning_rate: {uniform: [0, 1]}}", "grid search takes choice keys only"),
            ("base: {learning_rate: 0.1}\nspace: {learning_rate: [0.1]}", "both in base and in space"),
            ("space: {learning_rate: [0.1]}\ntrails: 3", "unknown key 'trails'"),
            ("space: {learning_rate: [0.1], temperature: [0.2]}\ninclude: [{learning_rate: 0.3}]", "include[0] does not set temperature"),
            ("space: {learning_rate: [0.1]}\ninclude: [{learning_rate: 0.3, temperature: 0.2}]", "include[0].temperature is not a tuned key"),
        ]
        for (text, message) in bad {
            #expect(throws: ConfigError.self, "\(text)") { try SearchSpace(yaml: text, file: "s.yaml") }
            do { _ = try SearchSpace(yaml: text, file: "s.yaml") } catch let e as ConfigError {
                #expect(e.description.contains(message) && e.description.hasPrefix("s.yaml"), "\(e.description)")
            }
        }
    }

    /// Words are written so that YAML reads them back unchanged (quoted when they hold ": ", "#" or look like a number).
    @Test func wordsSurviveTheYAMLRoundTrip() throws {
        for word in ["cosine", "synthetic:users=80,items=40", "a: b", "x #y", "1e-3", "true", "data/my dir"] {
            let text = "dataset: \(ParameterValue.word(word))"
            #expect(try TrainConfig.resolve(yaml: text).data.dataset == word, "\(text)")
        }
    }

    /// Grid search enumerates every combination; a number tuned for a list key (EASE's λ grid) becomes a one-element list.
    @Test func gridEnumeratesEveryCombination() throws {
        let s = try SearchSpace(yaml: "base: {model: ease}\nsearch: grid\nspace: {ease_lambdas: [10, 20.5], seed: [1, 2, 3]}")
        #expect(s.configurations().count == 6)
        let cfg = try TrainConfig.resolve(yaml: s.yaml(s.configurations()[1]) + "dataset: x\n")
        #expect(cfg.ease.easeLambdas == [10] && cfg.seed == 2)
        #expect(try TrainConfig.resolve(yaml: s.yaml(s.configurations()[3]) + "dataset: x\n").ease.easeLambdas == [20.5])
    }

    /// Included configurations come first and run like any other: a search whose draws all score below the included
    /// one (a model's defaults) ends with it; listing one changes the search's fingerprint (its trials file is another).
    @Test func includedConfigurationsRunFirstAndCanWin() throws {
        let text = """
            base: {model: mf, dataset: \(Self.data), epochs: 2}
            space: {learning_rate: {log_uniform: [0.1, 1]}, temperature: [0.5, 1]}
            trials: 4
            """
        let plain = try SearchSpace(yaml: text)
        let s = try SearchSpace(yaml: text + "\ninclude: [{learning_rate: 0.003, temperature: 0.2}]")
        #expect(s.configurations().count == 5 && Array(s.configurations().dropFirst()) == plain.configurations())
        #expect(s.configurations()[0] == ["learning_rate": .number(0.003), "temperature": .number(0.2)])
        #expect(s.fingerprint != plain.fingerprint)
        var seen: [Float] = []
        // Score falls with the learning rate: every draw (≥ 0.1) loses to the included 0.003.
        let outcome = try Tuner(space: s, trialsFile: nil, log: { _ in }) { cfg, _ in
            seen.append(cfg.training.learningRate)
            return Self.report(cfg, 1 - Double(cfg.training.learningRate), epochs: cfg.training.epochs)
        }.run()
        #expect(seen.first == 0.003 && seen.count == 5)
        #expect(outcome.best?.trial == 0 && outcome.best?.params["temperature"] == .number(0.2))
        #expect(try TrainConfig.resolve(yaml: outcome.bestYAML!).training.learningRate == 0.003)
    }

    /// Successive halving: 9 configurations at 1 epoch, the best 3 at 3 epochs (the best of them first), the best 1 at
    /// 9; the winner is the configuration whose score is highest, and the weak ones never train long.
    @Test func halvingPromotesTheBestThird() throws {
        let s = try SearchSpace(yaml: """
            base: {model: mf, dataset: \(Self.data), epochs: 9}
            search: grid
            space: {learning_rate: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009]}
            halving: {min_epochs: 1, eta: 3}
            """)
        var runs: [(lr: Float, epochs: Int)] = []
        // Score peaks at learning rate 0.006; more epochs score higher.
        let tuner = Tuner(space: s, trialsFile: nil, log: { _ in }) { cfg, _ in
            runs.append((cfg.training.learningRate, cfg.training.epochs))
            return Self.report(cfg, Double(cfg.training.epochs) - Double(abs(cfg.training.learningRate - 0.006)) * 100, epochs: cfg.training.epochs)
        }
        #expect(try tuner.rungs() == [1, 3, 9])
        let outcome = try tuner.run()
        #expect(runs.filter { $0.epochs == 1 }.count == 9)
        #expect(Set(runs.filter { $0.epochs == 3 }.map(\.lr)) == [0.005, 0.006, 0.007])
        #expect(runs.filter { $0.epochs == 3 }.first?.lr == 0.006)  // promoted trials train best first
        #expect(runs.filter { $0.epochs == 9 }.map(\.lr) == [0.006])
        #expect(outcome.best?.params["learning_rate"] == .number(0.006) && outcome.best?.rung == 2 && !outcome.stoppedByBudget)
        #expect(outcome.bestYAML?.contains("budget") == false)
        let best = try TrainConfig.resolve(yaml: outcome.bestYAML!)
        #expect(best.training.learningRate == 0.006 && best.training.epochs == 9 && best.data.dataset?.hasPrefix("synthetic") == true)
    }

    /// A real search on planted clusters: a learning rate of 1e-6 cannot learn in 3 epochs, 0.01 can; the tuner picks
    /// 0.01 and cuts 1e-6 after its first epoch. A rerun reads every trial from the trials file and trains nothing.
    @Test func findsTheLearningRateThatLearnsAndResumes() throws {
        let path = Fixtures.temporaryPath("tune") + ".jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let s = try SearchSpace(yaml: """
            base: {model: mf, dataset: \(Self.data), epochs: 3, embedding_dim: 16}
            search: grid
            space: {learning_rate: [0.000001, 0.01]}
            halving: {min_epochs: 1, eta: 2}
            """)
        let outcome = try Tuner(space: s, trialsFile: path, log: { _ in }).run()
        #expect(outcome.best?.params["learning_rate"] == .number(0.01))
        #expect(outcome.records.count == 4)  // 2 at 1 epoch, 1 at 2, 1 at 3
        #expect(outcome.records.filter { $0.params["learning_rate"] == .number(0.000001) }.map(\.rung) == [0])
        #expect(outcome.records.allSatisfy { $0.valid["recall@20"] != nil })

        let again = try Tuner(space: s, trialsFile: path, log: { _ in }) { _, _ in
            Issue.record("a finished trial was trained again")
            throw ConfigError("stop")
        }.run()
        #expect(again.best?.trial == outcome.best?.trial && again.best?.score == outcome.best?.score)
        // A last line cut short by a kill: that trial runs again, the rest is kept.
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        try (lines.dropLast().joined(separator: "\n") + "\n" + lines.last!.prefix(40)).write(toFile: path, atomically: true, encoding: .utf8)
        var rerun = 0
        let cut = try Tuner(space: s, trialsFile: path, log: { _ in }) { cfg, ds in rerun += 1; return try Tuner.trainOnValidation(cfg, ds) }.run()
        #expect(rerun == 1 && cut.records.count == 4 && cut.best?.trial == outcome.best?.trial)
        // Another search's trials file is refused, not mixed in.
        var other = s
        other.seed = 9
        #expect(throws: ConfigError.self) { try Tuner(space: other, trialsFile: path, log: { _ in }).run() }
    }

    /// The budget stops launching trials: the search ends early, says so, and still reports its best so far.
    @Test func budgetStopsTheSearch() throws {
        let s = try SearchSpace(yaml: "base: {model: mf, dataset: \(Self.data), epochs: 1}\nsearch: grid\nspace: {seed: [1, 2, 3, 4, 5, 6]}")
        var count = 0
        let outcome = try Tuner(space: s, trialsFile: nil, budgetSeconds: 0.25, log: { _ in }) { cfg, _ in
            count += 1
            Thread.sleep(forTimeInterval: 0.1)
            return Self.report(cfg, Double(cfg.seed), epochs: 1)
        }.run()
        #expect(outcome.stoppedByBudget && count >= 1 && count < 6)
        #expect(outcome.best?.score == Double(count))
        #expect(outcome.bestYAML?.hasPrefix("# tandem tune:") == true && outcome.bestYAML?.contains("the budget stopped the search early") == true)
    }

    /// A diverged or refused trial is recorded as failed and the search goes on.
    @Test func failedTrialsAreRecordedNotFatal() throws {
        let s = try SearchSpace(yaml: "base: {model: mf, dataset: \(Self.data), epochs: 1}\nsearch: grid\nspace: {temperature: [0, 0.2]}")
        let outcome = try Tuner(space: s, trialsFile: nil, log: { _ in }) { cfg, _ in Self.report(cfg, 0.5, epochs: 1) }.run()
        #expect(outcome.records.count == 2)
        #expect(outcome.records[0].score == nil && outcome.records[0].error?.contains("temperature must be positive") == true)
        #expect(outcome.best?.trial == 1)
    }

    /// Every search space shipped in configs/tune reads, and its first configuration is a valid config.
    @Test func shippedSpacesAreValid() throws {
        let root = Fixtures.packageRoot
        let dir = root + "/configs/tune"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 4)
        for file in files {
            var s = try SearchSpace(yaml: String(contentsOfFile: dir + "/" + file, encoding: .utf8), file: file)
            try s.set(["dataset": "ml-100k"])
            _ = try TrainConfig.resolve(yaml: s.yaml(s.configurations()[0]), yamlFile: file)
            _ = try Tuner(space: s, trialsFile: nil, log: { _ in }).rungs()
        }
    }

    /// Every committed tuned config (configs/DATASET/MODEL.yaml) resolves, and holds the dataset and model its path names.
    @Test func committedConfigsResolveToTheirDatasetAndModel() throws {
        let root = Fixtures.packageRoot
        let fm = FileManager.default
        let datasets = try fm.contentsOfDirectory(atPath: root + "/configs").filter { $0 != "tune" }.sorted()
        #expect(datasets.contains("ml-100k") && datasets.contains("ml-1m") && datasets.contains("book-crossing"))
        for dataset in datasets {
            for file in try fm.contentsOfDirectory(atPath: "\(root)/configs/\(dataset)").filter({ $0.hasSuffix(".yaml") }) {
                let path = "\(root)/configs/\(dataset)/\(file)"
                let cfg = try TrainConfig.resolve(yaml: String(contentsOfFile: path, encoding: .utf8), yamlFile: path)
                #expect(cfg.data.dataset == dataset, "\(path)")
                #expect(cfg.model.rawValue + ".yaml" == file, "\(path)")
            }
        }
    }
}
