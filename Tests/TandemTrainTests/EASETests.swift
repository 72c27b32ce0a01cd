import Foundation
import Testing
import TandemTensor
import TandemData
import TandemModels
import TandemTrain
import TandemTestSupport

@Suite struct EASETests {
    /// X = [[1,1,0],[0,1,1]], λ = 1: XᵀX + I = [[2,1,0],[1,3,1],[0,1,2]], whose inverse is [[5,−2,1],[−2,4,−2],[1,−2,5]]/8,
    /// so B = −P_ij/P_jj off the diagonal = [[0, 0.5, −0.2], [0.4, 0, 0.4], [−0.2, 0.5, 0]], and the users' scores
    /// x·B are [0.4, 0.5, 0.2] and [0.2, 0.5, 0.4] (worked by hand).
    @Test func closedFormMatchesAHandWorkedCase() throws {
        var config = EASEConfig()
        config.easeLambdas = [1]
        let model = try EASE(config, train: Interactions(users: [0, 0, 1, 1], items: [0, 1, 1, 2]), users: 2, items: 3)
        try model.solve(lambda: 1)
        let b = [[0, 0.5, -0.2], [0.4, 0, 0.4], [-0.2, 0.5, 0]]
        for i in 0..<3 { for j in 0..<3 { #expect(abs(Double(model.itemWeights.value[j, i]) - b[i][j]) < 1e-6, "B[\(i),\(j)]") } }
        let scores = BLAS.matmul(model.allEmbeddings(users: true, count: 2, normalize: true),
                                 model.allEmbeddings(users: false, count: 3, normalize: true), transposeB: true)
        #expect(scores.isClose(to: Tensor([[0.4, 0.5, 0.2], [0.2, 0.5, 0.4]]), tolerance: 1e-6))
    }

    /// LAPACK's Cholesky inverse gives A·A⁻¹ = I on a random symmetric positive-definite matrix, both triangles filled.
    @Test func lapackInverseIsAnInverse() throws {
        var rng = RNG(seed: 3)
        let n = 7
        let m = (0..<(n * n)).map { _ in Double(rng.normal()) }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { a[i * n + j] = (0..<n).reduce(0) { $0 + m[i * n + $1] * m[j * n + $1] } + (i == j ? 1 : 0) } }
        var inverse = a
        try LAPACK.invertSymmetricPositiveDefinite(&inverse, n: n)
        for i in 0..<n {
            for j in 0..<n {
                let product = (0..<n).reduce(0) { $0 + a[i * n + $1] * inverse[$1 * n + j] }
                #expect(abs(product - (i == j ? 1 : 0)) < 1e-9)
            }
        }
        var singular = [Double](repeating: 1, count: 4)  // [[1,1],[1,1]]
        #expect(throws: LAPACK.Failure.self) { try LAPACK.invertSymmetricPositiveDefinite(&singular, n: 2) }
    }

    /// Training tries every λ of the grid, keeps the best on validation, reports it, beats Pop on planted clusters, and
    /// saves/loads like any model.
    @Test func trainChoosesLambdaOnValidationAndBeatsPop() throws {
        let ds = Fixtures.plantedClusters()
        var c = try TrainConfig.resolve(overrides: ["model": "ease", "ks": "[10, 20]", "ease_lambdas": "[1, 30, 3000]"])
        var lines: [String] = []
        let trainer = try Trainer(config: c, dataset: ds, log: { lines.append($0) })
        let report = try trainer.run()
        #expect(lines.filter { $0.hasPrefix("ease λ") }.count >= 3)
        let chosen = try #require(report.fitted?["lambda"])
        #expect(report.epochs.isEmpty)
        let pop = try Trainer(config: TrainConfig.resolve(overrides: ["model": "pop", "ks": "[10, 20]"]), dataset: ds, log: { _ in }).run()
        #expect(report.test["ndcg@20"]! > pop.test["ndcg@20"]! * 1.3, "\(report.test["ndcg@20"]!) vs pop \(pop.test["ndcg@20"]!)")
        // The chosen λ is the grid's best on validation: solving at each λ again gives no better validation score.
        let ease = try #require(trainer.model as? EASE)
        for lambda in c.ease.easeLambdas {
            try ease.solve(lambda: lambda)
            let (u, v) = trainer.embeddings()
            #expect(trainer.protocolEval.valid.evaluate(users: u, items: v)["ndcg@20"]! <= report.valid["ndcg@20"]! + 1e-12)
        }
        c.ease.easeLambdas = []
        #expect(throws: ConfigError.self) { try Trainer(config: c, dataset: ds, log: { _ in }) }
    }

    /// A grid whose best λ is at its edge is extended past that edge until the chosen λ is interior (a neighbour tried
    /// on each side, neither better); a flat end (tiny λ: every score equal) and a single λ are left as given.
    @Test func gridExtendsUntilTheChosenLambdaIsInterior() throws {
        let ds = Fixtures.plantedClusters()
        for grid in [[1e5, 1e6], [3e4, 3e5, 3e6]] {
            let c = try TrainConfig.resolve(overrides: ["model": "ease", "ks": "[10, 20]", "ease_lambdas": "[\(grid[0]), \(grid[1])]"])
            var tried: [(Double, Double)] = []
            let report = try Trainer(config: c, dataset: ds, log: { line in
                let parts = line.split(separator: " ")
                if line.hasPrefix("ease λ "), let l = Double(parts[2].dropLast()), let v = Double(parts[4]) { tried.append((l, v)) }
            }).run()
            let chosen = try #require(report.fitted?["lambda"])
            #expect(tried.count > 2, "\(grid): not extended")
            // The log prints λ to 6 digits.
            let below = tried.filter { $0.0 < chosen * (1 - 1e-5) }, above = tried.filter { $0.0 > chosen * (1 + 1e-5) }
            #expect(!below.isEmpty && !above.isEmpty, "\(grid): chose \(chosen) at the edge of \(tried)")
            let mine = try #require(tried.first { abs($0.0 - chosen) <= chosen * 1e-5 })
            #expect(mine.1 == tried.map(\.1).max()!)
        }
        var lines: [String] = []
        let flat = try TrainConfig.resolve(overrides: ["model": "ease", "ks": "[10, 20]", "ease_lambdas": "[1e-4, 1e-3]"])
        _ = try Trainer(config: flat, dataset: ds, log: { lines.append($0) }).run()
        #expect(lines.filter { $0.hasPrefix("ease λ") }.count == 2, "\(lines)")
        lines = []
        let single = try TrainConfig.resolve(overrides: ["model": "ease", "ks": "[10, 20]", "ease_lambdas": "[1e6]"])
        _ = try Trainer(config: single, dataset: ds, log: { lines.append($0) }).run()
        #expect(lines.filter { $0.hasPrefix("ease λ") }.count == 1)
    }

    /// A catalogue whose item × item matrices cannot fit is refused before anything is allocated, naming the size.
    @Test func aCatalogueTooLargeIsRefusedByName() {
        let e = #expect(throws: ConfigError.self) {
            try EASE(EASEConfig(), train: Interactions(users: [0], items: [0]), users: 1, items: 2_000_000)
        }
        #expect(e?.description.contains("2000000 × 2000000") == true)
    }
}
