import Foundation
import Testing
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemTrain
import TandemTestSupport

@Suite struct MiningTests {
    /// The band of ranks is exactly ranks lower…upper of each user's ranking with their training items removed (checked
    /// against a plain sort), and no training item is ever among them.
    @Test func bandsAreTheRanksAskedForWithoutTrainingItems() {
        var rng = RNG(seed: 5)
        let users = 120, items = 90, d = 6
        let u = rng.normalTensor(shape: [users, d], std: 1), v = rng.normalTensor(shape: [items, d], std: 1)
        var coordinates: [(Int32, Int32, Float)] = []
        for user in 0..<users where user != 7 { for item in 0..<items where rng.uniform() < 0.2 { coordinates.append((Int32(user), Int32(item), 1)) } }
        // User 7 knows all but five items: its band is the five left, whatever the ranks asked.
        for item in 5..<items { coordinates.append((7, Int32(item), 1)) }
        let known = CSRMatrix(rows: users, cols: items, coordinates: coordinates)
        let bands = HardNegativeMiner.bands(users: u, items: v, known: known, ranks: 11...30)
        for user in 0..<users {
            let mine = Set((known.rowPointers[user]..<known.rowPointers[user + 1]).map { known.columnIndices[$0] })
            let ranked = (0..<items).map(Int32.init).filter { !mine.contains($0) }.sorted { a, b in
                let sa = (0..<d).reduce(Float(0)) { $0 + u[user, $1] * v[Int(a), $1] }
                let sb = (0..<d).reduce(Float(0)) { $0 + u[user, $1] * v[Int(b), $1] }
                return sa != sb ? sa > sb : a < b
            }
            let expected = ranked.count >= 30 ? Array(ranked[10..<30]) : Array(ranked.suffix(20))
            #expect(bands[user] == expected, "user \(user)")
            #expect(bands[user].allSatisfy { !mine.contains($0) })
        }
        #expect(bands[7].count == 5)
    }

    /// Each row draws its mined negatives from its own user's band; dns keeps the best-scored candidate, never a training
    /// item, and scores higher on average than a uniform draw; the index is refreshed every `refreshEvery` steps.
    @Test func minersDrawFromTheirUsersRankingAndRefresh() {
        var rng = RNG(seed: 6)
        let users = 50, items = 200, d = 8
        let u = rng.normalTensor(shape: [users, d], std: 1), v = rng.normalTensor(shape: [items, d], std: 1)
        let known = CSRMatrix(rows: users, cols: items, coordinates: (0..<users).flatMap { user in (0..<20).map { (Int32(user), Int32(user + $0), Float(1)) } })
        let batch = TrainingBatch(users: (0..<users).map(Int32.init), items: (0..<users).map { Int32($0) })
        let ranks = HardNegativeMiner(.ranks(1...5), perRow: 3, refreshEvery: 2, known: known, logQ: nil) { (u, v) }
        let bands = HardNegativeMiner.bands(users: u, items: v, known: known, ranks: 1...5)
        var draw = RNG(seed: 1)
        for step in 0..<5 {
            let ids = ranks.mine(for: batch, rng: &draw)
            for r in 0..<users { #expect(ids[(r * 3)..<(r * 3 + 3)].allSatisfy { bands[r].contains($0) }, "step \(step) row \(r)") }
        }
        #expect(ranks.refreshes == 3)  // steps 0, 2, 4

        let dns = HardNegativeMiner(.dns(candidates: 16), perRow: 2, refreshEvery: 100, known: known, logQ: nil) { (u, v) }
        let score = { (user: Int, item: Int32) in (0..<d).reduce(Float(0)) { $0 + u[user, $1] * v[Int(item), $1] } }
        var mined: Float = 0, uniform: Float = 0
        for _ in 0..<20 {
            let ids = dns.mine(for: batch, rng: &draw)
            for r in 0..<users {
                for id in ids[(r * 2)..<(r * 2 + 2)] {
                    #expect(!(r..<(r + 20)).contains(Int(id)), "a training item was mined")
                    mined += score(r, id); uniform += score(r, Int32(draw.int(below: items)))
                }
            }
        }
        #expect(mined > uniform + 1000, "dns \(mined) vs uniform \(uniform)")
    }

    /// The softmax with each row's own columns equals the value worked out directly: row i's logits are its in-batch
    /// scores then its own mined scores, divided by τ; a mined column holding the row's positive is removed.
    @Test func rowColumnsJoinEachRowsSoftmax() {
        let tape = Tape(training: true, seed: 0)
        let u = tape.constant(Tensor([[1, 0], [0, 1]])), pos = tape.constant(Tensor([[1, 1], [0, 2]]))
        let mined = tape.constant(Tensor([[2, 0], [1, 1]]))  // row 0's mined item (id 7), row 1's (id 1: its own positive)
        let loss = RetrievalLoss.sampledSoftmax(tape, users: u, positives: pos, itemIds: [0, 1], sampled: nil, sampledIds: [], inBatch: true,
                                                temperature: 0.5, rowColumns: [mined], rowColumnIds: [[7, 1]])
        // Row 0: logits (1, 0, 2)/0.5 = (2, 0, 4), target 0. Row 1: (1, 2, [masked])/0.5 = (2, 4), target 1.
        let row0 = -2 + Foundation.log(Foundation.exp(2.0) + 1 + Foundation.exp(4.0))
        let row1 = -4 + Foundation.log(Foundation.exp(2.0) + Foundation.exp(4.0))
        #expect(abs(Double(loss.value.data[0]) - (row0 + row1) / 2) < 1e-5, "\(loss.value.data[0])")
    }

    /// MF with mined hard negatives (both kinds) learns the planted clusters far better than popularity; the config refuses
    /// mining without the in-batch softmax.
    @Test(arguments: [HardNegativeMining.ranks, .dns]) func trainsPastPopularity(mining: HardNegativeMining) throws {
        let ds = Fixtures.plantedClusters()
        var c = try TrainConfig.resolve(overrides: ["model": "mf"])
        c.training.epochs = 8; c.training.batchSize = 256; c.training.learningRate = 0.02; c.evaluation.ks = [10, 20]; c.embeddingDim = 16
        c.objective.hardNegatives = 2; c.objective.hardNegativeMining = mining; c.objective.hardNegativeRanks = [6, 30]
        let trainer = try Trainer(config: c, dataset: ds, log: { _ in })
        #expect(trainer.sampler is HardNegativeMiner)
        let report = try trainer.run()
        var p = c
        p.model = .pop
        let pop = try Trainer(config: p, dataset: ds, log: { _ in }).run()
        #expect(report.test["recall@20"]! > pop.test["recall@20"]! * 1.3, "\(report.test["recall@20"]!) vs pop \(pop.test["recall@20"]!)")
        #expect((trainer.sampler as! HardNegativeMiner).refreshes == report.epochs.count)  // once per epoch

        for (key, value) in [("negative_sampling", "mixed"), ("loss", "bpr"), ("hard_negative_ranks", "[30, 6]"), ("queue_size", "64")] {
            #expect(throws: ConfigError.self, "\(key)") {
                try TrainConfig.resolve(overrides: ["model": "mf", "hard_negatives": "2", key: value])
            }
        }
    }
}
