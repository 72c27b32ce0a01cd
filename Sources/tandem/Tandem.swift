import ArgumentParser
import Foundation
import TandemTensor
import TandemData
import TandemTrain
import TandemModels
import TandemEval
import TandemDistributed
import TandemIndex
import TandemServe
import NIOCore
import NIOPosix

@main
struct Tandem: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem",
        abstract: "Train, evaluate and export contrastive retrieval models for recommender systems.",
        version: tandemVersion,
        subcommands: [Train.self, TrainBench.self, CommBench.self, Compare.self, Eval.self, Export.self, DataCommand.self, ReportCommand.self, IndexCommand.self, Serve.self,
                      Serve.Fuzz.self, CascadeCommand.self, Bench.self]
    )

    static func main() async {
        Memory.lineBufferStandardOutput()
        Memory.reuseFreedMemory()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand { try await asyncCommand.run() } else { try command.run() }
        } catch {
            exit(withError: error)
        }
    }
}

/// Prints to standard error and exits non-zero with a message a person can act on.
func fail(_ message: String) -> Never {
    // One failed rank must stop the whole job (the others would wait in their next collective call).
    if let comm = ranks, comm.size > 1 { comm.abort("error: \(message)", code: 1) }
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    Foundation.exit(1)
}

/// The ranks of a data-parallel run, once `tandem train` has joined them.
nonisolated(unsafe) var ranks: Communicator?

/// Runs `body`, turning Tandem's own errors into one clear line and a non-zero exit.
func reportingErrors<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch let e as DataError { fail(e.description) } catch let e as ConfigError { fail(e.description) } catch let e as NonFiniteLossError {
        fail(e.description)
    } catch { fail("\(error)") }
}

func configureThreads(_ n: Int?) {
    if let n { Parallel.cores = max(1, n) }
    BLAS.setThreads(1)
}

func resolveConfig(file: String?, flags: ConfigFlags, extra: [String: String] = [:]) -> TrainConfig {
    reportingErrors {
        let yaml = try file.map { path -> String in
            do { return try String(contentsOfFile: path, encoding: .utf8) } catch { throw ConfigError("\(path): cannot read config file") }
        }
        return try TrainConfig.resolve(yaml: yaml, yamlFile: file ?? "config", overrides: flags.overrides.merging(extra) { $1 })
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model and evaluate it with full ranking (valid for early stopping, test at the end).",
        discussion: "Settings come from the model's tuned defaults, then --config, then flags. Example: tandem train --model mf --dataset ml-100k")
    @Option(name: .long, help: "YAML file of settings (keys as the flags, in snake_case).") var config: String?
    @OptionGroup var flags: ConfigFlags
    @Flag(name: .long, help: "Print less (no per-epoch lines).") var quiet = false
    @Option(help: "Data-parallel training: auto (MPI when started by mpirun), mpi, or none.") var distributed: Distributed = .auto

    enum Distributed: String, ExpressibleByArgument, CaseIterable { case auto, mpi, none }

    func run() throws {
        let comm: Communicator = distributed == .none ? LocalCommunicator()
            : reportingErrors { try Launch.communicator(forceMPI: distributed == .mpi) }
        ranks = comm
        let cfg = resolveConfig(file: config, flags: flags)
        configureThreads(cfg.training.threads)
        // Every rank trains; rank 0 alone prints, writes the model directory and the results.
        let log: (String) -> Void = quiet || !comm.isRoot ? { _ in } : { print($0) }
        let ds = loadDataset(cfg, ranks: comm, log: log)
        if comm.isRoot {
            print("\(ds.name): \(ds.numUsers) users, \(ds.numItems) items, train/valid/test \(ds.split.train.count)/\(ds.split.valid.count)/\(ds.split.test.count)"
                  + (comm.size > 1 ? "; data-parallel on \(comm.size) ranks" : ""))
        }
        let trainer = reportingErrors { try Trainer(config: cfg, dataset: ds, communicator: comm, log: log) }
        let output = comm.isRoot ? cfg.outputs.output : nil
        let report = reportingErrors {
            try trainer.run { model in
                if let output { try ModelStore.save(model, config: cfg, dataset: ds, to: output) }
            }
        }
        guard comm.isRoot else { return }
        reportingErrors {
            if let output, report.epochs.isEmpty || trainer.model.parameters.isEmpty {
                try ModelStore.save(trainer.model, config: cfg, dataset: ds, to: output)
            }
            if let output { try ModelStore.recordResults(report, in: output) }
            if let path = cfg.outputs.results { try report.writeJSON(to: path) }
        }
        print("")
        print(resultTable([(cfg.model.rawValue, [report])], ks: cfg.evaluation.ks))
        print(String(format: "best epoch %d, %.1fs", report.bestEpoch, report.trainSeconds))
    }
}

/// The dataset on every rank: rank 0 loads it first (fetching and converting it if missing), then the others read it.
func loadDataset(_ cfg: TrainConfig, ranks comm: Communicator, log: @escaping (String) -> Void) -> Dataset {
    if !comm.isRoot { reportingErrors { try comm.barrier() } }
    let ds = reportingErrors { try cfg.loadDataset(log: log) }
    if comm.isRoot { reportingErrors { try comm.barrier() } }
    return ds
}

struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-bench",
        abstract: "Time training alone (no evaluation): examples/s per epoch, communication share under MPI, peak memory.",
        discussion: "Same settings as train. Under mpirun (MPI build) every rank trains its share; rank 0 prints. Example: tandem train-bench --model mf --dataset synthetic:users=100000,items=100000,interactions=10000000 --epochs 1")
    @OptionGroup var flags: ConfigFlags

    func run() throws {
        let comm = reportingErrors { try Launch.communicator() }
        ranks = comm
        let cfg = resolveConfig(file: nil, flags: flags)
        configureThreads(cfg.training.threads)
        let t0 = Date()
        let ds = loadDataset(cfg, ranks: comm, log: { _ in })
        let loading = Date().timeIntervalSince(t0)
        let trainer = reportingErrors { try Trainer(config: cfg, dataset: ds, communicator: comm, log: { _ in }) }
        let report = reportingErrors { try trainer.run(evaluating: false) }
        var peak = [Double(Benchmarks.peakResidentBytes())]
        reportingErrors { try comm.allreduceSum(&peak) }
        guard comm.isRoot else { return }
        print(String(format: "%@: %d training interactions; %d rank(s) × %d thread(s); loading %.1f s; peak RSS %.2f GiB (all ranks)",
                     ds.name, ds.split.train.count, comm.size, Parallel.cores, loading, peak[0] / 1_073_741_824))
        for e in report.epochs {
            print(String(format: "epoch %d: %.1f s, %.0f examples/s", e.epoch, e.seconds, e.examplesPerSecond)
                  + (e.communicationSeconds.map { String(format: ", %.1f%% of it in communication", 100 * $0 / e.seconds) } ?? ""))
        }
    }
}

struct CommBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "comm-bench",
        abstract: "Time MPI allreduce and allgatherv over message sizes and fit t = α + β·bytes (run under mpirun, built with --traits MPI).")
    @Option(help: "Largest message, in floats per rank.") var maxFloats = 1_048_576
    @Option(help: "Timed calls per size (the median is reported).") var repeats = 20

    func run() throws {
        let comm = reportingErrors { try Launch.communicator(forceMPI: true) }
        ranks = comm
        guard comm.size > 1 else { fail("comm-bench needs at least 2 ranks: mpirun -np 2 tandem comm-bench") }
        var sizes: [Int] = [], n = 256
        while n <= maxFloats { sizes.append(n); n *= 4 }
        let samples = reportingErrors { try CommunicationBenchmark.run(comm, floats: sizes, repeats: repeats) }
        guard comm.isRoot else { return }
        print("\(comm.size) ranks; median of \(repeats) calls")
        print("operation   floats/rank  bytes/rank   µs/call   GB/s per rank")
        for s in samples {
            print(String(format: "%-10@ %12d %11d %9.1f %9.2f", s.operation, s.floats, s.bytes, s.seconds * 1e6, Double(s.bytes) / s.seconds / 1e9))
        }
        for op in ["allreduce", "allgatherv"] {
            let (a, b) = CommunicationBenchmark.fit(samples.filter { $0.operation == op })
            print(String(format: "%@: α %.1f µs, β %.3f ns/byte (%.2f GB/s)", op, a * 1e6, b * 1e9, b > 0 ? 1 / b / 1e9 : .infinity))
        }
    }
}

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train several models over several seeds on one split and print a table of test metrics (mean ± std).")
    @Option(help: "Comma-separated models.") var models = "pop,mf,two-tower"
    @Option(help: "Number of training seeds (the split stays fixed by --split-seed).") var seeds = 3
    @Option(name: .long, help: "YAML file of settings applied to every model.") var config: String?
    @Option(help: "Directory for one results JSON per run.") var resultsDir: String?
    @OptionGroup var flags: ConfigFlags

    func run() throws {
        var rows: [(label: String, reports: [RunReport])] = []
        let names = models.split(separator: ",").map(String.init)
        // The shared settings, checked against the first model (a key such as `ssl` is valid for some models only).
        let base = resolveConfig(file: config, flags: flags, extra: names.first.map { ["model": $0] } ?? [:])
        for name in names {
            var reports: [RunReport] = []
            let runs = ModelKind(rawValue: name)?.isDeterministic == true ? 1 : seeds
            for s in 0..<runs {
                // Training seeds base.seed, base.seed + 1, …; the split stays that of base.seed (or split_seed).
                let extra = ["model": name, "seed": "\(base.seed + UInt64(s))", "split_seed": "\(base.data.splitSeed ?? base.seed)"]
                let cfg = resolveConfig(file: config, flags: flags, extra: extra)
                configureThreads(cfg.training.threads)
                let ds = reportingErrors { try cfg.loadDataset { print($0) } }
                let report = reportingErrors { try Trainer(config: cfg, dataset: ds, log: { _ in }).run() }
                // The validation metric, and the test metrics at its cut-off.
                let metric = cfg.evaluation.validMetric, k = metric.k
                print(String(format: "%@ seed %llu: valid %@ %.4f | test %@ %.4f recall@%d %.4f (best epoch %d, %.0fs)",
                             name, cfg.seed, metric.description, report.valid[metric.description] ?? .nan, metric.description,
                             report.test[metric.description] ?? .nan, k, report.test["recall@\(k)"] ?? .nan,
                             report.bestEpoch, report.trainSeconds))
                if let dir = resultsDir {
                    reportingErrors {
                        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                        try report.writeJSON(to: "\(dir)/\(name)-seed\(cfg.seed).json")
                    }
                }
                reports.append(report)
            }
            rows.append((name, reports))
        }
        print("")
        print(resultTable(rows, ks: base.evaluation.ks))
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate a saved model directory on its validation and test split.")
    @Option(help: "Model directory written by `tandem train --output`.") var modelDir: String
    @Option(help: "Write the results JSON here.") var results: String?

    func run() throws {
        let (cfg, ds, model) = reportingErrors { try ModelStore.load(from: modelDir) }
        configureThreads(cfg.training.threads)
        let protocolEval = EvaluationProtocol(ds, ks: cfg.evaluation.ks)
        let norm = cfg.objective.similarity == .cosine
        let u = model.allEmbeddings(users: true, count: ds.numUsers, normalize: norm)
        let v = model.allEmbeddings(users: false, count: ds.numItems, normalize: norm)
        let valid = protocolEval.valid.evaluate(users: u, items: v)
        let test = protocolEval.test.evaluate(users: u, items: v)
        let shown = cfg.evaluation.ks.flatMap { k in ["recall@\(k)", "ndcg@\(k)", "mrr@\(k)", "hit@\(k)"] }
        for (name, m) in [("valid", valid), ("test", test)] {
            print(name + "  " + shown.map { String(format: "%@ %.4f", $0, m[$0] ?? .nan) }.joined(separator: "  "))
        }
        if let results {
            reportingErrors {
                let data = try JSONSerialization.data(withJSONObject: ["valid": valid, "test": test, "model": cfg.model.rawValue], options: [.prettyPrinted, .sortedKeys])
                try AtomicFile.write(data, to: results)
            }
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a saved model's user and item embeddings as .npy, with id lists.")
    @Option(help: "Model directory written by `tandem train --output`.") var modelDir: String
    @Option(help: "Output directory.") var out: String

    func run() throws {
        let (cfg, ds, model) = reportingErrors { try ModelStore.load(from: modelDir) }
        guard !model.parameters.isEmpty else { fail("model '\(cfg.model.rawValue)' has no learned embeddings to export") }
        let norm = cfg.objective.similarity == .cosine
        let users = model.allEmbeddings(users: true, count: ds.numUsers, normalize: norm)
        let items = model.allEmbeddings(users: false, count: ds.numItems, normalize: norm)
        reportingErrors {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try AtomicFile.write(NPY.encode(users), to: out + "/users.npy")
            try AtomicFile.write(NPY.encode(items), to: out + "/items.npy")
            try AtomicFile.write(Data((ds.userIds.tokens.joined(separator: "\n") + "\n").utf8), to: out + "/user_ids.txt")
            try AtomicFile.write(Data((ds.itemIds.tokens.joined(separator: "\n") + "\n").utf8), to: out + "/item_ids.txt")
        }
        print("wrote \(out)/users.npy (\(users.rows)×\(users.cols)), items.npy (\(items.rows)×\(items.cols)), user_ids.txt, item_ids.txt")
    }
}

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data", abstract: "Fetch, describe and split datasets.",
                                                    subcommands: [Fetch.self, Stats.self, SplitFiles.self])

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download a known dataset into the cache and verify its checksums.")
        @Argument(help: "Dataset name (\(KnownDataset.allCases.map(\.rawValue).joined(separator: ", "))).") var name: String
        @Option(help: "Cache root (default $TANDEM_DATA or ./data).") var dataDir: String?
        func run() throws {
            guard let known = KnownDataset(rawValue: name) else {
                fail("unknown dataset '\(name)'; known: \(KnownDataset.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let dir = reportingErrors { try DatasetFetcher.fetch(known, cacheRoot: dataDir ?? KnownDataset.cacheRoot) { print($0) } }
            print(dir)
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print users, items, interactions, density and popularity skew.")
        @OptionGroup var flags: ConfigFlags
        func run() throws {
            let cfg = resolveConfig(file: nil, flags: flags)
            let ds = reportingErrors { try cfg.loadDataset { print($0) } }
            let all = ds.split.train + ds.split.valid + ds.split.test
            print("dataset       \(ds.name)")
            print(DataStats(users: ds.numUsers, items: ds.numItems, interactions: all).report)
            print("split         train \(ds.split.train.count) / valid \(ds.split.valid.count) / test \(ds.split.test.count) (\(cfg.data.split.spec))")
            for (side, f) in [("user", ds.userFeatures), ("item", ds.itemFeatures)] {
                guard let f else { continue }
                print("\(side) fields   " + f.fields.map { "\($0.name) (\($0.kind.rawValue)\($0.kind == .numeric ? "" : ", \($0.vocabulary.count) values"))" }.joined(separator: ", "))
            }
        }
    }

    struct SplitFiles: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "split",
            abstract: "Write the split a config produces as train.tsv, valid.tsv, test.tsv (raw ids), for other tools.")
        @OptionGroup var flags: ConfigFlags
        @Option(help: "Output directory.") var out: String
        func run() throws {
            let cfg = resolveConfig(file: nil, flags: flags)
            let ds = reportingErrors { try cfg.loadDataset { print($0) } }
            reportingErrors { try ds.writeSplit(to: out) }
            print("wrote \(out)/train.tsv, valid.tsv, test.tsv")
        }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training throughput, full-ranking evaluation time and GEMM efficiency against raw cblas_sgemm.")
    @OptionGroup var flags: ConfigFlags
    @Option(help: "Epochs timed per model (the config's own --epochs does not apply here).") var timedEpochs = 2
    @Flag(help: "Only the top-K selection microbenchmark (serving and evaluation rows) against a full sort.") var selection = false

    func run() throws {
        if selection {
            for (n, k) in [(1682, 100), (1682, 10), (50_000, 50), (1_000_000, 100)] {
                for rising in [false, true] {
                    let t = Benchmarks.topK(n: n, k: k, rising: rising)
                    print(String(format: "top-%d of %d (%@): TopK.select %.1f µs per row, full sort %.0f µs (%.0f×)",
                                 k, n, rising ? "rising" : "random", t.select, t.sort, t.sort / t.select))
                }
            }
            return
        }
        let base = resolveConfig(file: nil, flags: flags)
        configureThreads(base.training.threads)
        let ds = reportingErrors { try base.loadDataset { print($0) } }
        print("machine: \(Parallel.cores) worker threads (OpenBLAS itself single-threaded); dataset \(ds.name) (\(ds.split.train.count) training interactions)")
        let b = base.training.batchSize, d = base.embeddingDim
        let g = Benchmarks.gemm(m: b, k: d, n: b)
        print(String(format: "gemm %d×%d×%d (in-batch logits): raw cblas_sgemm %.1f GFLOP/s, tape matmul fwd+bwd %.1f GFLOP/s, ratio %.2f",
                     b, d, b, g.raw, g.tape, g.tape / g.raw))
        let sq = Benchmarks.gemm(m: 1024, k: 1024, n: 1024)
        print(String(format: "gemm 1024×1024×1024: raw %.1f GFLOP/s, tape fwd+bwd %.1f GFLOP/s, ratio %.2f", sq.raw, sq.tape, sq.tape / sq.raw))
        for model in [ModelKind.mf, .twoTower, .lightgcn, .xsimgcl] {
            var cfg = TrainConfig.defaults(for: model)
            cfg.seed = base.seed
            let rate = reportingErrors { try Benchmarks.trainingThroughput(cfg, dataset: ds, epochs: timedEpochs) }
            print(String(format: "train %@ (batch %d, dim %d, %@ %@): %.0f examples/s, %.2f s/epoch", model.rawValue, cfg.training.batchSize,
                         cfg.embeddingDim, cfg.objective.loss.rawValue, cfg.objective.similarity.rawValue, rate, Double(ds.split.train.count) / rate))
        }
        let s = Benchmarks.evaluationSeconds(dataset: ds, dim: d)
        print(String(format: "full-ranking evaluation, %d users × %d items, K ≤ 50: %.1f ms", ds.numUsers, ds.numItems, s * 1000))
    }
}

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "index", abstract: "Build and measure nearest-item indexes.",
                                                    subcommands: [Build.self, Measure.self])

    /// Recall@10 against exact search and queries per second, printed for a built index.
    static func report(_ index: VectorIndex, exact: ExactIndex, queries: Tensor, buildSeconds: Double, label: String) {
        let t0 = Date()
        let approx = index.search(queries, k: 10)
        let seconds = Date().timeIntervalSince(t0)
        let truth = exact.search(queries, k: 10)
        print(String(format: "%@: %d vectors × %d, built in %.2fs; recall@10 vs exact %.4f over %d queries; %.0f queries/s",
                     label, index.count, index.dimension, buildSeconds, recallAgainstExact(approx, truth, k: 10), queries.rows,
                     Double(queries.rows) / max(seconds, 1e-9)))
    }

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Index a saved model's item embeddings (written next to the model) and report recall@10 against exact search, with the users as queries.")
        @Option(help: "Model directory written by `tandem train --output`.") var modelDir: String
        @Option(help: "Index description: Flat, or HNSW<M>[,efConstruction=N][,efSearch=N].") var factory = "HNSW32"

        func run() throws {
            let spec = reportingErrors { try IndexSpec(parsing: factory) }
            let (cfg, ds, model) = reportingErrors { try ModelStore.load(from: modelDir) }
            guard !model.parameters.isEmpty else { fail("model '\(cfg.model.rawValue)' has no learned embeddings to index") }
            let metric: IndexMetric = cfg.objective.similarity == .cosine ? .cosine : .innerProduct
            let items = model.allEmbeddings(users: false, count: ds.numItems, normalize: false)
            let users = model.allEmbeddings(users: true, count: ds.numUsers, normalize: false)
            let t0 = Date()
            let index = reportingErrors { try spec.build(items, metric: metric) }
            let buildSeconds = Date().timeIntervalSince(t0)
            let path = modelDir + (spec.kind == .flat ? "/index.flat" : "/index.hnsw")
            reportingErrors { try index.save(to: path) }
            let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            IndexCommand.report(index, exact: ExactIndex(items, metric: metric), queries: users, buildSeconds: buildSeconds, label: spec.description)
            print("wrote \(path) (\(bytes / 1024) KiB)")
        }
    }

    struct Measure: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "bench",
            abstract: "Build an index over clustered random vectors; report build time, recall@10 against exact on held-out queries, queries/s.")
        @Option(help: "Number of item vectors.") var items = 100_000
        @Option(help: "Dimension.") var dim = 64
        @Option(help: "Number of queries.") var queries = 2000
        @Option(help: "Index description.") var factory = "HNSW32"
        @Option(help: "ip or cosine.") var metric = "cosine"

        func run() throws {
            let spec = reportingErrors { try IndexSpec(parsing: factory) }
            guard let m = IndexMetric(rawValue: metric) else { fail("metric '\(metric)' is not ip or cosine") }
            var rng = RNG(seed: 7)
            let centers = rng.normalTensor(shape: [256, dim], std: 1)
            // Items and held-out queries from the same 256 clusters (queries are not in the index).
            func draw(_ n: Int) -> Tensor {
                var x = Tensor(zeros: [n, dim])
                for i in 0..<n { let c = rng.int(below: 256); for j in 0..<dim { x[i, j] = centers[c, j] + 0.5 * rng.normal() } }
                return x
            }
            let x = draw(items), q = draw(queries)
            let t0 = Date()
            let index = reportingErrors { try spec.build(x, metric: m) }
            IndexCommand.report(index, exact: ExactIndex(x, metric: m), queries: q, buildSeconds: Date().timeIntervalSince(t0), label: spec.description)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a saved model over HTTP: /v1/recommend, /v1/similar-items, /v1/score, /healthz, /readyz, /metrics, /admin/reload.")

    struct Fuzz: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "fuzz-api",
            abstract: "Feed random and mutated bodies through the serving API's decoding and handlers; any crash fails the run.")
        @Option(help: "Model directory written by `tandem train --output`.") var modelDir: String
        @Option(help: "Number of bodies.") var iterations = 1_000_000
        @Option(help: "Seed of the body stream.") var seed: UInt64 = 1

        func run() throws {
            let backend = ServingBackend(modelDirectory: modelDir, factory: "Flat")
            _ = reportingErrors { try backend.reload() }
            let t0 = Date()
            let o = RequestFuzzer(backend: backend).run(iterations: iterations, seed: seed)
            print(String(format: "fuzz: %d bodies in %.1fs, no crash; %d answered, %d rejected with an error",
                         iterations, Date().timeIntervalSince(t0), o.accepted, o.rejected))
        }
    }
    @Option(help: "Model directory written by `tandem train --output`.") var modelDir: String
    @Option(help: "Index description: Flat (exact) or HNSW<M>[,efSearch=N].") var factory = "Flat"
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port.") var port = 8080
    @Option(help: "Per-request time limit in milliseconds; slower requests are answered 503 (0: no limit).") var timeoutMs = 2000
    @Option(help: "Seconds a connection may send nothing (stalled mid-request, or idle keep-alive) before it is closed.") var idleTimeoutS = 60
    @Option(help: "Where request handlers run: nio (SwiftNIO's event loops also run Swift concurrency's jobs, so a request never changes thread) or default (Swift's cooperative pool).") var executor = "nio"

    @Option(help: "SwiftNIO event-loop threads that accept, parse and answer requests (default: one per core).") var eventLoops: Int?

    func run() async throws {
        if let n = eventLoops {
            guard n > 0 else { fail("--event-loops must be at least 1, got \(n)") }
            NIOSingletons.groupLoopCountSuggestion = n
        }
        switch executor {
        case "nio":
            guard NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() else {
                fail("--executor nio: this platform does not let SwiftNIO run Swift concurrency's jobs; use --executor default")
            }
        case "default": break
        default: fail("--executor must be nio or default, got '\(executor)'")
        }
        let backend = ServingBackend(modelDirectory: modelDir, factory: factory)
        let m = reportingErrors { try backend.reload() }
        print("serving \(m.version): \(m.userIds.count) users, \(m.itemIds.count) items, index \(factory), on http://\(host):\(port)")
        // SIGHUP reloads the model directory, like POST /admin/reload; a failed reload keeps the current model.
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler {
            do { print("SIGHUP: reloaded \(try backend.reload().version)") } catch { print("SIGHUP: reload failed, still serving the previous model: \(error)") }
        }
        hangup.resume()
        defer { hangup.cancel() }
        try await buildApplication(backend, host: host, port: port, timeout: timeoutMs > 0 ? .milliseconds(timeoutMs) : nil,
                                   idleTimeout: .seconds(max(1, idleTimeoutS))).runService()
    }
}

struct CascadeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cascade", abstract: "The serving cascade: recall channels, then pre-ranking.",
                                                    subcommands: [EvalCascade.self])

    struct EvalCascade: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "eval",
            abstract: "Recall per channel and of the union, and metrics after pre-ranking, on the test split.",
            discussion: "Example: tandem cascade eval --channel runs/two-tower --channel runs/lightgcn --channel pop --ranker runs/two-tower")
        @Option(name: .customLong("channel"), help: "A model directory, or `pop`; repeat for each channel.") var channels: [String]
        @Option(help: "Model directory whose exact scores re-rank the union.") var ranker: String
        @Option(help: "Candidates each channel recalls per user.") var perChannel = 100
        @Option(help: "Index for the model channels: Flat or HNSW<M>[,efSearch=N].") var factory = "HNSW32"
        @Option(help: "Cut-offs after pre-ranking, comma-separated.") var ks = "10,20"

        func run() throws {
            guard let cuts = Optional(ks.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }),
                  !cuts.isEmpty, cuts.allSatisfy({ $0 > 0 }) else { fail("--ks must be positive integers separated by commas, got '\(ks)'") }
            let rankerModel = reportingErrors { try ServingModel(modelDirectory: ranker, factory: "Flat") }
            let list: [RecallChannel] = channels.map { c in
                if c == "pop" { return .popularity(rankerModel) }
                let m = reportingErrors { try ServingModel(modelDirectory: c, factory: factory) }
                return .model(name: "\(m.modelKind) (\((c as NSString).lastPathComponent), \(factory))", m)
            }
            let t0 = Date()
            // Offline evaluation needs the split, which the ranker's config rebuilds (serving itself never reads data).
            let (_, ds, _) = reportingErrors { try ModelStore.load(from: ranker) }
            let evaluation = reportingErrors {
                try CascadeEvaluation(channels: list, ranker: rankerModel, split: ds.split, perChannel: perChannel, ks: cuts)
            }
            let rows = evaluation.run()
            print(CascadeEvaluation.table(rows, perChannel: perChannel, ks: cuts.sorted()))
            print(String(format: "pre-ranked by %@ (%@); %.1fs", rankerModel.modelKind, (ranker as NSString).lastPathComponent, Date().timeIntervalSince(t0)))
        }
    }
}
