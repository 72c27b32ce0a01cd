import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemEval

/// Speed figures measured in one process, so ratios between them hold on a noisy machine.
public enum Benchmarks {
    /// Seconds per call of `body`, the best of `repeats` timings of `inner` calls each.
    public static func time(repeats: Int = 5, inner: Int = 1, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<inner { body() }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 / Double(inner))
        }
        return best
    }

    /// GFLOP/s of raw `cblas_sgemm` on preallocated buffers, and of the tape's matmul (forward + backward)
    /// on the same shape: `[m, k] × [k, n]`.
    public static func gemm(m: Int, k: Int, n: Int) -> (raw: Double, tape: Double) {
        var rng = RNG(seed: 1)
        let a = rng.normalTensor(shape: [m, k], std: 1), b = rng.normalTensor(shape: [n, k], std: 1)
        let bt = b.transposed()
        var c = [Float](repeating: 0, count: m * n)
        let flops = 2.0 * Double(m * n * k)
        // The reference: OpenBLAS's own threading on every core.
        let raw = BLAS.withOwnThreads(Parallel.cores) {
            time(inner: 10) {
                a.data.withUnsafeBufferPointer { pa in bt.data.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                    BLAS.rawSgemm(m: m, n: n, k: k, a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!)
                } } }
            }
        }
        // Forward A·Bᵀ plus both backward products: three products of the same size.
        let tape = time(inner: 5) {
            let t = Tape()
            let x = t.constant(a), y = t.constant(b)
            let out = t.matmul(x, y, transposeB: true)
            _ = t.gradients(of: out, withRespectTo: [x, y], seed: out.value)
        }
        return (flops / raw / 1e9, 3 * flops / tape / 1e9)
    }

    /// Training examples per second over `epochs` epochs of `config` on `dataset` (no validation).
    public static func trainingThroughput(_ config: TrainConfig, dataset: Dataset, epochs: Int = 2) throws -> Double {
        var c = config
        c.training.epochs = epochs
        let report = try Trainer(config: c, dataset: dataset, log: { _ in }).run(evaluating: false)
        let rates = report.epochs.map(\.examplesPerSecond)
        return rates.max() ?? 0
    }

    /// The process's peak resident memory in bytes (VmHWM of /proc/self/status; 0 where unavailable).
    public static func peakResidentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    /// Seconds for one full-ranking evaluation of every user (scoring, masking, top-K, metrics).
    public static func evaluationSeconds(dataset: Dataset, dim: Int = 64) -> Double {
        var rng = RNG(seed: 2)
        let u = rng.normalTensor(shape: [dataset.numUsers, dim], std: 1), v = rng.normalTensor(shape: [dataset.numItems, dim], std: 1)
        let ev = EvaluationProtocol(dataset, ks: [10, 20, 50])
        return time(repeats: 5) { _ = ev.test.evaluate(users: u, items: v) }
    }

    /// Microseconds per row of `TopK.select` on `n` scores at `k`, random or rising along the row, and of a full sort
    /// of the row (the reference measured in the same run).
    public static func topK(n: Int, k: Int, rising: Bool) -> (select: Double, sort: Double) {
        var rng = RNG(seed: 3)
        let rows = 64
        let data: [[Float]] = (0..<rows).map { _ in
            let row = (0..<n).map { _ in rng.normal() }
            return rising ? row.sorted() : row
        }
        let select = time(repeats: 5) {
            for row in data { _ = TopK.select(row, k: k) }
        }
        let sort = time(repeats: 3) {
            for row in data { _ = row.indices.sorted { row[$0] > row[$1] }.prefix(k) }
        }
        return (select / Double(rows) * 1e6, sort / Double(rows) * 1e6)
    }
}
