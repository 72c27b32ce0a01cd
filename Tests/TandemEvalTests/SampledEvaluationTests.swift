import Testing
import TandemTensor
@testable import TandemEval
import Foundation

/// Evaluation on a sample of users (`eval_users`): exact metrics for each sampled user, and a sampling interval.
@Suite struct SampledEvaluationTests {
    /// `users` users and `items` items with random embeddings; users with `u % 4 != 0` have two held-out items, every
    /// user one known item.
    static func setup(users: Int, items: Int, seed: UInt64) -> (FullRankingEvaluator, Tensor, Tensor) {
        var rng = RNG(seed: seed)
        let u = rng.normalTensor(shape: [users, 3], std: 1), v = rng.normalTensor(shape: [items, 3], std: 1)
        var truth: [(row: Int32, col: Int32, value: Float)] = [], known: [(row: Int32, col: Int32, value: Float)] = []
        for user in 0..<users {
            known.append((Int32(user), Int32((user * 5 + 2) % items), 1))
            guard user % 4 != 0 else { continue }
            truth.append((Int32(user), Int32((user * 7) % items), 1)); truth.append((Int32(user), Int32((user * 3 + 1) % items), 1))
        }
        let ev = FullRankingEvaluator(ks: [5, 10], excluded: CSRMatrix(rows: users, cols: items, coordinates: known),
                                      truth: CSRMatrix(rows: users, cols: items, coordinates: truth))
        return (ev, u, v)
    }

    /// NDCG@k of one user computed apart from the evaluator: sort every unknown item by score (ties: lower index).
    static func ndcg(user: Int, k: Int, _ ev: FullRankingEvaluator, _ u: Tensor, _ v: Tensor) -> Double {
        let known = Set(ev.excluded.columns(ofRow: user)), relevant = Set(ev.truth.columns(ofRow: user))
        let score = { (i: Int) in (0..<u.cols).reduce(Float(0)) { $0 + u.data[user * u.cols + $1] * v.data[i * v.cols + $1] } }
        let order = (0..<v.rows).filter { !known.contains(Int32($0)) }.sorted { score($0) > score($1) || (score($0) == score($1) && $0 < $1) }
        var dcg = 0.0, ideal = 0.0
        for (r, i) in order.prefix(k).enumerated() where relevant.contains(Int32(i)) { dcg += 1 / log2(Double(r) + 2) }
        for r in 0..<min(k, relevant.count) { ideal += 1 / log2(Double(r) + 2) }
        return dcg / ideal
    }

    @Test func sampledMetricsAndIntervalByHand() {
        let (full, u, v) = Self.setup(users: 40, items: 30, seed: 1)
        let ev = full.sampling(users: 10, seed: 5)
        let sample = ev.sampledUsers!
        #expect(sample.count == 10 && sample == sample.sorted() && Set(sample).count == 10)
        #expect(sample.allSatisfy { $0 % 4 != 0 })  // drawn from users with held-out items only
        #expect(ev.populationUsers == 30)
        let m = ev.evaluate(users: u, items: v)
        #expect(m["users"] == 10 && m["users_population"] == 30)
        let values = sample.map { Self.ndcg(user: Int($0), k: 5, ev, u, v) }
        let mean = values.reduce(0, +) / 10
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 9
        #expect(abs(m["ndcg@5"]! - mean) < 1e-12)
        #expect(abs(m["ndcg@5/ci95"]! - 1.96 * (variance / 10 * (1 - 10.0 / 30)).squareRoot()) < 1e-12)
        // The same seed draws the same users; another seed other users.
        #expect(full.sampling(users: 10, seed: 5).sampledUsers == sample)
        #expect(full.sampling(users: 10, seed: 6).sampledUsers != sample)
    }

    /// A sample as large as the eligible users (or 0) is no sample: the full evaluation, without intervals.
    @Test func wholePopulationIsTheFullEvaluation() {
        let (full, u, v) = Self.setup(users: 40, items: 30, seed: 2)
        let whole = full.evaluate(users: u, items: v)
        for count in [0, 30, 31] {
            let ev = full.sampling(users: count, seed: 1)
            #expect(ev.sampledUsers == nil)
            #expect(ev.evaluate(users: u, items: v) == whole)
        }
        #expect(whole["users_population"] == nil && whole["ndcg@5/ci95"] == nil)
    }

    /// Data-parallel shares of a sample add up to the sample's evaluation.
    @Test func sharesOfASampleAddUp() {
        let (full, u, v) = Self.setup(users: 60, items: 25, seed: 3)
        let ev = full.sampling(users: 17, seed: 2)
        let whole = ev.evaluate(users: u, items: v)
        var sums: [Double] = []
        for (a, b) in [(0, 6), (6, 17)] {
            let part = ev.totals(users: u, items: v, share: a..<b).flattened
            sums = sums.isEmpty ? part : zip(sums, part).map(+)
        }
        let split = ev.metrics(FullRankingEvaluator.Totals(ks: ev.ks, flattened: sums))
        for (k, x) in whole { #expect(abs(split[k]! - x) < 1e-12, "\(k)") }
    }

    /// Over 300 samples of 40 of 300 users, the 95% interval covers the full evaluation's mean about 95% of the time
    /// (a wrong width — no √n, no finite-population correction, a variance of sums — lands far outside 0.90–0.99).
    @Test func intervalCoversTheFullMean() {
        let (full, u, v) = Self.setup(users: 400, items: 40, seed: 4)
        let truth = full.evaluate(users: u, items: v)["recall@10"]!
        var covered = 0
        for seed in 0..<300 {
            let m = full.sampling(users: 40, seed: UInt64(seed)).evaluate(users: u, items: v)
            if abs(m["recall@10"]! - truth) <= m["recall@10/ci95"]! { covered += 1 }
        }
        #expect((270...297).contains(covered), "covered \(covered) of 300")
    }

    /// Blocks of scores stay under 2²⁶ floats on a large catalogue, and never below one user.
    @Test func blocksShrinkWithTheCatalogue() {
        let (ev, _, _) = Self.setup(users: 8, items: 8, seed: 5)
        #expect(ev.blockRows(items: 1_000) == ev.blockSize)
        #expect(ev.blockRows(items: 1 << 20) == 64)
        #expect(ev.blockRows(items: 1 << 27) == 1)
    }
}
