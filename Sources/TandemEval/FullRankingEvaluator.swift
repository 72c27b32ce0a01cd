import TandemTensor
#if canImport(Glibc)
import Glibc
#endif

/// Full-ranking evaluation: every user is scored against every item, the user's known items are removed,
/// and the top K are compared with the held-out items.
///
/// Scores come from a `UserItemScorer` (`U · Vᵀ` for embedding models), in blocks of users; per-row partial top-K selection breaks ties by the
/// lower item index. Items in `excluded` (training items, and validation items when testing) can never be
/// recommended. Users with no held-out items are not counted.
public struct FullRankingEvaluator: Sendable {
    public let ks: [Int]
    /// users × items: items that must not be recommended to each user.
    public let excluded: CSRMatrix
    /// users × items: the held-out relevant items.
    public let truth: CSRMatrix
    /// Head items (the most popular 20% in training by default); metrics are also reported on head and tail, and on
    /// tail items ranked among tail items only (`within_tail`).
    public let isHead: [Bool]?
    /// Each user's activity group (`UserGroup`); metrics are also reported per group (`ndcg@K/sparse_users`, …).
    public let userGroups: [UserGroup]?
    public var blockSize = 512
    /// Break exact ties in a per-user random order (seeded by the user) instead of by item index (item cold start: a
    /// model that scores unseen items alike must not gain from the order items first appear in the data).
    public var randomTieBreaking = false
    /// The users scored when evaluating a sample (ascending); nil: every user. Set by `sampling(users:seed:)`.
    public private(set) var sampledUsers: [Int32]?
    /// How many users have held-out items (the population the sample was drawn from); nil without a sample.
    public private(set) var populationUsers: Int?

    /// Users split into thirds by their number of training interactions, as SGL reports sparse users.
    public enum UserGroup: Int, CaseIterable, Sendable {
        case sparse, middle, dense
        public var key: String { "\(self)_users" }

        /// Thirds by training degree (ties go to the lower third by user index order).
        public static func byDegree(_ degrees: [Int]) -> [UserGroup] {
            let order = degrees.indices.sorted { degrees[$0] < degrees[$1] || (degrees[$0] == degrees[$1] && $0 < $1) }
            var out = [UserGroup](repeating: .sparse, count: degrees.count)
            for (rank, u) in order.enumerated() { out[u] = UserGroup(rawValue: min(2, rank * 3 / max(1, degrees.count)))! }
            return out
        }
    }

    public init(ks: [Int] = [10, 20, 50], excluded: CSRMatrix, truth: CSRMatrix, isHead: [Bool]? = nil, userGroups: [UserGroup]? = nil) {
        precondition(excluded.rows == truth.rows && excluded.cols == truth.cols, "excluded and truth shapes differ")
        precondition(userGroups == nil || userGroups!.count == truth.rows, "one group per user")
        self.ks = ks.sorted(); self.excluded = excluded; self.truth = truth; self.isHead = isHead; self.userGroups = userGroups
    }

    /// The top `k` of a row with ties in a random order seeded by the user: selection runs on the row's entries in a
    /// per-user shuffled order (ties go to the earlier position there), then maps back. Scores are not changed.
    static func selectBreakingTiesAtRandom(_ row: UnsafePointer<Float>, count: Int, k: Int, user: Int) -> [Int32] {
        var rng = RNG(seed: UInt64(user) &* 0x9E37_79B9_7F4A_7C15 &+ 0x7469_6573)
        var order = (0..<count).map { Int32($0) }
        rng.shuffle(&order)
        let permuted = order.map { row[Int($0)] }
        return permuted.withUnsafeBufferPointer { TopK.select($0, k: k) }.map { order[Int($0)] }
    }

    /// The top 20% (by default) of items by training count; ties go to the lower index.
    public static func headItems(counts: [Int], fraction: Double = 0.2) -> [Bool] {
        let order = counts.indices.sorted { counts[$0] > counts[$1] || (counts[$0] == counts[$1] && $0 < $1) }
        var head = [Bool](repeating: false, count: counts.count)
        for i in order.prefix(Int((fraction * Double(counts.count)).rounded(.up))) { head[i] = true }
        return head
    }

    /// The per-user metric sums behind `evaluate`: over all users, head and tail items, tail items ranked among tail
    /// items, and each activity group.
    public struct Totals: Sendable {
        public var total: MetricAccumulator, head: MetricAccumulator, tail: MetricAccumulator
        /// Each user's held-out tail items against a ranking of the tail alone (head items removed).
        public var withinTail: MetricAccumulator
        public var groups: [MetricAccumulator]

        init(ks: [Int]) {
            total = MetricAccumulator(ks: ks); head = total; tail = total; withinTail = total
            groups = [MetricAccumulator](repeating: total, count: UserGroup.allCases.count)
        }

        static let parts = 4 + UserGroup.allCases.count

        /// Every accumulator's `flattened` values, concatenated: summed over processes evaluating shares of the users.
        public var flattened: [Double] { ([total, head, tail, withinTail] + groups).flatMap(\.flattened) }

        public init(ks: [Int], flattened: [Double]) {
            let n = MetricAccumulator.flattenedCount(ks: ks)
            precondition(flattened.count == n * Self.parts, "evaluation totals: \(flattened.count) values")
            let parts = (0..<Self.parts).map { MetricAccumulator(ks: ks, flattened: flattened[($0 * n)..<(($0 + 1) * n)]) }
            total = parts[0]; head = parts[1]; tail = parts[2]; withinTail = parts[3]; groups = Array(parts[4...])
        }
    }

    /// Metrics averaged over users; with `isHead`, also `recall@K/head` and `recall@K/tail`
    /// (recall restricted to held-out head or tail items, over users that have such items, in the ranking of every
    /// item) and `recall@K/within_tail`, `ndcg@K/within_tail` (held-out tail items in a ranking of tail items only, as
    /// the head/tail literature reports the tail: a model that puts head items first still shows how it orders the
    /// tail); with `userGroups`, also
    /// `recall@K/sparse_users`, `ndcg@K/sparse_users` and the same for `middle` and `dense`. With a user sample, also
    /// each overall metric's 95% sampling interval (`ndcg@20/ci95`, the half-width) and `users_population`.
    public func evaluate(users: Tensor, items: Tensor) -> [String: Double] {
        evaluate(EmbeddingScorer(users: users, items: items))
    }

    /// How many users `evaluate` scores: every user, or the sample's size.
    public var evaluatedUserCount: Int { sampledUsers?.count ?? truth.rows }

    /// A copy that scores a seeded uniform sample of `count` of the users with held-out items (exact metrics for each
    /// sampled user), or every user when `count` is 0 or at least their number.
    public func sampling(users count: Int, seed: UInt64) -> FullRankingEvaluator {
        var eligible = (0..<truth.rows).filter { truth.rowPointers[$0 + 1] > truth.rowPointers[$0] }.map { Int32($0) }
        var copy = self
        guard count > 0, count < eligible.count else { copy.sampledUsers = nil; copy.populationUsers = nil; return copy }
        var rng = RNG(seed: seed &+ 0x7361_6d70)
        rng.shuffle(&eligible)
        copy.sampledUsers = eligible.prefix(count).sorted()
        copy.populationUsers = eligible.count
        return copy
    }

    /// Users per block of scores: at most `blockSize`, and fewer on large catalogues so a block's scores stay under
    /// 2²⁶ floats (256 MB) — evaluation never holds users × items.
    func blockRows(items: Int) -> Int { Tensor.blockRows(width: items, cap: blockSize) }

    /// The metric sums over the evaluated users at positions `share` (of `evaluatedUserCount`): one process's share
    /// when evaluation is split by users.
    public func totals(users: Tensor, items: Tensor, share: Range<Int>) -> Totals {
        totals(EmbeddingScorer(users: users, items: items), share: share)
    }

    /// Metrics of any scorer (`evaluate(users:items:)` is this with `EmbeddingScorer`).
    public func evaluate(_ scorer: UserItemScorer) -> [String: Double] {
        metrics(totals(scorer, share: 0..<evaluatedUserCount))
    }

    /// The metric sums of `scorer`'s rankings over the evaluated users at positions `share`.
    public func totals(_ scorer: UserItemScorer, share: Range<Int>) -> Totals {
        precondition(scorer.userCount == truth.rows, "\(scorer.userCount) users scored for \(truth.rows) users")
        precondition(scorer.itemCount == truth.cols, "\(scorer.itemCount) items scored for \(truth.cols) items")
        let maxK = ks.max()!
        var t = Totals(ks: ks)
        let nItems = scorer.itemCount, step = blockRows(items: nItems)
        let headItems = isHead.map { h in h.indices.filter { h[$0] } } ?? []
        var start = share.lowerBound
        while start < share.upperBound {
            let end = min(share.upperBound, start + step)
            let ids = sampledUsers.map { Array($0[start..<end]) } ?? (start..<end).map { Int32($0) }
            var scores = scorer.scores(users: ids)
            let rows = end - start
            var ranked = [[Int32]](repeating: [], count: rows), rankedTail = ranked
            scores.data.withUnsafeMutableBufferPointer { s in
                let base = s.baseAddress!
                ranked.withUnsafeMutableBufferPointer { out in
                    rankedTail.withUnsafeMutableBufferPointer { outTail in
                        let outBase = out.baseAddress!, tailBase = outTail.baseAddress!
                        Parallel.forChunks(rows, minPerChunk: 16) { range in
                            for r in range {
                                let u = Int(ids[r])
                                let row = base + r * nItems
                                let select = { randomTieBreaking ? Self.selectBreakingTiesAtRandom(row, count: nItems, k: maxK, user: u)
                                    : TopK.select(UnsafeBufferPointer(start: row, count: nItems), k: maxK) }
                                for i in excluded.columns(ofRow: u) { row[Int(i)] = -.infinity }
                                outBase[r] = select()
                                guard isHead != nil else { continue }
                                for i in headItems { row[i] = -.infinity }
                                tailBase[r] = select()
                            }
                        }
                    }
                }
            }
            for r in 0..<rows {
                let u = Int(ids[r])
                let rel = Set(truth.columns(ofRow: u))
                t.total.add(ranked: ranked[r][...], relevant: rel)
                if let userGroups { t.groups[userGroups[u].rawValue].add(ranked: ranked[r][...], relevant: rel) }
                if let isHead {
                    t.head.add(ranked: ranked[r][...], relevant: rel.filter { isHead[Int($0)] })
                    let tailRelevant = rel.filter { !isHead[Int($0)] }
                    t.tail.add(ranked: ranked[r][...], relevant: tailRelevant)
                    t.withinTail.add(ranked: rankedTail[r][...], relevant: tailRelevant)
                }
            }
            start = end
        }
        return t
    }

    /// Means of the summed metrics, named as `evaluate` names them.
    public func metrics(_ t: Totals) -> [String: Double] {
        var out = t.total.means
        if isHead != nil {
            for k in ks {
                out["recall@\(k)/head"] = t.head.means["recall@\(k)"]
                out["recall@\(k)/tail"] = t.tail.means["recall@\(k)"]
                out["recall@\(k)/within_tail"] = t.withinTail.means["recall@\(k)"]
                out["ndcg@\(k)/within_tail"] = t.withinTail.means["ndcg@\(k)"]
            }
        }
        if userGroups != nil {
            for g in UserGroup.allCases {
                for k in ks {
                    out["recall@\(k)/\(g.key)"] = t.groups[g.rawValue].means["recall@\(k)"]
                    out["ndcg@\(k)/\(g.key)"] = t.groups[g.rawValue].means["ndcg@\(k)"]
                }
            }
        }
        out["users"] = Double(t.total.users)
        if let populationUsers {
            for (name, h) in t.total.halfWidths95(population: populationUsers) { out[name + "/ci95"] = h }
            out["users_population"] = Double(populationUsers)
        }
        return out
    }
}

/// Wang & Isola (2020) diagnostics on L2-normalised embeddings.
public enum Geometry {
    /// Alignment: mean ‖f(u) − f(i)‖² over positive (user, item) pairs, after normalising rows. Lower is better.
    public static func alignment(users: Tensor, items: Tensor, pairs: (users: [Int32], items: [Int32])) -> Double {
        let u = users.rowsNormalized(), v = items.rowsNormalized(), d = u.cols
        guard !pairs.users.isEmpty else { return 0 }
        var s = 0.0
        for (a, b) in zip(pairs.users, pairs.items) {
            var dist: Float = 0
            for j in 0..<d { let x = u.data[Int(a) * d + j] - v.data[Int(b) * d + j]; dist += x * x }
            s += Double(dist)
        }
        return s / Double(pairs.users.count)
    }

    /// How hard the softmax's negatives are: for each user, the softmax of `score / temperature` over the items the
    /// user has not interacted with in `known` (their negatives), and the share of its mass on the `k` highest-scoring
    /// ones, averaged over at most `maxUsers` users (a seeded sample). Near k / negatives: mass spread evenly; near 1:
    /// the loss is dominated by a few hard negatives. `users` and `items` are scored as they are (normalise them first
    /// for cosine similarity).
    public static func hardNegativeShare(users: Tensor, items: Tensor, known: CSRMatrix, temperature: Double, k: Int = 10,
                                         maxUsers: Int = 2048, seed: UInt64 = 0) -> Double {
        var rows = (0..<users.rows).filter { known.columns(ofRow: $0).count < items.rows - k }
        if rows.count > maxUsers { var rng = RNG(seed: seed); rng.shuffle(&rows); rows = Array(rows.prefix(maxUsers)).sorted() }
        guard !rows.isEmpty else { return .nan }
        let n = items.rows, step = Tensor.blockRows(width: n, cap: rows.count)
        var total = 0.0
        for blockStart in stride(from: 0, to: rows.count, by: step) {
            let block = Array(rows[blockStart..<min(rows.count, blockStart + step)])
            var scores = BLAS.matmul(users.gatherRows(block.map { Int32($0) }), items, transposeB: true)
            scores.data.withUnsafeMutableBufferPointer { all in
                for (r, u) in block.enumerated() {
                    let row = UnsafeMutableBufferPointer(rebasing: all[(r * n)..<((r + 1) * n)])
                    for i in known.columns(ofRow: u) { row[Int(i)] = -.infinity }
                    let hardest = TopK.select(UnsafeBufferPointer(row), k: k)
                    let m = Double(row[Int(hardest[0])])
                    var z = 0.0
                    for s in row where s > -.infinity { z += exp((Double(s) - m) / temperature) }
                    total += hardest.reduce(0) { $0 + exp((Double(row[Int($1)]) - m) / temperature) } / z
                }
            }
        }
        return total / Double(rows.count)
    }

    /// Uniformity: log of the mean of exp(−t‖x − y‖²) over distinct pairs of rows (t = 2), after normalising.
    /// Uses at most `maxRows` rows (a seeded sample) so cost stays bounded. Lower (more negative) is more uniform.
    public static func uniformity(_ x: Tensor, t: Double = 2, maxRows: Int = 4096, seed: UInt64 = 0) -> Double {
        var rows = Array(0..<x.rows)
        if rows.count > maxRows { var rng = RNG(seed: seed); rng.shuffle(&rows); rows = Array(rows.prefix(maxRows)) }
        let sample = x.gatherRows(rows.map { Int32($0) }).rowsNormalized()
        let n = sample.rows
        guard n > 1 else { return 0 }
        let gram = BLAS.matmul(sample, sample, transposeB: true)
        var s = 0.0
        for i in 0..<n { for j in (i + 1)..<n { s += exp(-t * Double(max(0, 2 - 2 * gram.data[i * n + j]))) } }
        return log(s / Double(n * (n - 1) / 2))
    }
}
