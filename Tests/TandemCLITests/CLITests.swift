import Foundation
import Testing
import TandemTestSupport

/// The package root (this file is Tests/TandemCLITests/CLITests.swift).
let packageRoot = Fixtures.packageRoot

/// What one run of the `tandem` binary did.
struct Run {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs the `tandem` that `swift test` built (or `$TANDEM_BIN`) with `arguments`, in a fresh temporary directory.
func tandem(_ arguments: [String], in dir: String? = nil) throws -> Run {
    let binary = ProcessInfo.processInfo.environment["TANDEM_BIN"] ?? packageRoot + "/.build/debug/tandem"
    guard FileManager.default.isExecutableFile(atPath: binary) else {
        throw CLITestError("no tandem binary at \(binary): build it (swift build) or set TANDEM_BIN")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = arguments
    p.currentDirectoryURL = URL(fileURLWithPath: dir ?? scratch())
    var env = ProcessInfo.processInfo.environment
    env["TANDEM_DATA"] = packageRoot + "/data"
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

struct CLITestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func scratch() -> String {
    let dir = Fixtures.temporaryPath("cli")
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

let tiny = "synthetic:users=80,items=40,interactions=1500,clusters=3"
let fast = ["--dataset", tiny, "--epochs", "2", "--embedding-dim", "8", "--batch-size", "128", "--ks", "10,20"]

/// A trained MF model directory, made once for the verbs that read one.
let trainedModel: String = {
    let dir = scratch() + "/mf"
    let r = try! tandem(["train", "--model", "mf", "--output", dir, "--quiet"] + fast)
    precondition(r.status == 0, "training the shared model failed: \(r.stderr)")
    return dir
}()

/// One test per CLI verb: it runs, its output has the expected shape, and a bad input fails with one clear line.
@Suite(.serialized) struct CLITests {
    @Test func trainPrintsATableAndWritesItsOutputs() throws {
        let dir = scratch()
        let r = try tandem(["train", "--model", "mf", "--output", "m", "--results", "r.json", "--valid-metric", "ndcg@10"] + fast, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("model  runs  recall@10") && r.stdout.contains("best epoch"))
        for file in ["r.json", "m/manifest.json", "m/weights.safetensors", "m/config.json"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + file), "\(file)")
        }
        let bad = try tandem(["train", "--learning-rate", "abc"])
        #expect(bad.status != 0 && bad.stderr.contains("'abc'") && bad.stderr.contains("--learning-rate"))
        let choice = try tandem(["train", "--similarity", "euclid"])
        #expect(choice.status != 0 && choice.stderr.contains("'euclid'") && choice.stderr.contains("cosine"))
    }

    /// `--eval-users N`: metrics over a sample of N users, printed with their 95% intervals and written to the results
    /// (`ndcg@20/ci95`, `users_population`); the saved model's `tandem eval` scores the same sample.
    @Test func trainEvaluatesASampleOfUsers() throws {
        let dir = scratch()
        let r = try tandem(["train", "--model", "mf", "--eval-users", "40", "--output", "m", "--results", "r.json"] + fast, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("test sampled 40 of ") && r.stdout.contains("95% interval ± recall@10"), "\(r.stdout)")
        let results = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))) as! [String: Any]
        let test = results["test"] as! [String: Any], valid = results["valid"] as! [String: Any]
        #expect((test["users"] as? Double) == 40 && (valid["users"] as? Double) == 40 && test["ndcg@20/ci95"] is Double)
        let eval = try tandem(["eval", "--model-dir", "m"], in: dir)
        #expect(eval.status == 0 && eval.stdout.contains("test sampled 40 of "), "\(eval.stderr)")
        let whole = try tandem(["eval", "--model-dir", "m", "--eval-users", "0"], in: dir)
        #expect(whole.status == 0 && whole.stdout.contains("test  recall@10") && !whole.stdout.contains("sampled"), "\(whole.stderr)")
        let bad = try tandem(["train", "--eval-users=-1"] + fast)
        #expect(bad.status != 0 && bad.stderr.contains("eval_users"), "\(bad.stderr)")
    }

    /// The neighbour-list models train, save and evaluate from the CLI with their table row (no geometry: "-"); a bad
    /// neighbour count is one line.
    @Test func neighbourListModelsTrainSaveAndEvaluate() throws {
        let dir = scratch()
        for model in ["itemknn", "sparse-ease"] {
            let r = try tandem(["train", "--dataset", tiny, "--model", model, "--ease-lambdas", "[10]", "--output", model, "--results", model + ".json"], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            let row = r.stdout.split(separator: "\n").first { $0.hasPrefix(model + "  ") }.map(String.init) ?? ""
            #expect(row.contains("  -  "), "\(r.stdout)")
            let eval = try tandem(["eval", "--model-dir", model], in: dir)
            #expect(eval.status == 0 && eval.stdout.contains("test  recall@10"), "\(eval.stderr)")
        }
        let bad = try tandem(["train", "--dataset", tiny, "--model", "sparse-ease", "--sparse-ease-neighbours", "0"], in: dir)
        #expect(bad.status != 0 && bad.stderr.contains("sparse_ease_neighbours must be ≥ 1"), "\(bad.stderr)")
    }

    /// Training files with a header and no rows are refused, not trained for eleven empty epochs.
    @Test func trainRefusesEmptyTrainingData() throws {
        let dir = scratch()
        try "user_id\titem_id\n".write(toFile: dir + "/train.tsv", atomically: true, encoding: .utf8)
        try "user_id\titem_id\nu1\ti1\n".write(toFile: dir + "/valid.tsv", atomically: true, encoding: .utf8)
        try "user_id\titem_id\nu1\ti2\n".write(toFile: dir + "/test.tsv", atomically: true, encoding: .utf8)
        let r = try tandem(["train", "--train", "train.tsv", "--valid", "valid.tsv", "--test", "test.tsv"], in: dir)
        #expect(r.status != 0 && r.stderr.contains("no training interactions"), "\(r.stdout) \(r.stderr)")
    }

    /// The default build has no MPI: asking for it, or for the collective benchmark, says how to build it.
    @Test func distributedNeedsTheMPIBuild() throws {
        let train = try tandem(["train", "--distributed", "mpi"] + fast)
        #expect(train.status != 0 && train.stderr.contains("--traits MPI"), "\(train.stderr)")
        let bench = try tandem(["comm-bench"])
        #expect(bench.status != 0 && bench.stderr.contains("--traits MPI"), "\(bench.stderr)")
        let alone = try tandem(["train", "--model", "mf", "--distributed", "none", "--quiet"] + fast)
        #expect(alone.status == 0 && !alone.stdout.contains("data-parallel"), "\(alone.stderr)")
    }

    /// train-bench trains without evaluating and prints one line per epoch with its rate, and peak memory.
    @Test func trainBenchTimesEpochs() throws {
        let r = try tandem(["train-bench", "--model", "mf"] + fast)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("peak RSS") && r.stdout.contains("epoch 2:") && r.stdout.contains("examples/s"), "\(r.stdout)")
        let bad = try tandem(["train-bench", "--dataset", "synthetic:users=oops"])
        #expect(bad.status != 0 && bad.stderr.contains("synthetic"), "\(bad.stderr)")
    }

    @Test func compareTakesOtherCutOffs() throws {
        let r = try tandem(["compare", "--models", "pop,mf", "--seeds", "1", "--ks", "10", "--valid-metric", "ndcg@10"] + fast.dropLast(2))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("recall@10  ndcg@10  mrr@10") && r.stdout.contains("valid ndcg@10"))
        // Progress: run i of n with each epoch, then the run's result and the time left.
        #expect(r.stdout.contains("[2/2] mf seed 2020 · epoch") && r.stdout.contains("[1/2] pop seed 2020: valid"), "\(r.stdout)")
        let bad = try tandem(["compare", "--models", "mf,gpt", "--seeds", "1"] + fast)
        #expect(bad.status != 0 && bad.stderr.contains("'gpt'") && bad.stderr.contains("two-tower"))
    }

    /// tune: a search on validation writes the best config, which train takes; a rerun continues from the trials file.
    @Test func tuneWritesAConfigTrainTakes() throws {
        let dir = scratch()
        try """
            base: {model: ease, dataset: "\(tiny)", ks: [10, 20]}
            search: grid
            space: {ease_lambdas: [1, 10, 100]}
            """.write(toFile: dir + "/space.yaml", atomically: true, encoding: .utf8)
        let r = try tandem(["tune", "--space", "space.yaml", "--out", "best.yaml"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("[trial 3/3 · rung 1/1] ease_lambdas=100 → valid") && r.stdout.contains("wrote best.yaml"), "\(r.stdout)")
        #expect(!r.stdout.contains("test"), "a search must not print test metrics: \(r.stdout)")
        let lines = try String(contentsOfFile: dir + "/best.trials.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        let trained = try tandem(["train", "--config", "best.yaml", "--quiet"], in: dir)
        #expect(trained.status == 0 && trained.stdout.contains("ease"), "\(trained.stderr)")
        let again = try tandem(["tune", "--space", "space.yaml", "--out", "best.yaml"], in: dir)
        #expect(again.status == 0 && again.stdout.contains("continuing: 3 trial run(s)") && !again.stdout.contains("[trial"), "\(again.stdout)")
        let bad = try tandem(["tune", "--space", "space.yaml", "--set", "ease_lambdas=5"], in: dir)
        #expect(bad.status != 0 && bad.stderr.contains("ease_lambdas is tuned"), "\(bad.stderr)")
    }

    /// A run killed with SIGKILL between checkpoints and resumed with `--resume` ends with the uninterrupted run's
    /// epochs and test metrics; a resume with other settings, or from a directory without a checkpoint, is refused.
    @Test func trainResumesAfterSIGKILL() throws {
        let dir = scratch()
        let args = ["train", "--model", "mf", "--dataset", tiny, "--epochs", "60", "--patience", "1000", "--embedding-dim", "8",
                    "--batch-size", "64", "--ks", "10,20", "--quiet"]
        let whole = try tandem(args + ["--results", "whole.json"], in: dir)
        #expect(whole.status == 0, "\(whole.stderr)")
        let binary = ProcessInfo.processInfo.environment["TANDEM_BIN"] ?? packageRoot + "/.build/debug/tandem"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args + ["--results", "killed.json", "--checkpoint", "ck", "--checkpoint-minutes", "0.000001"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try p.run()
        let checkpoint = dir + "/ck/checkpoint.safetensors"
        while p.isRunning && !FileManager.default.fileExists(atPath: checkpoint) { usleep(10_000) }
        usleep(300_000)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal, "the run ended before it could be killed: make it longer")
        #expect(!FileManager.default.fileExists(atPath: dir + "/killed.json"))
        let resumed = try tandem(["train", "--resume", "ck"], in: dir)
        #expect(resumed.status == 0 && resumed.stdout.contains("resumed: "), "\(resumed.stderr)")
        func report(_ name: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))) as! [String: Any]
        }
        let a = try report("whole.json"), b = try report("killed.json")
        #expect(a["test"] as! [String: Double] == b["test"] as! [String: Double])
        #expect((a["epochs"] as! [[String: Any]]).map { $0["loss"] as! Double } == (b["epochs"] as! [[String: Any]]).map { $0["loss"] as! Double })
        let other = try tandem(["train", "--resume", "ck", "--learning-rate", "0.5"], in: dir)
        #expect(other.status != 0 && other.stderr.contains("learning_rate"), "\(other.stderr)")
        let missing = try tandem(["train", "--resume", "nowhere"], in: dir)
        #expect(missing.status != 0 && missing.stderr.contains("no checkpoint here"), "\(missing.stderr)")
    }

    /// The claims report writes its page and its runs, resumes from them, and refuses bad input with one line.
    @Test func reportClaimsWritesAPageAndResumes() throws {
        let dir = scratch()
        let args = ["report", "claims", "--quick", "--epochs", "1", "--dataset", tiny, "--out", "claims"]
        let r = try tandem(args, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("to run") && r.stdout.contains("C1 ") && r.stdout.contains("wrote claims/index.html"))
        let page = try String(contentsOfFile: dir + "/claims/index.html", encoding: .utf8)
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("<svg ") && page.contains("tandem report claims --quick"))
        let again = try tandem(args, in: dir)
        #expect(again.status == 0 && again.stdout.contains(", 0 to run"), "\(again.stdout)")
        let partial = try tandem(["report", "claims", "--quick", "--epochs", "2", "--dataset", tiny, "--out", "claims",
                                  "--page-only"], in: dir)
        #expect(partial.status == 0 && partial.stdout.contains("page only: ") && partial.stdout.contains("could not be compared"),
                "\(partial.stdout)")
        // --full plans every sweep point (the full-only ones named on the page, here not run).
        let full = try tandem(["report", "claims", "--full", "--epochs", "1", "--dataset", tiny, "--out", "claims", "--page-only"], in: dir)
        let fullPage = try String(contentsOfFile: dir + "/claims/index.html", encoding: .utf8)
        #expect(full.status == 0 && full.stdout.contains("page only: ") && fullPage.contains("SGL random walk"), "\(full.stderr)")
        let both = try tandem(["report", "claims", "--quick", "--full"])
        #expect(both.status != 0 && both.stderr.contains("--quick and --full"))
        let bad = try tandem(["report", "claims", "--seeds", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("--seeds"))
        let minutes = try tandem(["report", "claims", "--extra-seed-minutes", "-5"])
        #expect(minutes.status != 0 && minutes.stderr.contains("--extra-seed-minutes"), "\(minutes.stderr)")
        let unknown = try tandem(["report", "claims", "--quick", "--dataset", "no-such-data"])
        #expect(unknown.status != 0 && unknown.stderr.contains("no-such-data"))
    }

    @Test func evalReportsValidAndTest() throws {
        let r = try tandem(["eval", "--model-dir", trainedModel])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("valid  recall@10") && lines[1].hasPrefix("test  recall@10"))
        let bad = try tandem(["eval", "--model-dir", "/nonexistent/model"])
        #expect(bad.status != 0 && bad.stderr.contains("manifest.json"))
    }

    @Test func exportWritesEmbeddingsAndIds() throws {
        let dir = scratch()
        let r = try tandem(["export", "--model-dir", trainedModel, "--out", dir])
        #expect(r.status == 0, "\(r.stderr)")
        for file in ["users.npy", "items.npy", "user_ids.txt", "item_ids.txt"] { #expect(FileManager.default.fileExists(atPath: dir + "/" + file)) }
        let ids = try String(contentsOfFile: dir + "/item_ids.txt", encoding: .utf8).split(separator: "\n")
        #expect(ids.count == 40)
        let pop = scratch() + "/pop"
        #expect(try tandem(["train", "--model", "pop", "--output", pop] + fast).status == 0)
        let bad = try tandem(["export", "--model-dir", pop, "--out", dir])
        #expect(bad.status != 0 && bad.stderr.contains("no learned embeddings"))
    }

    @Test func dataVerbs() throws {
        let stats = try tandem(["data", "stats", "--dataset", tiny])
        #expect(stats.status == 0 && stats.stdout.contains("density") && stats.stdout.contains("random:0.8,0.1,0.1"), "\(stats.stderr)")
        let dir = scratch()
        let split = try tandem(["data", "split", "--dataset", tiny, "--out", dir])
        #expect(split.status == 0, "\(split.stderr)")
        let train = try String(contentsOfFile: dir + "/train.tsv", encoding: .utf8).split(separator: "\n")
        #expect(train.first == "user_id\titem_id" && train.count > 1000)
        let badSplit = try tandem(["data", "split", "--dataset", tiny, "--split", "halves", "--out", dir])
        #expect(badSplit.status != 0 && badSplit.stderr.contains("'halves'"))
        let badStats = try tandem(["data", "stats", "--dataset", "/nonexistent"])
        #expect(badStats.status != 0 && badStats.stderr.contains("/nonexistent"))
        let fetch = try tandem(["data", "fetch", "ml-100k"])  // already in the cache: checksums verified, path printed
        #expect(fetch.status == 0 && fetch.stdout.contains("ml-100k"), "\(fetch.stderr)")
        let badFetch = try tandem(["data", "fetch", "ml-200k"])
        #expect(badFetch.status != 0 && badFetch.stderr.contains("unknown dataset 'ml-200k'"))
    }

    @Test func indexVerbs() throws {
        let dir = scratch() + "/model"
        try FileManager.default.copyItem(atPath: trainedModel, toPath: dir)
        let build = try tandem(["index", "build", "--model-dir", dir, "--factory", "HNSW16", "--recall-queries", "25"])
        #expect(build.status == 0 && build.stdout.contains("recall@10 vs exact") && build.stdout.contains("over 25 queries")
                && FileManager.default.fileExists(atPath: dir + "/index.hnsw"), "\(build.stderr)")
        let negative = try tandem(["index", "build", "--model-dir", dir, "--recall-queries=-1"])
        #expect(negative.status != 0 && negative.stderr.contains("--recall-queries must be ≥ 0"), "\(negative.stderr)")
        let bad = try tandem(["index", "build", "--model-dir", dir, "--factory", "IVF64"])
        #expect(bad.status != 0 && bad.stderr.contains("IVF64"))
        let bench = try tandem(["index", "bench", "--items", "2000", "--queries", "20", "--dim", "8", "--factory", "Flat"])
        #expect(bench.status == 0 && bench.stdout.contains("recall@10 vs exact 1.0000"), "\(bench.stderr)")
        let badMetric = try tandem(["index", "bench", "--metric", "l2"])
        #expect(badMetric.status != 0 && badMetric.stderr.contains("'l2'"))
        // add-items: a two-tower model with item features takes new items; MF (no item tower) refuses them.
        let work = scratch()
        try "item_id\tgenre\ttags\nfresh\tc1\tt0 t1\n".write(toFile: work + "/new.tsv", atomically: true, encoding: .utf8)
        let tt = try tandem(["train", "--model", "two-tower", "--output", "tt", "--quiet"] + fast, in: work)
        #expect(tt.status == 0, "\(tt.stderr)")
        let added = try tandem(["index", "add-items", "--model-dir", "tt", "--item-features", "new.tsv"], in: work)
        #expect(added.status == 0 && added.stdout.contains("added 1 item(s) to tt (now 41 items)"), "\(added.stdout) \(added.stderr)")
        let refused = try tandem(["index", "add-items", "--model-dir", dir, "--item-features", work + "/new.tsv"])
        #expect(refused.status != 0 && refused.stderr.contains("no item tower"), "\(refused.stderr)")
    }

    @Test func serveRefusesAMissingModelAndFuzzRuns() throws {
        let bad = try tandem(["serve", "--model-dir", "/nonexistent/model"])
        #expect(bad.status != 0 && bad.stderr.contains("manifest.json"))
        let noToken = try tandem(["serve", "--model-dir", trainedModel, "--admin-token-file", "/nonexistent/token"])
        #expect(noToken.status != 0 && noToken.stderr.contains("/nonexistent/token: cannot read the admin token file"), "\(noToken.stderr)")
        let fuzz = try tandem(["fuzz-api", "--model-dir", trainedModel, "--iterations", "300"])
        #expect(fuzz.status == 0 && fuzz.stdout.contains("300 bodies") && fuzz.stdout.contains("no crash"), "\(fuzz.stderr)")
    }

    @Test func cascadeEval() throws {
        let r = try tandem(["cascade", "eval", "--channel", trainedModel, "--channel", "pop", "--ranker", trainedModel,
                            "--factory", "Flat", "--per-channel", "10", "--ks", "10"])
        #expect(r.status == 0 && r.stdout.contains("pre-ranked by mf"), "\(r.stderr)")
        let bad = try tandem(["cascade", "eval", "--channel", "pop", "--ranker", trainedModel, "--ks", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("--ks"))
    }

    @Test func benchMeasures() throws {
        let r = try tandem(["bench", "--dataset", tiny, "--timed-epochs", "1", "--batch-size", "64"])
        #expect(r.status == 0 && r.stdout.contains("train mf") && r.stdout.contains("full-ranking evaluation"), "\(r.stderr)")
        let bad = try tandem(["bench", "--timed-epochs", "many"])
        #expect(bad.status != 0 && bad.stderr.contains("'many'"))
    }

    /// `--help` says what each flag takes (a value name or the choices) and its default, with the models that differ.
    @Test func helpShowsTypesChoicesAndDefaults() throws {
        let r = try tandem(["train", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("--learning-rate <x>") && r.stdout.contains("--ks <k,k,...>"))
        #expect(r.stdout.contains("values: dot, cosine") && r.stdout.contains("values: pop, mf, two-tower"))
        // ArgumentParser wraps help at 80 columns: compare with the line breaks and indentation taken out.
        let help = r.stdout.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        #expect(help.contains("0: evaluate the initialised model). (default 100)"), "\(help)")
        #expect(help.contains("(default 0.001; mf: 0.003;"))
    }

    /// The generated flags match the settings types (a changed setting without `python3 scripts/gen_flags.py` fails here).
    @Test func generatedFlagsAreCurrent() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", packageRoot + "/scripts/gen_flags.py", "--check"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(message)")
    }
}
