import Foundation
import TandemTensor
import TandemEval
import TandemData

/// A recall channel of a cascade: a served model's nearest items, or the most popular items.
public enum RecallChannel {
    case model(name: String, ServingModel)
    case popularity(ServingModel)

    public var name: String {
        switch self { case .model(let n, _): return n; case .popularity: return "popularity" }
    }

    /// Up to `n` candidates for user `u`, never any of `excluded` (a sorted CSR row).
    func candidates(user u: Int32, n: Int, excluded: ArraySlice<Int32>) -> [Int32] {
        switch self {
        case .model(_, let m):
            return m.nearest(m.users.gatherRows([u]), k: n, excluding: Array(excluded)).map(\.0)
        case .popularity(let m):
            return Array(m.popular.lazy.filter { !excluded.sortedContains($0) }.prefix(n))
        }
    }
}

/// Offline evaluation of the serving cascade on the test split: each channel recalls `perChannel` items per user
/// (training and validation items excluded, as in full-ranking evaluation), the union is re-scored by the
/// pre-ranking model's exact scores, and the top K are compared with the test items.
public struct CascadeEvaluation {
    public struct Row { public let stage: String; public let candidatesPerUser: Double; public let metrics: [String: Double] }

    public let channels: [RecallChannel]
    public let ranker: ServingModel
    /// The split the models were trained on (the caller rebuilds it from the ranker's config).
    public let split: Split
    public let perChannel: Int
    public let ks: [Int]

    public init(channels: [RecallChannel], ranker: ServingModel, split: Split, perChannel: Int, ks: [Int] = [10, 20]) throws {
        for c in channels {
            let m: ServingModel
            switch c { case .model(_, let x), .popularity(let x): m = x }
            guard m.userIds == ranker.userIds && m.itemIds == ranker.itemIds && m.seen == ranker.seen else {
                throw ServingError(400, "channel '\(c.name)' was trained on other data or another split than the ranker")
            }
        }
        guard perChannel >= 1 else { throw ServingError(400, "per-channel must be at least 1") }
        self.channels = channels; self.ranker = ranker; self.split = split; self.perChannel = perChannel; self.ks = ks.sorted()
    }

    /// One row per channel (`recall@N` of its candidates), the union (`recall@N` over all candidates),
    /// and the pre-ranked top K (`recall@K`, `ndcg@K`, …) — the cascade's end-to-end quality.
    public func run() -> [Row] {
        let s = split, numUsers = ranker.userIds.count, numItems = ranker.itemIds.count
        let excludedByUser = Interactions.incidence(of: [s.train, s.valid], users: numUsers, items: numItems)
        let truthByUser = s.test.matrix(users: numUsers, items: numItems)
        var channelRecall = [Double](repeating: 0, count: channels.count), channelSize = channelRecall
        var unionRecall = 0.0, unionSize = 0.0, users = 0
        var ranked = MetricAccumulator(ks: ks)
        for u in 0..<numUsers {
            let truth = Set(truthByUser.columns(ofRow: u))
            guard !truth.isEmpty else { continue }
            users += 1
            let excluded = excludedByUser.columns(ofRow: u)  // CSR rows are sorted
            var union = Set<Int32>()
            for (c, channel) in channels.enumerated() {
                let found = channel.candidates(user: Int32(u), n: perChannel, excluded: excluded)
                channelRecall[c] += Double(found.filter(truth.contains).count) / Double(truth.count)
                channelSize[c] += Double(found.count)
                union.formUnion(found)
            }
            unionRecall += Double(union.filter(truth.contains).count) / Double(truth.count)
            unionSize += Double(union.count)
            // Pre-ranking: the ranker's exact scores over the union, best first, ties to the lower item index.
            let ids = Array(union)
            let scored = zip(ids, ranker.scores(user: u, items: ids)).sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
            ranked.add(ranked: scored.map(\.0)[...], relevant: truth)
        }
        let n = Double(max(1, users)), key = "recall@\(perChannel)"
        var rows = channels.indices.map { Row(stage: "channel \(channels[$0].name)", candidatesPerUser: channelSize[$0] / n, metrics: [key: channelRecall[$0] / n]) }
        rows.append(Row(stage: "union", candidatesPerUser: unionSize / n, metrics: [key: unionRecall / n]))
        rows.append(Row(stage: "pre-ranked", candidatesPerUser: unionSize / n, metrics: ranked.means))
        return rows
    }

    /// The rows as a plain-text table.
    public static func table(_ rows: [Row], perChannel: Int, ks: [Int]) -> String {
        let cols = ["recall@\(perChannel)"] + ks.flatMap { ["recall@\($0)", "ndcg@\($0)"] }
        let header = ["stage", "candidates/user"] + cols
        let body = rows.map { r in [r.stage, String(format: "%.1f", r.candidatesPerUser)] + cols.map { r.metrics[$0].map { String(format: "%.4f", $0) } ?? "-" } }
        let widths = header.indices.map { c in ([header] + body).map { $0[c].count }.max()! }
        return ([header] + body).map { row in row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ") }
            .joined(separator: "\n")
    }
}
