import Testing
import TandemTensor
import TandemEval
import Foundation

@Suite struct MetricTests {
    /// Ranked [5, 1, 7, 2], relevant {1, 2, 9}: hits at ranks 2 and 4.
    @Test func handComputedUser() {
        let m = MetricAccumulator.userMetrics(ranked: [5, 1, 7, 2][...], relevant: [1, 2, 9], ks: [1, 2, 4])
        #expect(m["recall@1"] == 0)
        #expect(m["recall@2"]! == 1.0 / 3)
        #expect(m["recall@4"]! == 2.0 / 3)
        #expect(m["precision@4"]! == 0.5)
        #expect(m["hit@1"] == 0 && m["hit@2"] == 1)
        #expect(m["mrr@1"] == 0 && m["mrr@4"] == 0.5)
        // DCG@4 = 1/log2(3) + 1/log2(5); IDCG@4 = 1 + 1/log2(3) + 1/log2(4) (3 relevant items).
        let dcg = 1 / log2(3.0) + 1 / log2(5.0), idcg = 1 + 1 / log2(3.0) + 0.5
        #expect(abs(m["ndcg@4"]! - dcg / idcg) < 1e-12)
        // IDCG@2 uses min(|T|, K) = 2 positions.
        #expect(abs(m["ndcg@2"]! - (1 / log2(3.0)) / (1 + 1 / log2(3.0))) < 1e-12)
    }

    @Test func kLargerThanCatalogueAndUsersWithoutTruth() {
        var acc = MetricAccumulator(ks: [10])
        acc.add(ranked: [0, 1, 2][...], relevant: [2])     // catalogue of 3 items, K = 10
        acc.add(ranked: [0, 1, 2][...], relevant: [])      // no test items: not counted
        let m = acc.means
        #expect(acc.users == 1)
        #expect(m["recall@10"] == 1)
        #expect(m["precision@10"] == 0.1)   // divided by K, not by the list length
        #expect(abs(m["ndcg@10"]! - 0.5) < 1e-12)  // rank 3: 1/log2(4) over ideal 1
    }

    /// Two users, four items; user 0 trained on item 0, which must not be recommended.
    @Test func evaluatorExcludesTrainingItemsAndBreaksTiesByIndex() {
        let users = Tensor([[1, 0], [0, 1]])
        let items = Tensor([[10, 0], [5, 0], [5, 0], [0, 1]])  // items 1 and 2 tie for user 0
        let excluded = CSRMatrix(rows: 2, cols: 4, coordinates: [(0, 0, 1)])
        let truth = CSRMatrix(rows: 2, cols: 4, coordinates: [(0, 2, 1), (1, 3, 1)])
        let ev = FullRankingEvaluator(ks: [1, 2], excluded: excluded, truth: truth)
        let m = ev.evaluate(users: users, items: items)
        // User 0 ranks [1, 2, …] (item 0 removed, tie → lower index): hit at rank 2. User 1: item 3 at rank 1.
        #expect(m["recall@1"] == 0.5)
        #expect(m["recall@2"] == 1)
        #expect(m["mrr@2"] == 0.75)
        #expect(m["users"] == 2)
    }

    @Test func headTailSplitAndRecall() {
        let head = FullRankingEvaluator.headItems(counts: [5, 9, 1, 9, 0, 2, 3, 1, 1, 1])
        #expect(head.enumerated().filter { $0.element }.map(\.offset) == [1, 3])  // 20% of 10 = 2, tie → index
        let users = Tensor([[1]]), items = Tensor([[1], [4], [3], [2]])  // ranking 1, 2, 3, 0
        let truth = CSRMatrix(rows: 1, cols: 4, coordinates: [(0, 1, 1), (0, 0, 1)])
        let ev = FullRankingEvaluator(ks: [1], excluded: CSRMatrix(rows: 1, cols: 4, coordinates: []), truth: truth,
                                      isHead: [false, true, false, false])
        let m = ev.evaluate(users: users, items: items)
        #expect(m["recall@1/head"] == 1 && m["recall@1/tail"] == 0 && m["recall@1"] == 0.5)
    }

    /// Tail items ranked among tail items only: head items leave the ranking, known items stay out of it, and the
    /// held-out tail items are scored against what is left (by hand: the full ranking never reaches the tail here).
    @Test func tailItemsRankedAmongTailItems() {
        // Scores 4, 3, 2, 1, 0 for items 0…4; items 0 and 2 are head. User 1 already knows item 1.
        let users = Tensor([[1], [1]]), items = Tensor([[4], [3], [2], [1], [0]])
        let truth = CSRMatrix(rows: 2, cols: 5, coordinates: [(0, 3, 1), (0, 0, 1), (1, 3, 1)])
        let ev = FullRankingEvaluator(ks: [1, 2], excluded: CSRMatrix(rows: 2, cols: 5, coordinates: [(1, 1, 1)]), truth: truth,
                                      isHead: [true, false, true, false, false])
        let m = ev.evaluate(users: users, items: items)
        // Full rankings: user 0 [0, 1, …], user 1 [0, 2, …]: item 3 is outside both top 2s.
        #expect(m["recall@2/tail"] == 0)
        // Within the tail: user 0 ranks [1, 3, 4] (item 3 at rank 2), user 1 ranks [3, 4] (rank 1).
        #expect(m["recall@1/within_tail"] == 0.5 && m["recall@2/within_tail"] == 1)
        #expect(abs(m["ndcg@2/within_tail"]! - (1 / log2(3.0) + 1) / 2) < 1e-12)
        #expect(m["ndcg@1/within_tail"] == 0.5 && m["recall@1"] == 0.25)
    }

    /// Users fall into thirds by training degree (ties by index), and each third's metrics average only its users.
    @Test func userGroupsByDegree() {
        typealias G = FullRankingEvaluator.UserGroup
        #expect(G.byDegree([5, 1, 9, 1, 3, 7]) == [.middle, .sparse, .dense, .sparse, .middle, .dense])
        // Three users, one per group; only user 0 (sparse) and user 2 (dense) get their item at rank 1.
        let users = Tensor([[1, 0], [1, 0], [0, 1]]), items = Tensor([[1, 0], [0, 1]])
        let truth = CSRMatrix(rows: 3, cols: 2, coordinates: [(0, 0, 1), (1, 1, 1), (2, 1, 1)])
        let ev = FullRankingEvaluator(ks: [1], excluded: CSRMatrix(rows: 3, cols: 2, coordinates: []), truth: truth,
                                      userGroups: [.sparse, .middle, .dense])
        let m = ev.evaluate(users: users, items: items)
        #expect(m["recall@1/sparse_users"] == 1 && m["recall@1/middle_users"] == 0 && m["recall@1/dense_users"] == 1)
        #expect(m["ndcg@1/sparse_users"] == 1 && abs(m["recall@1"]! - 2.0 / 3) < 1e-12)
    }

    /// Evaluation split by users (each data-parallel rank scores its share): the shares' flattened sums, added up,
    /// give the metrics of one evaluation over every user, head/tail and activity groups included.
    @Test func sharesOfUsersAddUp() {
        var rng = RNG(seed: 3)
        let nUsers = 23, nItems = 17
        let users = rng.normalTensor(shape: [nUsers, 4], std: 1), items = rng.normalTensor(shape: [nItems, 4], std: 1)
        var relevant: [(row: Int32, col: Int32, value: Float)] = [], known: [(row: Int32, col: Int32, value: Float)] = []
        for u in 0..<nUsers {
            relevant.append((Int32(u), Int32((u * 7) % nItems), 1)); relevant.append((Int32(u), Int32((u * 3 + 1) % nItems), 1))
            known.append((Int32(u), Int32((u * 5 + 2) % nItems), 1))
        }
        let truth = CSRMatrix(rows: nUsers, cols: nItems, coordinates: relevant)
        let excluded = CSRMatrix(rows: nUsers, cols: nItems, coordinates: known)
        let ev = FullRankingEvaluator(ks: [5, 10], excluded: excluded, truth: truth, isHead: (0..<nItems).map { $0 % 3 == 0 },
                                      userGroups: (0..<nUsers).map { [.sparse, .middle, .dense][$0 % 3] })
        let whole = ev.evaluate(users: users, items: items)
        for cuts in [[0, 11, 23], [0, 1, 9, 23]] {
            var sums: [Double] = []
            for (a, b) in zip(cuts, cuts.dropFirst()) {
                let part = ev.totals(users: users, items: items, share: a..<b).flattened
                sums = sums.isEmpty ? part : zip(sums, part).map(+)
            }
            let split = ev.metrics(FullRankingEvaluator.Totals(ks: ev.ks, flattened: sums))
            #expect(Set(split.keys) == Set(whole.keys))
            for (k, v) in whole { #expect(abs(split[k]! - v) < 1e-12, "\(k)") }
        }
    }

    /// One user, four items, item 0 known: negatives score 2, 1, 0 at τ 1 → softmax e²/(e² + e + 1) on the hardest.
    @Test func hardNegativeShareByHand() {
        let users = Tensor([[1]]), items = Tensor([[5], [2], [1], [0]])
        let known = CSRMatrix(rows: 1, cols: 4, coordinates: [(0, 0, 1)])
        let e2 = exp(2.0), e1 = exp(1.0)
        let share = Geometry.hardNegativeShare(users: users, items: items, known: known, temperature: 1, k: 1)
        #expect(abs(share - e2 / (e2 + e1 + 1)) < 1e-9)
        // A higher temperature spreads the mass: τ 2 gives e/(e + e^0.5 + 1).
        let warm = Geometry.hardNegativeShare(users: users, items: items, known: known, temperature: 2, k: 1)
        #expect(abs(warm - e1 / (e1 + exp(0.5) + 1)) < 1e-9 && warm < share)
    }

    @Test func alignmentAndUniformity() {
        let u = Tensor([[1, 0], [0, 2]]), v = Tensor([[1, 0], [0, -1]])
        // Pair (0,0) identical: 0; pair (1,1) opposite: ‖(0,1) − (0,−1)‖² = 4.
        #expect(abs(Geometry.alignment(users: u, items: v, pairs: ([0, 1], [0, 1])) - 2) < 1e-9)
        // Two antipodal points: log exp(−2·4) = −8; identical points: log 1 = 0.
        #expect(abs(Geometry.uniformity(Tensor([[1, 0], [-3, 0]])) + 8) < 1e-5)
        #expect(abs(Geometry.uniformity(Tensor([[0, 1], [0, 1]]))) < 1e-6)
    }
}
