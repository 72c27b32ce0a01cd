import Foundation
import Testing
import TandemTensor
import TandemData
import TandemTrain
import TandemTestSupport

@Suite struct ItemConstraintTests {
    /// Users {0, 1}, {0, 1, 2}, {2, 3}: G₀₁ = 2, G₀₂ = G₁₂ = G₂₃ = 1; degrees g = (5, 5, 5, 2); G_ii = (2, 2, 2, 1). So
    /// ω₀₁ = 2/3, ω₀₂ = 1/3; ω₂₀ = ω₂₁ = 1/3, ω₂₃ = 1/3·√(5/2) ≈ 0.5270; ω₃₂ = 1/1·√(2/5) ≈ 0.6325 (worked by hand).
    @Test func neighboursAndWeightsMatchAHandWorkedCase() {
        let x = CSRMatrix(rows: 3, cols: 4, coordinates: [(0, 0, 1), (0, 1, 1), (1, 0, 1), (1, 1, 1), (1, 2, 1), (2, 2, 1), (2, 3, 1)])
        let (ids, w) = ItemConstraintObjective.neighbours(x, k: 2)
        #expect(ids[0] == [1, 2] && ids[2] == [3, 0] && ids[3] == [2])
        let expected: [[Float]] = [[2 / 3, 1 / 3], [2 / 3, 1 / 3], [Float((2.5).squareRoot() / 3), 1 / 3], [Float((0.4).squareRoot())]]
        for i in 0..<4 { #expect(zip(w[i], expected[i]).allSatisfy { abs($0 - $1) < 1e-6 } && w[i].count == expected[i].count, "item \(i): \(w[i])") }
    }

    /// MF with the item–item term learns the planted clusters far better than popularity.
    @Test func trainsPastPopularity() throws {
        let ds = Fixtures.plantedClusters()
        var c = try TrainConfig.resolve(overrides: ["model": "mf"])
        c.training.epochs = 8; c.training.batchSize = 256; c.training.learningRate = 0.02; c.evaluation.ks = [10, 20]; c.embeddingDim = 16
        c.objective.itemConstraintWeight = 0.5
        let trainer = try Trainer(config: c, dataset: ds, log: { _ in })
        #expect(trainer.objectives.contains { $0 is ItemConstraintObjective })
        let report = try trainer.run()
        var p = c
        p.model = .pop
        let pop = try Trainer(config: p, dataset: ds, log: { _ in }).run()
        #expect(report.test["recall@20"]! > pop.test["recall@20"]! * 1.3, "\(report.test["recall@20"]!) vs pop \(pop.test["recall@20"]!)")
    }
}
