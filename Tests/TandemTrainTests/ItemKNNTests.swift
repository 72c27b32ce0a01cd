import Foundation
import Testing
import TandemTensor
import TandemData
@testable import TandemModels
import TandemEval
import TandemTrain
import TandemTestSupport

@Suite struct ItemKNNTests {
    /// X = [[1,1,0],[0,1,1],[1,1,1]]: co-occurrences c01 = 2, c02 = 1, c12 = 2, norms √2, √3, √2, so the cosines are
    /// s(0,1) = s(1,2) = 2/√6 ≈ 0.8165 and s(0,2) = 0.5. With k = 1 item 0 keeps item 1, item 1 keeps item 0 (a tie with
    /// item 2, to the lower index), item 2 keeps item 1; user 0 (items 0, 1) scores 0.8165 for every item, user 1
    /// (items 1, 2) scores 0.8165, 0, 0.8165 (worked by hand).
    @Test func similaritiesAndNeighboursMatchAHandWorkedCase() throws {
        var config = ItemKNNConfig()
        config.knnNeighbours = 1
        let model = try ItemKNN(config, train: Interactions(users: [0, 0, 1, 1, 2, 2, 2], items: [0, 1, 1, 2, 0, 1, 2]), users: 3, items: 3)
        _ = try model.fit(validate: { 0 }, log: { _ in })
        let s = 2 / 6.0.squareRoot()
        let scores = BLAS.matmul(model.allEmbeddings(users: true, count: 3, normalize: true),
                                 model.allEmbeddings(users: false, count: 3, normalize: true), transposeB: true)
        #expect(scores.isClose(to: Tensor([[Float(s), Float(s), Float(s)], [Float(s), 0, Float(s)], [Float(s), Float(s), Float(s)]]), tolerance: 1e-5))
        config.knnNeighbours = 2  // every other item: user 1's item 1 now also sums s(2,1)
        let wide = try ItemKNN(config, train: Interactions(users: [0, 0, 1, 1, 2, 2, 2], items: [0, 1, 1, 2, 0, 1, 2]), users: 3, items: 3)
        _ = try wide.fit(validate: { 0 }, log: { _ in })
        let w = BLAS.matmul(wide.allEmbeddings(users: true, count: 3, normalize: false),
                            wide.allEmbeddings(users: false, count: 3, normalize: false), transposeB: true)
        #expect(abs(Double(w[1, 0]) - (s + 0.5)) < 1e-5 && abs(Double(w[1, 1]) - s) < 1e-5)
    }

    @Test func trainsPastPopOnPlantedClusters() throws {
        let ds = Fixtures.plantedClusters()
        let r = try Trainer(config: TrainConfig.resolve(overrides: ["model": "itemknn", "ks": "[10, 20]"]), dataset: ds, log: { _ in }).run()
        let pop = try Trainer(config: TrainConfig.resolve(overrides: ["model": "pop", "ks": "[10, 20]"]), dataset: ds, log: { _ in }).run()
        #expect(r.test["ndcg@20"]! > pop.test["ndcg@20"]! * 1.3 && r.fitted?["neighbours"] == 100)
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["model": "itemknn", "knn_neighbours": "many"]) }
    }

    /// The sparse fit and scorer against the dense computation written out here (every item pair's cosine, each item's
    /// column sorted whole, `X W` by dense products): the kept neighbours, their similarities and every score agree, on
    /// data with many tied similarities, with a shrink, and with items nobody trained on.
    @Test(arguments: [(3, 0.0), (5, 2.0), (40, 0.5)]) func sparseFitAndScoresEqualADenseReference(k: Int, shrink: Double) throws {
        var rng = RNG(seed: 11)
        var users: [Int32] = [], items: [Int32] = []
        for u in 0..<50 { for _ in 0..<(1 + rng.int(below: 8)) { users.append(Int32(u)); items.append(Int32(rng.int(below: 28))) } }  // items 28, 29: none
        let n = 30, train = Interactions(users: users, items: items)
        var config = ItemKNNConfig()
        config.knnNeighbours = k; config.knnShrink = shrink
        let model = try ItemKNN(config, train: train, users: 50, items: n)
        _ = try model.fit(validate: { 0 }, log: { _ in })

        let x = train.matrix(users: 50, items: n).toDense()
        var c = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for u in 0..<50 { for a in 0..<n where x[u, a] > 0 { for b in 0..<n where x[u, b] > 0 { c[a][b] += 1 } } }
        var w = Tensor(zeros: [n, n])  // w[l, i] = s(l, i) for l among i's k best (ties to the lower l)
        let kept = min(k, n - 1)
        for i in 0..<n {
            let s = (0..<n).map { l in c[l][i] / (c[l][l].squareRoot() * c[i][i].squareRoot() + shrink + 1e-6) }
            let order = (0..<n).filter { $0 != i }.sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }.prefix(kept)
            for l in order { w[l, i] = Float(s[l]) }
            // The model keeps the same neighbours, best first, leaving out only those of similarity 0.
            let ids = (0..<model.neighbours.value.cols).map { model.neighbours.value[i, $0] }.filter { $0 >= 0 }.map { Int($0) }
            #expect(ids == Array(order.filter { s[$0] > 0 }), "item \(i)")
            for (slot, l) in ids.enumerated() { #expect(model.neighbourWeights.value[i, slot] == Float(s[l])) }
        }
        let reference = BLAS.matmul(x, w)
        let scores = try #require(model.directScorer()).scores(users: (0..<50).map { Int32($0) })
        #expect(scores.isClose(to: reference, tolerance: 1e-5))
        // A scattered block of users scores as those rows do.
        let some: [Int32] = [7, 3, 41]
        #expect(model.directScorer()!.scores(users: some).isClose(to: reference.gatherRows(some), tolerance: 1e-5))
        // The embeddings (exported and served on small catalogues) give the same scores.
        let dense = BLAS.matmul(model.allEmbeddings(users: true, count: 50, normalize: false),
                                model.allEmbeddings(users: false, count: n, normalize: false), transposeB: true)
        #expect(dense.isClose(to: reference, tolerance: 1e-5))
    }

    /// The heap keeps the best `capacity` of many candidates with tied similarities, best first, ties to the lower item.
    @Test func neighbourHeapKeepsTheBestWithTiesToTheLowerItem() {
        var rng = RNG(seed: 5)
        for capacity in [1, 4, 17] {
            var heap = NeighbourHeap(capacity: capacity)
            var candidates = (0..<200).map { (similarity: Double(rng.int(below: 12)) / 12, item: Int32($0)) }
            rng.shuffle(&candidates)
            for c in candidates { heap.offer(similarity: c.similarity, item: c.item) }
            let expected = candidates.sorted { $0.similarity > $1.similarity || ($0.similarity == $1.similarity && $0.item < $1.item) }.prefix(capacity)
            let got = heap.takeSorted()
            #expect(got.map(\.item) == expected.map(\.item) && got.map(\.similarity) == expected.map(\.similarity))
        }
    }

    /// A model too wide to embed (here: counted against a tiny memory) saves without a serving bundle, and says why;
    /// the saved weights evaluate as the trained model did.
    @Test func aCatalogueTooWideToEmbedSavesWithoutServing() throws {
        let dir = Fixtures.temporaryPath("itemknn-wide")
        let c = try TrainConfig.resolve(overrides: ["model": "itemknn", "ks": "[10, 20]",
                                                    "dataset": "synthetic:users=120,items=60,interactions=2500,clusters=3"])
        let ds = try c.loadDataset()
        let trainer = try Trainer(config: c, dataset: ds, log: { _ in })
        let report = try trainer.run()
        #expect(ModelStore.embeddingsTooLarge(trainer.model, dataset: ds) == nil)
        let reason = try #require(ModelStore.embeddingsTooLarge(trainer.model, dataset: ds, memoryBytes: 1e5))
        #expect(reason.contains("not exported, indexed or served"))
        try ModelStore.save(trainer.model, config: c, dataset: ds, to: dir, memoryBytes: 1e5)
        #expect(!FileManager.default.fileExists(atPath: dir + "/" + ModelFile.serving))
        #expect(try ModelManifest.read(dir).servingOmitted == reason)
        let (c2, ds2, model2) = try ModelStore.load(from: dir)
        let test = c2.evaluationProtocol(ds2).test.evaluate(ModelStore.scorer(model2, config: c2, dataset: ds2))
        #expect(test["ndcg@20"] == report.test["ndcg@20"] && test["recall@10"] == report.test["recall@10"])
    }
}
