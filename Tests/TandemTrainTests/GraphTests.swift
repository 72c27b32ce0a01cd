import Testing
import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemTrain
import TandemTestSupport

@Suite struct GraphTests {
    /// Users {0, 1}, items {0, 1}: edges u0–i0, u0–i1, u1–i0. Degrees: u0 2, u1 1, i0 2, i1 1.
    func tiny() -> BipartiteGraph {
        BipartiteGraph(train: Interactions(users: [0, 0, 1, 0], items: [0, 1, 0, 0]), users: 2, items: 2)
    }

    @Test func normalisedAdjacencyByHand() {
        let a = tiny().normalizedAdjacency().toDense()
        // Node order: u0, u1, i0 (2), i1 (3). Â[u, i] = 1/√(d_u d_i); the repeated edge counts once.
        #expect(abs(a[0, 2] - 0.5) < 1e-6 && abs(a[0, 3] - 1 / 2.0.squareRoot().float) < 1e-6)
        #expect(abs(a[1, 2] - 1 / 2.0.squareRoot().float) < 1e-6 && a[1, 3] == 0)
        #expect(a == a.transposed())
        #expect(a[0, 1] == 0 && a[2, 3] == 0)  // bipartite: no user–user or item–item entries
    }

    @Test func dropoutViewsRenormalise() {
        let g = BipartiteGraph(train: SyntheticData(SyntheticConfig(users: 200, items: 100, interactions: 3000)).log.interactions,
                               users: 200, items: 100)
        var rng = RNG(seed: 1)
        let ed = g.edgeDropout(ratio: 0.3, rng: &rng)
        let kept = Double(ed.nonZeros) / Double(2 * g.edgeUsers.count)
        #expect(abs(kept - 0.7) < 0.03)
        // Every kept entry is 1/√(d_u d_i) in the thinned graph.
        var degree = [Float](repeating: 0, count: g.nodes)
        for r in 0..<ed.rows { degree[r] = Float(ed.columns(ofRow: r).count) }
        for r in 0..<ed.rows {
            for p in ed.rowPointers[r]..<ed.rowPointers[r + 1] {
                #expect(abs(ed.values[p] - 1 / (degree[r] * degree[Int(ed.columnIndices[p])]).squareRoot()) < 1e-5)
            }
        }
        let nd = g.nodeDropout(ratio: 0.2, rng: &rng)
        #expect(nd.nonZeros < ed.nonZeros + Int(0.2 * Double(2 * g.edgeUsers.count)))
    }

    @Test func simGCLNoiseHasNormEpsAndFollowsSigns() {
        var rng = RNG(seed: 2)
        let x = Tensor([[1, -2, 0.5, -0.1], [-1, 1, -1, 1]])
        let n = GraphPropagation.signAlignedNoise(x, eps: 0.1, rng: &rng)
        for i in 0..<2 {
            let row = n.row(i)
            #expect(abs(row.map { $0 * $0 }.reduce(0, +).squareRoot() - 0.1) < 1e-5)
            for j in 0..<4 { #expect(row[j] * x[i, j] >= 0) }
        }
    }

    /// On a graph large next to the batch, training takes the last propagation for the batch's rows only; values and
    /// the gradient of the ego embeddings must equal the full readout's (an evaluation tape takes the full path).
    @Test(arguments: [1, 2, 3, 4]) func batchRowsReadoutEqualsTheFullReadout(layers: Int) {
        var rng = RNG(seed: 5)
        let users = 60, items = 80
        var us: [Int32] = [], its: [Int32] = []
        for _ in 0..<600 { us.append(Int32(rng.int(below: users))); its.append(Int32(rng.int(below: items))) }
        var settings = GraphConfig()
        settings.layers = layers
        let model = LightGCN(graph: BipartiteGraph(train: Interactions(users: us, items: its), users: users, items: items),
                             dim: 8, config: settings, rng: &rng)
        let batchUsers: [Int32] = [3, 17, 3, 59], batchItems: [Int32] = [0, 79, 41, 41]
        let w = rng.normalTensor(shape: [4, 1], std: 1000)  // gradients of order 0.1–1, so the tolerance bites
        func run(training: Bool) -> (Tensor, Tensor, Tensor) {
            let tape = Tape(training: training)
            let u = model.userEmbeddings(tape, batchUsers), v = model.itemEmbeddings(tape, batchItems)
            let loss = tape.sum(tape.rowDot(u, v) * tape.constant(w))
            return (u.value, v.value, tape.backward(loss).denseGradient(of: model.propagation.ego)!)
        }
        let (u1, v1, g1) = run(training: true), (u2, v2, g2) = run(training: false)
        #expect(u1.isClose(to: u2, tolerance: 1e-5) && v1.isClose(to: v2, tolerance: 1e-5))
        #expect(g1.isClose(to: g2, tolerance: 1e-5))
    }

    /// All embeddings of a graph model come from one propagation whatever the block size, and follow new parameters.
    @Test func allEmbeddingsPropagateOnceAndStayFresh() {
        var rng = RNG(seed: 6)
        let model = LightGCN(graph: tiny(), dim: 4, config: GraphConfig(), rng: &rng)
        #expect(model.computesAllRowsAtOnce)
        let whole = model.embeddingsInBlocks(users: false, count: 2, normalize: true, batch: 4096)
        #expect(model.embeddingsInBlocks(users: false, count: 2, normalize: true, batch: 1) == whole)
        model.propagation.ego.value.scale(by: 2)
        let doubled = model.embeddingsInBlocks(users: false, count: 2, normalize: false, batch: 1)
        var expected = model.embeddingsInBlocks(users: false, count: 2, normalize: false, batch: 4096)
        #expect(doubled == expected)
        model.propagation.ego.value.scale(by: 0.5)
        expected.scale(by: 0.5)
        #expect(model.allEmbeddings(users: false, count: 2, normalize: false).isClose(to: expected))
    }

    /// The whole LightGCN forward (3 propagations, layer mean, gather) has the gradient finite differences give.
    @Test func lightGCNEmbeddingGradientMatchesFiniteDifferences() throws {
        var rng = RNG(seed: 3)
        var settings = GraphConfig()
        settings.graphReg = 0
        let model = LightGCN(graph: tiny(), dim: 3, config: settings, rng: &rng)
        func loss() -> (Tape, Variable) {
            let tape = Tape()
            let u = model.userEmbeddings(tape, [0, 1]), v = model.itemEmbeddings(tape, [1, 0])
            return (tape, tape.sum(tape.softplus(tape.rowDot(u, v))))
        }
        let (tape, l) = loss()
        let g = tape.backward(l).dense[ObjectIdentifier(model.propagation.ego)]!
        let h: Float = 1e-2
        for k in 0..<model.propagation.ego.value.count {
            let orig = model.propagation.ego.value.data[k]
            model.propagation.ego.value.data[k] = orig + h; let fp = Double(loss().1.value.data[0])
            model.propagation.ego.value.data[k] = orig - h; let fm = Double(loss().1.value.data[0])
            model.propagation.ego.value.data[k] = orig
            #expect(abs((fp - fm) / Double(2 * h) - Double(g.data[k])) < 2e-3)
        }
    }

    /// SGL's attribute-masking view: side features join the ids in `E⁰`; a view's masks change only the feature part
    /// (all kept: the unmasked `E⁰`; all masked: the id rows plus one vector, the encoder's bias, the same for every
    /// node); training learns the planted clusters; a dataset without features is a clear error.
    @Test(.tags(.endToEnd)) func sglAttributeMaskingMasksFeaturesNotIdsAndLearns() throws {
        var ds = Fixtures.plantedClusters()
        var c = try TrainConfig.resolve(overrides: ["model": "sgl", "augmentation": "am", "drop_ratio": "0.3"])
        c.training.epochs = 10; c.training.batchSize = 512; c.embeddingDim = 16; c.evaluation.ks = [10, 20]; c.graph.layers = 2
        let trainer = try Trainer(config: c, dataset: ds, log: { _ in })
        let model = try #require(trainer.model as? SGL)
        let graph = model.propagation
        #expect(graph.userFeatures != nil && graph.itemFeatures != nil)
        let tape = Tape()
        let plain = graph.egoEmbeddings(tape).value
        let uf = graph.userFeatures!.fieldCount, itf = graph.itemFeatures!.fieldCount
        let kept = graph.egoEmbeddings(tape, masks: (Tensor(repeating: 1, shape: [300, uf]), Tensor(repeating: 1, shape: [120, itf]))).value
        #expect(kept.isClose(to: plain, tolerance: 1e-6))
        let masked = graph.egoEmbeddings(tape, masks: (Tensor(zeros: [300, uf]), Tensor(zeros: [120, itf]))).value
        let d = 16, ids = graph.ego.value
        for side in [0..<300, 300..<420] {
            let offset = (0..<d).map { masked.data[side.lowerBound * d + $0] - ids.data[side.lowerBound * d + $0] }
            for r in side { for j in 0..<d { #expect(abs(masked.data[r * d + j] - ids.data[r * d + j] - offset[j]) < 1e-5) } }
        }
        #expect(!masked.isClose(to: plain, tolerance: 1e-3))
        // The epoch's two views: masks at the drop ratio (0.3), drawn independently, for both node kinds.
        model.beginEpoch()
        #expect(model.featureViews.count == 2)
        for side in [\.users, \.items] as [KeyPath<(users: Tensor?, items: Tensor?), Tensor?>] {
            let a = try #require(model.featureViews[0][keyPath: side]), b = try #require(model.featureViews[1][keyPath: side])
            let dropped = Double(a.data.filter { $0 == 0 }.count) / Double(a.count)
            #expect(abs(dropped - 0.3) < 0.05, "masked fraction \(dropped)")
            #expect(a.data.allSatisfy { $0 == 0 || $0 == 1 } && a != b)
        }

        let pop = try Trainer(config: TrainConfig.resolve(overrides: ["model": "pop", "ks": "[10, 20]"]), dataset: ds, log: { _ in }).run()
        let r = try trainer.run()
        #expect(r.test["recall@20"]! > pop.test["recall@20"]! * 1.3, "sgl am: \(r.test["recall@20"]!) vs pop \(pop.test["recall@20"]!)")

        ds.userFeatures = nil; ds.itemFeatures = nil
        #expect(throws: ConfigError.self) { try Trainer(config: c, dataset: ds, log: { _ in }).run() }
    }

    /// Every graph model, with its default settings, learns the planted clusters: far better than popularity.
    @Test(.tags(.endToEnd), arguments: [ModelKind.lightgcn, .sgl, .simgcl, .xsimgcl]) func graphModelsBeatPopularity(model: ModelKind) throws {
        let ds = Fixtures.plantedClusters()
        var c = try TrainConfig.resolve(overrides: ["model": model.rawValue])
        c.training.epochs = 10; c.training.batchSize = 512; c.training.learningRate = 0.01; c.embeddingDim = 16; c.evaluation.ks = [10, 20]; c.graph.layers = 2; c.graph.clLayer = 1
        let popConfig = try TrainConfig.resolve(overrides: ["model": "pop", "ks": "[10, 20]"])
        let pop = try Trainer(config: popConfig, dataset: ds, log: { _ in }).run()
        let r = try Trainer(config: c, dataset: ds, log: { _ in }).run()
        #expect(r.test["recall@20"]! > pop.test["recall@20"]! * 1.3, "\(model): \(r.test["recall@20"]!) vs pop \(pop.test["recall@20"]!)")
    }
}

extension Double { var float: Float { Float(self) } }
