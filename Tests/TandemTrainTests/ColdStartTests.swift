import Testing
import Foundation
import TandemTensor
import TandemData
import TandemEval
import TandemModels
import TandemTrain
import TandemTestSupport

/// Item cold start: held-out items never reach training or validation, the usual rankings leave them out, the cold
/// ranking breaks ties at random per user, and the feature towers rank unseen items well above chance.
@Suite struct ColdStartTests {
    static func data() -> Dataset {
        Fixtures.plantedClusters()
    }

    @Test func heldOutItemsLeaveTrainingAndValidation() {
        let ds = Self.data(), cold = ds.holdingOutItems(0.1, seed: 7)
        let isCold = try! #require(cold.coldItems)
        #expect(isCold.filter { $0 }.count == 12)
        for part in [cold.split.train, cold.split.valid, cold.split.test] { #expect(part.items.allSatisfy { !isCold[Int($0)] }) }
        let held = try! #require(cold.coldTest)
        #expect(held.items.allSatisfy { isCold[Int($0)] })
        let before = ds.split.train.count + ds.split.valid.count + ds.split.test.count
        #expect(cold.split.train.count + cold.split.valid.count + cold.split.test.count + held.count == before)
        #expect(ds.holdingOutItems(0.1, seed: 7).coldItems == isCold && ds.holdingOutItems(0, seed: 7).coldItems == nil)
        // The usual rankings never offer a cold item.
        let p = EvaluationProtocol(cold, ks: [20])
        for u in 0..<cold.numUsers {
            let excluded = Set(p.valid.excluded.columns(ofRow: u)), excludedTest = Set(p.test.excluded.columns(ofRow: u))
            #expect(isCold.indices.filter { isCold[$0] }.allSatisfy { excluded.contains(Int32($0)) && excludedTest.contains(Int32($0)) })
        }
    }

    @Test func aFractionOutsideZeroToOneIsRefused() {
        for bad in ["1", "-0.1", "1.5"] {
            let e = #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["cold_items": bad]) }
            #expect(e?.description.contains("cold_items") == true)
        }
    }

    /// Equal scores: each user gets a different order, none of them index order; distinct scores keep their order.
    @Test func tiesBreakAtRandomPerUser() {
        let truth = CSRMatrix(rows: 400, cols: 40, coordinates: (0..<400).map { (Int32($0), Int32(39), Float(1)) })
        var ev = FullRankingEvaluator(ks: [1], excluded: CSRMatrix(rows: 400, cols: 40, coordinates: []), truth: truth)
        let users = Tensor(shape: [400, 1], data: [Float](repeating: 1, count: 400))
        let flat = Tensor(shape: [40, 1], data: [Float](repeating: 0.5, count: 40))
        #expect(ev.evaluate(users: users, items: flat)["recall@1"] == 0)  // index order: item 0 first, never item 39
        ev.randomTieBreaking = true
        let hits = ev.evaluate(users: users, items: flat)["recall@1"]!
        #expect(hits > 0.005 && hits < 0.06, "\(hits)")  // about 1 in 40 users, by chance
        let ramp = Tensor(shape: [40, 1], data: (0..<40).map { Float($0) * 1e-3 })  // item 39 scores highest
        #expect(ev.evaluate(users: users, items: ramp)["recall@1"] == 1)
    }

    /// Feature popularity by hand: items 0, 1 warm with counts 4 and 2 share value a; item 2 (cold) has a → 3; item 3
    /// (cold) has b, which no warm item holds → 0.
    @Test func featurePopularityByHand() throws {
        var vocab = IdMap(); _ = vocab.insert("a"); _ = vocab.insert("b")
        let field = FeatureField.categorical("f", vocabulary: vocab, categories: [1, 1, 1, 2])
        var ds = Dataset(name: "t", userIds: IdMap(tokens: ["u"]), itemIds: IdMap(tokens: ["0", "1", "2", "3"]),
                         split: Split(train: Interactions(users: [0, 0, 0, 0, 0, 0], items: [0, 0, 0, 0, 1, 1]),
                                      valid: Interactions(users: [], items: []), test: Interactions(users: [], items: [])))
        ds.itemFeatures = FeatureSet(fields: [field], entityCount: 4)
        ds.coldItems = [false, false, true, true]
        ds.coldTest = Interactions(users: [0], items: [2])
        let cold = try #require(ColdStartEvaluation(ds, ks: [1]))
        #expect(cold.items == [2, 3] && cold.featurePopularity == [3, 0])
    }

    /// On planted clusters with correlated item features, the two-tower model ranks unseen items far above chance; MF,
    /// whose cold items are all-zero vectors, stays at chance.
    @Test(.tags(.endToEnd)) func featureTowersRankUnseenItems() throws {
        var results: [String: [String: Double]] = [:]
        for model in ["two-tower", "mf"] {
            var c = try TrainConfig.resolve(overrides: ["model": model, "cold_items": "0.2", "epochs": "10", "batch_size": "256",
                                                        "embedding_dim": "16", "ks": "[5, 10]", "valid_metric": "ndcg@10",
                                                        "learning_rate": "0.02"])
            c.data.dataset = nil
            let ds = Self.data().holdingOutItems(0.2, seed: c.seed)
            results[model] = try Trainer(config: c, dataset: ds, log: { _ in }).run().test
        }
        // 24 cold items: chance is 5 / 24 at K = 5.
        let random = try #require(results["mf"]?["recall@5/cold_random"])
        #expect(abs(random - 5.0 / 24) < 1e-12)
        #expect(results["two-tower"]!["recall@5/cold_items"]! > 1.5 * random, "\(results)")
        #expect(abs(results["mf"]!["recall@5/cold_items"]! - random) < 0.08, "\(results)")
    }
}
