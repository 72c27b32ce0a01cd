import TandemTensor
#if canImport(Glibc)
import Glibc
#endif

/// Top-K ranking metrics, named in lower case as `name@K` (e.g. `recall@20`, `ndcg@10`).
public enum RankingMetric: String, CaseIterable, Sendable {
    case recall, ndcg, mrr, hit, precision
}

/// Accumulates per-user top-K metrics and averages them over users that have at least one relevant item.
///
/// Definitions (per user, ranked list `L`, relevant set `T`, `hits@K = |L[0..<K] ∩ T|`):
/// recall = hits / |T|; precision = hits / K (K, not the list length, even when the catalogue is smaller);
/// hit = 1 if hits > 0; MRR = 1 / rank of the first relevant item within K, else 0;
/// NDCG = Σ over relevant ranks r ≤ K of 1/log2(r+1), divided by the ideal Σ_{r=1}^{min(|T|, K)} 1/log2(r+1).
public struct MetricAccumulator: Sendable {
    public let ks: [Int]
    public private(set) var users = 0
    private var sums: [String: Double] = [:]
    /// Sums of the squared per-user values: the spread behind a sampled evaluation's interval (`halfWidths95`).
    private var squares: [String: Double] = [:]

    public init(ks: [Int]) {
        precondition(!ks.isEmpty && ks.allSatisfy { $0 > 0 }, "K values must be positive")
        self.ks = ks.sorted()
    }

    /// Adds one user's ranked list. Users with no relevant items are skipped (they are not counted).
    public mutating func add(ranked: ArraySlice<Int32>, relevant: Set<Int32>) {
        guard !relevant.isEmpty else { return }
        users += 1
        for (name, v) in MetricAccumulator.userMetrics(ranked: ranked, relevant: relevant, ks: ks) {
            sums[name, default: 0] += v
            squares[name, default: 0] += v * v
        }
    }

    public mutating func merge(_ other: MetricAccumulator) {
        precondition(ks == other.ks)
        users += other.users
        for (k, v) in other.sums { sums[k, default: 0] += v }
        for (k, v) in other.squares { squares[k, default: 0] += v }
    }

    /// The counted users and every metric's sum, in a fixed order: summed elementwise over processes (each
    /// evaluating its share of the users) and read back with `init(ks:flattened:)`.
    public var flattened: [Double] {
        [Double(users)] + names.map { sums[$0] ?? 0 } + names.map { squares[$0] ?? 0 }
    }

    /// Every `name@K`, in the fixed order of `flattened`.
    private var names: [String] { RankingMetric.allCases.flatMap { m in ks.map { "\(m.rawValue)@\($0)" } } }

    public init(ks: [Int], flattened: ArraySlice<Double>) {
        self.init(ks: ks)
        var values = flattened.makeIterator()
        users = Int(values.next()!.rounded())
        for name in names { sums[name] = values.next()! }
        for name in names { squares[name] = values.next()! }
    }

    /// How many values `flattened` holds.
    public static func flattenedCount(ks: [Int]) -> Int { 1 + 2 * RankingMetric.allCases.count * ks.count }

    /// Mean of each metric over counted users (0 when none were counted).
    public var means: [String: Double] {
        var out: [String: Double] = [:]
        for m in RankingMetric.allCases { for k in ks { out["\(m.rawValue)@\(k)"] = users > 0 ? (sums["\(m.rawValue)@\(k)"] ?? 0) / Double(users) : 0 } }
        return out
    }

    /// Half the width of each metric's 95% interval when the counted users are a uniform sample (without replacement)
    /// of `population` users: 1.96 · s/√n · √(1 − n/N), with `s` the per-user standard deviation and the finite
    /// population correction (zero when every user was counted). Empty with fewer than two users.
    public func halfWidths95(population: Int) -> [String: Double] {
        guard users > 1 else { return [:] }
        let n = Double(users), fpc = max(0, 1 - n / Double(max(population, users)))
        var out: [String: Double] = [:]
        for name in names {
            let mean = (sums[name] ?? 0) / n
            let variance = max(0, ((squares[name] ?? 0) - n * mean * mean) / (n - 1))
            out[name] = 1.96 * (variance / n * fpc).squareRoot()
        }
        return out
    }

    /// One user's metrics for every K.
    public static func userMetrics(ranked: ArraySlice<Int32>, relevant: Set<Int32>, ks: [Int]) -> [String: Double] {
        var out: [String: Double] = [:]
        let maxK = ks.max() ?? 0
        var hitRanks: [Int] = []
        for (r, item) in ranked.prefix(maxK).enumerated() where relevant.contains(item) { hitRanks.append(r + 1) }
        for k in ks {
            let within = hitRanks.filter { $0 <= k }
            let hits = Double(within.count)
            out["recall@\(k)"] = hits / Double(relevant.count)
            out["precision@\(k)"] = hits / Double(k)
            out["hit@\(k)"] = hits > 0 ? 1 : 0
            out["mrr@\(k)"] = within.first.map { 1 / Double($0) } ?? 0
            let dcg = within.reduce(0.0) { $0 + 1 / log2(Double($1) + 1) }
            let idcg = (1...min(relevant.count, k)).reduce(0.0) { $0 + 1 / log2(Double($1) + 1) }
            out["ndcg@\(k)"] = dcg / idcg
        }
        return out
    }
}
