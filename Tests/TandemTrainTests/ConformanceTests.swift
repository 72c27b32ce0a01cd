import Foundation
import Testing
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemTrain
import TandemTestSupport

/// What every model kind must do, run over all of them (the "beats Pop on planted clusters" half lives with each family's
/// training tests: `learnsPlantedClustersBetterThanPopularity`, `graphModelsBeatPopularity`).
@Suite struct ConformanceTests {
    static let data = SyntheticData(SyntheticConfig(users: 90, items: 50, interactions: 1500, clusters: 3, seed: 11)).dataset()

    func model(_ kind: ModelKind) throws -> (TrainConfig, RetrievalModel) {
        var c = TrainConfig.defaults(for: kind)
        c.embeddingDim = 8; c.evaluation.ks = [10, 20]
        if kind == .sgl { c.graph.augmentation = .am }  // the variant with the most parameters
        if kind == .twoTower { c.twoTower.hidden = [12]; c.twoTower.historyLength = 5; c.twoTower.senet = .both }
        return (c, try ModelRegistry.make(c, dataset: Self.data))
    }

    /// Embeddings have one row per entity and one width on both sides; blocks of any size equal the whole table.
    @Test(arguments: ModelKind.allCases) func shapesAndBlocks(kind: ModelKind) throws {
        let (_, m) = try model(kind)
        let ds = Self.data
        let users = m.allEmbeddings(users: true, count: ds.numUsers, normalize: false)
        let items = m.allEmbeddings(users: false, count: ds.numItems, normalize: false)
        #expect(users.rows == ds.numUsers && items.rows == ds.numItems && users.cols == items.cols)
        let tape = Tape(training: false)
        let some: [Int32] = [0, 7, 3]
        #expect(m.userEmbeddings(tape, some).value.isClose(to: Tensor(shape: [3, users.cols], data: some.flatMap { users.row(Int($0)) }),
                                                           tolerance: 1e-5))
        #expect(m.itemEmbeddings(tape, some).value.isClose(to: Tensor(shape: [3, items.cols], data: some.flatMap { items.row(Int($0)) }),
                                                           tolerance: 1e-5))
        let normalized = m.allEmbeddings(users: false, count: ds.numItems, normalize: true)
        #expect(normalized.rows == ds.numItems)
    }

    /// A kind is closed-form (its descriptor) exactly when its model is not trained by gradient steps (Pop: no parameters).
    @Test(arguments: ModelKind.allCases) func closedFormTraitMatchesTheModel(kind: ModelKind) throws {
        let (_, m) = try model(kind)
        #expect(kind.descriptor.isClosedForm == (!m.trainsByGradient || m.parameters.isEmpty), "\(kind)")
    }

    /// One training loss (in-batch softmax plus the model's own terms) gives every parameter a gradient.
    /// Closed-form models (EASE, ItemKNN, iALS) set their parameters by `fit`, tested with each of them.
    @Test(arguments: ModelKind.allCases.filter { !$0.descriptor.isClosedForm })
    func everyParameterGetsAGradient(kind: ModelKind) throws {
        let (c, m) = try model(kind)
        #expect(m.trainsByGradient)
        m.beginEpoch()
        let train = Self.data.split.train
        let rows = Array(0..<min(train.count, 400))
        let users = rows.map { train.users[$0] }, items = rows.map { train.items[$0] }
        let tape = Tape(training: true, seed: 1)
        let u = tape.l2Normalize(m.userEmbeddings(tape, users, positives: items)), v = tape.l2Normalize(m.itemEmbeddings(tape, items))
        var loss = RetrievalLoss.inBatchSoftmax(tape, users: u, items: v, itemIds: items, temperature: c.objective.temperature)
        if let aux = m.auxiliaryLoss(tape, users: users, items: items, negatives: []) { loss = loss + aux }
        let g = tape.backward(loss)
        for p in m.parameters {
            let grad = g.denseGradient(of: p)
            #expect(grad != nil && grad!.data.contains { $0 != 0 }, "\(kind): \(p.name) got no gradient")
        }
    }

    /// Pop has nothing to train and ranks by training count.
    @Test func popularityIsAModelWithoutParameters() throws {
        let (_, m) = try model(.pop)
        #expect(m.parameters.isEmpty)
        let counts = Self.data.split.train.itemCounts(items: Self.data.numItems)
        #expect(m.allEmbeddings(users: false, count: counts.count, normalize: true).data == counts.map(Float.init))
    }

    /// Saving and loading a model gives the same scores (a model directory round trip per kind).
    @Test(arguments: ModelKind.allCases) func saveLoadGivesTheSameScores(kind: ModelKind) throws {
        var (c, m) = try model(kind)
        c.data.dataset = "synthetic:users=90,items=50,interactions=1500,clusters=3,seed=11"
        let ds = try c.loadDataset()
        m = try ModelRegistry.make(c, dataset: ds)
        for p in m.parameters { p.value.scale(by: 1.5) }  // not the initial values the loader would rebuild anyway
        let dir = Fixtures.temporaryPath("conformance")
        try ModelStore.save(m, config: c, dataset: ds, to: dir)
        let (c2, ds2, m2) = try ModelStore.load(from: dir)
        #expect(c2 == c && ds2.numItems == ds.numItems)
        let norm = c.objective.similarity == .cosine
        for users in [true, false] {
            let n = users ? ds.numUsers : ds.numItems
            #expect(m2.allEmbeddings(users: users, count: n, normalize: norm) == m.allEmbeddings(users: users, count: n, normalize: norm))
        }
    }
}

extension Tag {
    /// A test that trains a model to convergence on planted clusters and checks it beats Pop (the suite's slowest:
    /// seconds each in a debug build).
    @Tag static var endToEnd: Self
}
