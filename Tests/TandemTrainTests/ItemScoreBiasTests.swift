import Testing
import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemEval
import TandemTrain
import TandemTestSupport

/// MF's item score bias (`item_bias` with MF): scores are `cos(u, v) + c_i` as inner products of the scored vectors,
/// the loss sees `cos/τ + c_i/τ`, the bias learns popularity, and what cannot read a bias refuses it.
@Suite struct ItemScoreBiasTests {
    /// A 2-user, 3-item MF with hand-set values: the scored vectors are `[û, 1]` and `[v̂, c]`, so every score is the
    /// cosine plus the item's bias (by hand: user 0 = (3, 4), user 1 = (0, 2); items (1, 0), (0, 5), (−2, 0); c = 0.5,
    /// −1, 2).
    @Test func scoresAreTheCosinePlusTheItemsBias() {
        var rng = RNG(seed: 1)
        let m = MatrixFactorization(users: 2, items: 3, dim: 2, itemBias: true, rng: &rng)
        m.users.value = Tensor(shape: [2, 2], data: [3, 4, 0, 2])
        m.items.value = Tensor(shape: [3, 2], data: [1, 0, 0, 5, -2, 0])
        m.bias!.value = Tensor(shape: [3, 1], data: [0.5, -1, 2])
        let u = m.allEmbeddings(users: true, count: 2, normalize: true)
        let v = m.allEmbeddings(users: false, count: 3, normalize: true)
        #expect(u.shape == [2, 3] && v.shape == [3, 3])
        #expect(u.isClose(to: Tensor(shape: [2, 3], data: [0.6, 0.8, 1, 0, 1, 1]), tolerance: 1e-6))
        #expect(v.isClose(to: Tensor(shape: [3, 3], data: [1, 0, 0.5, 0, 1, -1, -1, 0, 2]), tolerance: 1e-6))
        // cos: user 0 → 0.6, 0.8, −0.6; user 1 → 0, 1, 0.
        let expected: [[Float]] = [[1.1, -0.2, 1.4], [0.5, 0, 2]]
        for r in 0..<2 {
            for i in 0..<3 {
                let s = (0..<3).reduce(Float(0)) { $0 + u[r, $1] * v[i, $1] }
                #expect(abs(s - expected[r][i]) < 1e-6, "user \(r) item \(i): \(s)")
            }
        }
        // Without normalisation (dot similarity) the bias is still added to the raw inner product.
        let raw = m.allEmbeddings(users: false, count: 3, normalize: false)
        #expect(raw.isClose(to: Tensor(shape: [3, 3], data: [1, 0, 0.5, 0, 5, -1, -2, 0, 2]), tolerance: 1e-6))
        // Forgetting an item zeroes its bias too.
        m.forgetItems([2])
        #expect(m.bias!.value.data == [0.5, -1, 0])
    }

    /// The in-batch loss over the scored vectors has the bias's gradient of the softmax over `cos/τ + c/τ`: by central
    /// differences on every bias, through the normalisation.
    @Test func theBiasGradientMatchesCentralDifferences() {
        var rng = RNG(seed: 2)
        let m = MatrixFactorization(users: 5, items: 6, dim: 3, itemBias: true, rng: &rng)
        m.bias!.value = Tensor(shape: [6, 1], data: [0.3, -0.2, 0.1, 0.7, -0.5, 0])
        let users: [Int32] = [0, 1, 2, 3, 4], items: [Int32] = [1, 3, 0, 5, 3]
        let tau: Float = 0.2
        func loss(_ tape: Tape) -> Variable {
            let u = m.scoredUsers(tape, m.userEmbeddings(tape, users), normalize: true)
            let v = m.scoredItems(tape, items, normalize: true)
            return RetrievalLoss.inBatchSoftmax(tape, users: u, items: v, itemIds: items, temperature: tau)
        }
        let tape = Tape(training: true, seed: 1)
        let g = tape.backward(loss(tape)).denseGradient(of: m.bias!)!
        let h: Float = 1e-2
        for i in 0..<6 {
            let keep = m.bias!.value.data[i]
            m.bias!.value.data[i] = keep + h
            let up = loss(Tape(training: false)).value.data[0]
            m.bias!.value.data[i] = keep - h
            let down = loss(Tape(training: false)).value.data[0]
            m.bias!.value.data[i] = keep
            let numeric = (up - down) / (2 * h)
            #expect(abs(numeric - g.data[i]) < 2e-3, "bias \(i): numeric \(numeric) vs \(g.data[i])")
        }
        // Items 2 and 4 are nobody's positive in this batch: no column, no gradient.
        #expect(g.data[2] == 0 && g.data[4] == 0)
    }

    /// Trained on planted clusters whose item popularity follows a power law, the learned biases rise with the items'
    /// training counts (Spearman ρ > 0.5), the model beats Pop, and its geometry is of the embeddings alone (item
    /// uniformity equals that of the normalised item vectors without the bias column).
    @Test(.tags(.endToEnd)) func theBiasLearnsPopularity() throws {
        let ds = Fixtures.plantedClusters()
        var c = try TrainConfig.resolve(overrides: ["model": "mf", "item_bias": "true"])
        c.training.epochs = 8; c.training.batchSize = 256; c.training.learningRate = 0.02; c.evaluation.ks = [10, 20]; c.embeddingDim = 16
        let trainer = try Trainer(config: c, dataset: ds, log: { _ in })
        let report = try trainer.run()
        let mf = try #require(trainer.model as? MatrixFactorization)
        let counts = ds.split.train.itemCounts(items: ds.numItems).map(Double.init)
        let rho = Self.spearman(mf.bias!.value.data.map(Double.init), counts)
        #expect(rho > 0.5, "Spearman ρ(bias, training count) = \(rho)")
        var p = c
        p.model = .pop
        let pop = try Trainer(config: p, dataset: ds, log: { _ in }).run()
        #expect(report.test["recall@20"]! > pop.test["recall@20"]! * 1.3, "\(report.test["recall@20"]!) vs pop \(pop.test["recall@20"]!)")
        let items = mf.embeddingsInBlocks(users: false, count: ds.numItems, normalize: true)
        let d = items.cols - 1
        let plain = Tensor(shape: [items.rows, d], data: (0..<items.rows).flatMap { r in (0..<d).map { items[r, $0] } })
        #expect(abs(report.geometry["uniformity_items"]! - Geometry.uniformity(plain)) < 1e-9)
    }

    /// A model directory keeps the biases: saved and loaded, the scored vectors are the same.
    @Test func saveAndLoadKeepTheBias() throws {
        var c = try TrainConfig.resolve(overrides: ["model": "mf", "item_bias": "true"])
        c.embeddingDim = 4; c.evaluation.ks = [10, 20]
        c.data.dataset = "synthetic:users=40,items=30,interactions=600,clusters=2,seed=5"
        let ds = try c.loadDataset()
        let m = try ModelRegistry.make(c, dataset: ds) as! MatrixFactorization
        m.bias!.value = Tensor(shape: [30, 1], data: (0..<30).map { Float($0) / 10 })
        let dir = Fixtures.temporaryPath("item-bias")
        try ModelStore.save(m, config: c, dataset: ds, to: dir)
        let (_, _, loaded) = try ModelStore.load(from: dir)
        for users in [true, false] {
            let n = users ? ds.numUsers : ds.numItems
            #expect(loaded.allEmbeddings(users: users, count: n, normalize: true) == m.allEmbeddings(users: users, count: n, normalize: true))
        }
        #expect(loaded.allEmbeddings(users: false, count: 30, normalize: true).cols == 5)
    }

    /// What reads vectors as geometry or copies the item side without the bias refuses `item_bias` with MF.
    @Test func whatCannotReadTheBiasRefusesIt() throws {
        let ds = Fixtures.plantedClusters()
        for (key, value, words) in [("loss", "directau", "loss directau"), ("loss", "alignment", "loss alignment"),
                                    ("queue_size", "64", "queue_size"), ("prototypes", "8", "prototypes")] {
            let c = try TrainConfig.resolve(overrides: ["model": "mf", "item_bias": "true", key: value])
            let error = #expect(throws: ConfigError.self, "\(key)") { try ModelRegistry.make(c, dataset: ds) }
            #expect(error?.description.contains(words) == true, "\(error?.description ?? "")")
        }
    }

    static func spearman(_ a: [Double], _ b: [Double]) -> Double {
        func ranks(_ x: [Double]) -> [Double] {
            let order = x.indices.sorted { x[$0] < x[$1] }
            var r = [Double](repeating: 0, count: x.count)
            var i = 0
            while i < order.count {  // ties share their mean rank
                var j = i
                while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
                for k in i...j { r[order[k]] = Double(i + j) / 2 }
                i = j + 1
            }
            return r
        }
        let ra = ranks(a), rb = ranks(b), n = Double(a.count)
        let ma = ra.reduce(0, +) / n, mb = rb.reduce(0, +) / n
        let cov = zip(ra, rb).reduce(0) { $0 + ($1.0 - ma) * ($1.1 - mb) }
        let va = ra.reduce(0) { $0 + ($1 - ma) * ($1 - ma) }, vb = rb.reduce(0) { $0 + ($1 - mb) * ($1 - mb) }
        return cov / (va * vb).squareRoot()
    }
}
