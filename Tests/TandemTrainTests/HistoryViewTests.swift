import Testing
import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemTrain
import TandemTestSupport

/// The user tower's self-supervised views of the behaviour history (`user_ssl_views: history`, CL4SRec's crops and
/// masks): what a view keeps, that the views leave the user id out, that it trains, and what is refused.
@Suite struct HistoryViewTests {
    /// A crop is a contiguous run of ⌈crop · n⌉ items; a mask keeps each item with probability 1 − mask, in order, never
    /// none; the two kinds come with equal odds; a history of one item is its own view.
    @Test func viewsAreCropsOrMasks() {
        let history: [Int32] = Array(1...10)
        let augmentation = HistoryAugmentation(crop: 0.6, mask: 0.3)
        var rng = RNG(seed: 5)
        var crops = 0, masks = 0, kept = 0
        for _ in 0..<4000 {
            let v = augmentation.view(history[...], rng: &rng)
            #expect(!v.isEmpty && v == v.sorted() && Set(v).count == v.count && v.allSatisfy { history.contains($0) })
            let contiguous = v.last! - v.first! + 1 == Int32(v.count)
            if v.count == 6 && contiguous {
                crops += 1  // a mask can look like a crop too: about 1 mask in 200
            } else {
                masks += 1; kept += v.count
            }
        }
        #expect(abs(Double(crops) / 4000 - 0.5) < 0.05, "crops \(crops) of 4000")
        #expect(abs(Double(kept) / Double(masks) / 10 - 0.7) < 0.03, "a mask keeps \(Double(kept) / Double(masks)) of 10")
        #expect(augmentation.view([7][...], rng: &rng) == [7])
        // Every item dropped: one item stays.
        let all = HistoryAugmentation(crop: 1, mask: 0.999)
        for _ in 0..<50 { #expect(all.view(history[...], rng: &rng).count >= 1) }
    }

    /// The history views' loss gives the history field's table a gradient and the user id table none (both views leave
    /// the id out), and the two views of a user differ.
    @Test func theViewsLeaveTheIdOut() throws {
        let ds = Fixtures.plantedClusters()
        var c = try TrainConfig.resolve(overrides: ["model": "two-tower", "history_length": "20", "ssl": "user",
                                                   "user_ssl_views": "history", "use_features": "false"])
        c.embeddingDim = 8; c.twoTower.sslBatchSize = 64
        let model = try #require(try ModelRegistry.make(c, dataset: ds) as? TwoTower)
        let task = try #require(model.userSelfSupervision)
        guard case .history = task.views else { Issue.record("expected history views"); return }
        let tape = Tape(training: true, seed: 3)
        let g = tape.backward(task.loss(tape, tower: model.userTower))
        let id = try #require(model.userTower.idTable), history = try #require(model.parameters.first { $0.name == "user.history" })
        #expect(g.denseGradient(of: id)?.data.allSatisfy { $0 == 0 } ?? true)
        #expect(g.denseGradient(of: history)?.data.contains { $0 != 0 } == true)
        // Two views of the same users, drawn one after the other, differ.
        var rng = RNG(seed: 1)
        let row = ds.split.train.items.prefix(12).map { $0 + 1 }
        let views = (0..<2).map { _ in HistoryAugmentation(crop: 0.6, mask: 0.3).view(row[...], rng: &rng) }
        #expect(views[0] != Array(row) || views[1] != Array(row))
    }

    /// Two-tower with history pooling and the history views trains past popularity on planted clusters.
    @Test(.tags(.endToEnd)) func historyViewsTrain() throws {
        let ds = Fixtures.plantedClusters()
        var c = try TrainConfig.resolve(overrides: ["model": "two-tower", "history_length": "20", "ssl": "user", "user_ssl_views": "history"])
        c.training.epochs = 10; c.training.batchSize = 256; c.training.learningRate = 0.02; c.evaluation.ks = [10, 20]; c.embeddingDim = 16
        c.twoTower.hidden = [32]; c.twoTower.fieldDim = 8; c.twoTower.sslBatchSize = 128
        let r = try Trainer(config: c, dataset: ds, log: { _ in }).run()
        var p = c
        p.model = .pop
        let pop = try Trainer(config: p, dataset: ds, log: { _ in }).run()
        #expect(r.test["recall@20"]! > pop.test["recall@20"]! * 1.3, "\(r.test["recall@20"]!) vs pop \(pop.test["recall@20"]!)")
    }

    /// History views need a history, and crop and mask rates in range; a bad choice lists the valid ones.
    @Test func badSettingsAreRefused() {
        let base = ["model": "two-tower", "ssl": "user", "user_ssl_views": "history"]
        let missing = #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: base) }
        #expect(missing?.description.contains("history_length > 0") == true)
        for (key, value) in [("history_crop", "0"), ("history_crop", "1.5"), ("history_mask", "1")] {
            #expect(throws: ConfigError.self, "\(key) \(value)") {
                try TrainConfig.resolve(overrides: base.merging(["history_length": "20", key: value]) { $1 })
            }
        }
        let choice = #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["user_ssl_views": "clicks"]) }
        #expect(choice?.description == "config key 'user_ssl_views': 'clicks' is not one of fields, history")
    }
}
