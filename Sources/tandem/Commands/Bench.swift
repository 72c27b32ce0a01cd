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
