import Foundation
import Testing
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemTrain
import TandemTestSupport

@Suite struct ELSATests {
    /// The embeddings' inner products are `x_u Â Âᵀ`, which is ELSA's `x_u (Â Âᵀ − I)` on every item the user has not
    /// interacted with; the item vectors are unit length.
    @Test func scoresAreTheLowRankEASEForm() throws {
        var rng = RNG(seed: 4)
        let train = Interactions(users: [0, 0, 1, 2, 2, 2], items: [0, 3, 1, 2, 3, 4])
        let model = try ELSA(ELSAConfig(), train: train, users: 3, items: 5, dim: 2, rng: &rng)
        let u = model.allEmbeddings(users: true, count: 3, normalize: false), v = model.allEmbeddings(users: false, count: 5, normalize: false)
        let scores = BLAS.matmul(u, v, transposeB: true)
        let a = model.items.value
        let hat = (0..<5).map { i in (0..<2).map { Double(a[i, $0]) } }.map { row in row.map { $0 / (row.reduce(0) { $0 + $1 * $1 }).squareRoot() } }
        let x = [[0, 3], [1], [2, 3, 4]]
        for user in 0..<3 {
            for j in 0..<5 where !x[user].contains(j) {
                // x_u B with B = Â Âᵀ − I: the sum over the user's items l of Â_l · Â_j (l ≠ j here).
                let expected = x[user].reduce(0.0) { acc, l in acc + zip(hat[l], hat[j]).reduce(0) { $0 + $1.0 * $1.1 } }
                #expect(abs(Double(scores[user, j]) - expected) < 1e-5, "user \(user), item \(j)")
            }
        }
        for i in 0..<5 { #expect(abs((0..<2).reduce(Float(0)) { $0 + v[i, $1] * v[i, $1] } - 1) < 1e-5) }
    }

    /// Training lowers the loss from pass to pass, keeps the pass with the best validation metric, beats Pop on planted
    /// clusters, and refuses bad settings.
    @Test func fitsOnValidationAndBeatsPop() throws {
        let ds = Fixtures.plantedClusters()
        let c = try TrainConfig.resolve(overrides: ["model": "elsa", "ks": "[10, 20]", "embedding_dim": "32", "elsa_epochs": "6",
                                                    "elsa_batch_size": "64", "elsa_learning_rate": "0.05"])
        var losses: [Double] = [], valids: [Double] = []
        let report = try Trainer(config: c, dataset: ds, log: { line in
            let parts = line.split(separator: " ")
            if line.hasPrefix("elsa pass"), let l = Double(parts[4].dropLast()), let v = Double(parts.last!) { losses.append(l); valids.append(v) }
        }).run()
        #expect(losses.count == 6)
        #expect(losses.last! < losses.first! * 0.9, "losses \(losses)")
        let kept = try #require(report.fitted?["epoch"])
        #expect(valids[Int(kept) - 1] == valids.max()!)
        #expect(abs(report.valid["ndcg@20"]! - valids.max()!) <= 5e-5)  // the log prints 4 decimals
        let pop = try Trainer(config: TrainConfig.resolve(overrides: ["model": "pop", "ks": "[10, 20]"]), dataset: ds, log: { _ in }).run()
        #expect(report.test["ndcg@20"]! > pop.test["ndcg@20"]! * 1.3, "\(report.test["ndcg@20"]!) vs pop \(pop.test["ndcg@20"]!)")
        #expect(throws: ConfigError.self) {
            try Trainer(config: TrainConfig.resolve(overrides: ["model": "elsa", "elsa_learning_rate": "0"]), dataset: ds, log: { _ in })
        }
    }

    /// Large catalogues take fewer users per step so a step's predictions stay under 2²⁶ values.
    @Test func stepUsersShrinkWithTheCatalogue() throws {
        var rng = RNG(seed: 1)
        let model = try ELSA(ELSAConfig(), train: Interactions(users: [0], items: [0]), users: 1, items: 1 << 20, dim: 1, rng: &rng)
        #expect(model.stepUsers == 64)
    }
}
