import Testing
import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemTrain

/// The self-supervised views (FD, RFM, CFM), Sinkhorn's marginals, and that SSL, ConCAT and fraction-trained runs
/// train end to end.
@Suite(.serialized) struct ContrastiveLeverTests {
    @Test func featureDropoutDropsAtItsRateIndependentlyPerView() {
        var rng = RNG(seed: 1)
        let m = FieldMasker(kind: .fd, fieldCount: 4, dropRate: 0.3, mutualInformation: [])
        let v = m.masks(rows: 5000, rng: &rng)
        let dropped = [v.first, v.second].map { t in Double(t.data.filter { $0 == 0 }.count) / Double(t.count) }
        #expect(dropped.allSatisfy { abs($0 - 0.3) < 0.01 }, "\(dropped)")
        #expect(v.first != v.second)
    }

    /// RFM and CFM: the two views are complementary, and view one masks ⌊f/2⌋ fields.
    @Test(arguments: [FeatureAugmentation.rfm, .cfm]) func maskingViewsAreComplementaryHalves(kind: FeatureAugmentation) {
        var rng = RNG(seed: 2)
        let mi = (0..<5).map { i in (0..<5).map { j in Double(5 - abs(i - j)) } }
        let m = FieldMasker(kind: kind, fieldCount: 5, dropRate: 0, mutualInformation: mi)
        let v = m.masks(rows: 200, rng: &rng)
        for r in 0..<200 {
            let a = (0..<5).map { v.first[r, $0] }, b = (0..<5).map { v.second[r, $0] }
            #expect(zip(a, b).allSatisfy { $0 + $1 == 1 })
            #expect(a.filter { $0 == 0 }.count == 2)
        }
    }

    /// CFM groups a seed with the fields that share most information with it, from the data, the same every time.
    @Test func correlatedGroupsFollowMutualInformation() {
        let n = 400
        var rng = RNG(seed: 3)
        let a = (0..<n).map { _ in Int32(1 + rng.int(below: 4)) }
        let vocab = IdMap(tokens: ["1", "2", "3", "4"])
        let fields: [FeatureField] = [
            .categorical("a", vocabulary: vocab, categories: a),
            .categorical("noise", vocabulary: vocab, categories: (0..<n).map { _ in Int32(1 + rng.int(below: 4)) }),
            .categorical("a-copy", vocabulary: vocab, categories: a.map { ($0 % 4) + 1 }),   // a relabelled: I = H(a)
            .categorical("half-a", vocabulary: vocab, categories: a.map { $0 <= 2 ? 1 : 2 }), // I = log 2
        ]
        let mi = FieldMasker.mutualInformation(fields: fields, entities: n, includesId: false)
        #expect(abs(mi[0][2] - mi[0][0]) < 1e-9)                 // a relabelling keeps all of a's information
        #expect(abs(mi[0][3] - Foundation.log(2.0)) < 0.02)      // knowing the half gives one bit
        #expect(mi[0][1] < 0.05)                                 // independent draws share (almost) nothing
        let m1 = FieldMasker(kind: .cfm, fieldCount: 4, dropRate: 0, mutualInformation: mi)
        let m2 = FieldMasker(kind: .cfm, fieldCount: 4, dropRate: 0, mutualInformation: FieldMasker.mutualInformation(fields: fields, entities: n, includesId: false))
        #expect(m1.correlatedGroups == m2.correlatedGroups)
        #expect(m1.correlatedGroups[0] == [0, 2] && m1.correlatedGroups[2] == [2, 0] && m1.correlatedGroups[3] == [3, 0])
        // The same seed draws the same masks.
        var r1 = RNG(seed: 7), r2 = RNG(seed: 7)
        #expect(m1.masks(rows: 10, rng: &r1).first == m2.masks(rows: 10, rng: &r2).first)
    }

    /// Rows sum to 1 exactly; each prototype gets n/K of the mass — within 5% after SwAV's 3 iterations when ε is
    /// moderate, and to 1e-3 after 200 when ε is small (peaked scores need more rounds); equal scores give the uniform
    /// assignment.
    @Test func sinkhornMeetsItsMarginals() {
        var rng = RNG(seed: 4)
        let n = 64, k = 8
        let scores = rng.normalTensor(shape: [n, k], std: 0.5)
        for (epsilon, iterations, tolerance) in [(Float(0.5), 3, 0.05), (0.05, 200, 1e-3)] {
            let q = Sinkhorn.assignments(scores: scores, epsilon: epsilon, iterations: iterations)
            for i in 0..<n { #expect(abs((0..<k).reduce(Float(0)) { $0 + q[i, $1] } - 1) < 1e-5) }
            for j in 0..<k {
                let mass = Double((0..<n).reduce(Float(0)) { $0 + q[$1, j] })
                #expect(abs(mass - Double(n) / Double(k)) / (Double(n) / Double(k)) < tolerance, "ε \(epsilon), prototype \(j): \(mass)")
            }
        }
        let flat = Sinkhorn.assignments(scores: Tensor(repeating: 0.3, shape: [4, 2]), epsilon: 0.05, iterations: 3)
        #expect(flat.isClose(to: Tensor(repeating: 0.5, shape: [4, 2])))
    }

    /// A tower with every field kept embeds exactly as without a mask; masking a field removes it from the input.
    @Test func fieldMaskKeepsOrZeroesFields() {
        let ds = TrainingTests.smallData()
        var rng = RNG(seed: 5)
        let tower = Tower("item", entities: ds.numItems, features: ds.itemFeatures, idDim: 8, fieldDim: 4, hidden: [],
                          outputDim: 8, dropout: 0, rng: &rng)
        let ids: [Int32] = [0, 5, 9]
        let tape = Tape(training: false)
        let plain = tower(tape, ids).value
        #expect(tower(tape, ids, fieldMask: Tensor(repeating: 1, shape: [3, tower.fieldCount])).value == plain)
        var onlyId = Tensor(zeros: [3, tower.fieldCount])
        for r in 0..<3 { onlyId[r, 0] = 1 }
        // Every field masked: the linear layer sees zeros and gives every entity the same row (its bias).
        let none = tower(tape, ids, fieldMask: Tensor(zeros: [3, tower.fieldCount])).value
        #expect((0..<3).allSatisfy { r in (0..<8).allSatisfy { none[r, $0] == none[0, $0] } })
        #expect(tower(tape, ids, fieldMask: onlyId).value != plain)
    }

    func config(_ model: ModelKind) throws -> TrainConfig {
        var c = try TrainConfig.resolve(overrides: ["model": model.rawValue])
        c.training.epochs = 15; c.training.batchSize = 256; c.training.learningRate = 0.02; c.evaluation.patience = 15; c.evaluation.ks = [10, 20]; c.embeddingDim = 16
        if model == .twoTower { c.twoTower.hidden = [32]; c.twoTower.fieldDim = 8 }
        return c
    }

    /// SSL (each augmentation, both towers) and ConCAT train models that beat popularity on planted clusters;
    /// ConCAT reports its prototype usage.
    @Test(.tags(.endToEnd), arguments: ["fd", "rfm", "cfm", "concat"]) func auxiliaryObjectivesTrain(lever: String) throws {
        let ds = TrainingTests.smallData()
        let pop = try Trainer(config: config(.pop), dataset: ds, log: { _ in }).run()
        var c = try config(.twoTower)
        c.training.epochs = 10; c.evaluation.patience = 10; c.twoTower.sslBatchSize = 128
        if lever == "concat" {
            c.concat.prototypes = 8; c.concat.prototypeWeight = 0.1
        } else {
            c.twoTower.ssl = .both; c.twoTower.sslAugmentation = FeatureAugmentation(rawValue: lever)!; c.twoTower.sslWeight = 0.1
        }
        let trainer = try Trainer(config: c, dataset: ds, log: { _ in })
        if lever != "concat" {
            let model = try #require(trainer.model as? TwoTower)
            #expect(model.userSelfSupervision != nil && model.itemSelfSupervision != nil)
        }
        let r = try trainer.run()
        #expect(r.test["recall@20"]! > pop.test["recall@20"]!, "\(lever): \(r.test["recall@20"]!) vs pop \(pop.test["recall@20"]!)")
        if lever == "concat" {
            let used = try #require(r.geometry["prototypes_used_items"])
            #expect(used >= 2 && used <= 8)
        }
    }

    /// SSL on a tower with a single field is refused with a message; so is SSL on a model without towers.
    @Test func sslNeedsTwoFields() throws {
        var c = try config(.twoTower)
        c.twoTower.ssl = .user; c.data.useFeatures = false; c.training.epochs = 1
        do {
            _ = try Trainer(config: c, dataset: TrainingTests.smallData(), log: { _ in }).run()
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("user tower has 1 field"))
        }
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["model": "mf", "ssl": "item"]) }
        // `auto`: the item tower's task when it has features; nothing (and no error) when it does not.
        c.twoTower.ssl = .auto
        #expect((try Trainer(config: c, dataset: TrainingTests.smallData(), log: { _ in }).model as? TwoTower)?.itemSelfSupervision == nil)
        _ = try Trainer(config: c, dataset: TrainingTests.smallData(), log: { _ in }).run()
        c.data.useFeatures = true
        let withFeatures = try #require(try Trainer(config: c, dataset: TrainingTests.smallData(), log: { _ in }).model as? TwoTower)
        #expect(withFeatures.itemSelfSupervision != nil && withFeatures.userSelfSupervision == nil)
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["train_fraction": "0"]) }
    }

    /// Training on a fraction keeps validation, test, head/tail items and the evaluation's exclusions of the full split.
    @Test func trainingFractionKeepsTheEvaluation() {
        let ds = TrainingTests.smallData()
        let tenth = ds.keepingTrainingFraction(0.1, seed: 3)
        #expect(tenth.split.train.count == Int((Double(ds.split.train.count) * 0.1).rounded()))
        #expect(tenth.split.test.items == ds.split.test.items && tenth.split.valid.users == ds.split.valid.users)
        #expect(tenth.fullTrain?.count == ds.split.train.count)
        #expect(ds.keepingTrainingFraction(0.1, seed: 3).split.train.items == tenth.split.train.items)
        // Same scores → same metrics whether the model saw all of train or a tenth of it.
        var rng = RNG(seed: 6)
        let u = rng.normalTensor(shape: [ds.numUsers, 4], std: 1), v = rng.normalTensor(shape: [ds.numItems, 4], std: 1)
        let full = EvaluationProtocol(ds, ks: [20]).test.evaluate(users: u, items: v)
        let part = EvaluationProtocol(tenth, ks: [20]).test.evaluate(users: u, items: v)
        #expect(full == part)
    }
}
