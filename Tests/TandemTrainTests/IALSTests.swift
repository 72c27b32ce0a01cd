import Foundation
import Testing
import TandemTensor
import TandemData
import TandemModels
import TandemTrain
import TandemTestSupport

@Suite struct IALSTests {
    static let train = Interactions(users: [0, 0, 1, 1, 2, 2, 3, 4, 4], items: [0, 1, 1, 2, 0, 3, 3, 2, 4])

    /// The Cholesky solve recovers x from A x = b for a hand-built symmetric positive-definite A.
    @Test func choleskySolvesASystem() {
        // A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]], x = [1, −1, 2] → b = [2, −1, 5].
        var a: [Double] = [4, 0, 0, 2, 5, 0, 0, 1, 3]  // the lower triangle is what it reads
        var b: [Double] = [2, -1, 5]
        IALS.choleskySolve(&a, &b, 3)
        for (x, e) in zip(b, [1.0, -1, 2]) { #expect(abs(x - e) < 1e-12) }
    }

    /// Each half pass is the exact minimiser of the objective over one side: after the user solve, the objective's
    /// derivative in every user coordinate is zero (central differences), and the objective never rises over passes.
    @Test func passesAreExactMinimisersAndTheObjectiveFalls() throws {
        var config = IALSConfig()
        config.ialsFrequencyExponent = 0.5
        config.ialsSolver = .cholesky
        var rng = RNG(seed: 4)
        let model = try IALS(config, train: Self.train, users: 5, items: 5, dim: 3, rng: &rng)
        var last = model.objective()
        for _ in 0..<3 {
            model.solve(model.users, fixed: model.items.value, rows: model.byUser)
            let afterUsers = model.objective()
            #expect(afterUsers <= last + 1e-9)
            for u in 0..<5 {
                for k in 0..<3 {
                    let orig = model.users.value[u, k], h: Float = 1e-3
                    model.users.value[u, k] = orig + h; let up = model.objective()
                    model.users.value[u, k] = orig - h; let down = model.objective()
                    model.users.value[u, k] = orig
                    #expect(abs((up - down) / Double(2 * h)) < 2e-3, "∂/∂w[\(u),\(k)] = \((up - down) / Double(2 * h))")
                }
            }
            model.solve(model.items, fixed: model.users.value, rows: model.byItem)
            last = model.objective()
            #expect(last <= afterUsers + 1e-9)
        }
    }

    @Test func trainsPastPopOnPlantedClustersAndKeepsTheBestPass() throws {
        let ds = Fixtures.plantedClusters()
        var lines: [String] = []
        let c = try TrainConfig.resolve(overrides: ["model": "ials", "ks": "[10, 20]", "embedding_dim": "16", "ials_iterations": "6"])
        let r = try Trainer(config: c, dataset: ds, log: { lines.append($0) }).run()
        let pop = try Trainer(config: TrainConfig.resolve(overrides: ["model": "pop", "ks": "[10, 20]"]), dataset: ds, log: { _ in }).run()
        #expect(r.test["ndcg@20"]! > pop.test["ndcg@20"]! * 1.3, "\(r.test["ndcg@20"]!) vs pop \(pop.test["ndcg@20"]!)")
        let passes = lines.filter { $0.hasPrefix("ials pass") }.map { Double($0.split(separator: " ").last!)! }  // "… valid 0.1234"
        let kept = try #require(r.fitted?["iteration"])
        #expect(passes.count == 6 && passes[Int(kept) - 1] == passes.max())
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["model": "ials", "ials_regularization": "zero"]) }
    }

    /// Conjugate gradients: d steps from any start reach the exact solve (a d-dimensional quadratic), and a single
    /// step from the current value never raises the objective (each step minimises it along its direction).
    @Test func conjugateGradientsReachTheExactSolveAndOneStepNeverRaisesTheObjective() throws {
        let d = 6
        var exactConfig = IALSConfig(), cgConfig = IALSConfig()
        exactConfig.ialsSolver = .cholesky
        cgConfig.ialsSolver = .cg; cgConfig.ialsCgSteps = d
        var rng = RNG(seed: 9), rng2 = RNG(seed: 9)
        let exact = try IALS(exactConfig, train: Self.train, users: 5, items: 5, dim: d, rng: &rng)
        let cg = try IALS(cgConfig, train: Self.train, users: 5, items: 5, dim: d, rng: &rng2)
        for _ in 0..<2 {
            exact.solve(exact.users, fixed: exact.items.value, rows: exact.byUser)
            cg.solve(cg.users, fixed: cg.items.value, rows: cg.byUser)
            for (a, b) in zip(exact.users.value.data, cg.users.value.data) { #expect(abs(a - b) < 1e-3, "\(a) vs \(b)") }
            exact.solve(exact.items, fixed: exact.users.value, rows: exact.byItem)
            cg.solve(cg.items, fixed: cg.users.value, rows: cg.byItem)
            for (a, b) in zip(exact.items.value.data, cg.items.value.data) { #expect(abs(a - b) < 1e-3, "\(a) vs \(b)") }
        }
        cgConfig.ialsCgSteps = 1
        var rng3 = RNG(seed: 5)
        let oneStep = try IALS(cgConfig, train: Self.train, users: 5, items: 5, dim: d, rng: &rng3)
        var last = oneStep.objective()
        for _ in 0..<4 {
            oneStep.solve(oneStep.users, fixed: oneStep.items.value, rows: oneStep.byUser)
            #expect(oneStep.objective() <= last + 1e-9)
            last = oneStep.objective()
            oneStep.solve(oneStep.items, fixed: oneStep.users.value, rows: oneStep.byItem)
            #expect(oneStep.objective() <= last + 1e-9)
            last = oneStep.objective()
        }
        // Above d = 512 only conjugate gradients are allowed.
        var rng4 = RNG(seed: 1)
        #expect(throws: ConfigError.self) { try IALS(exactConfig, train: Self.train, users: 5, items: 5, dim: 600, rng: &rng4) }
        _ = try IALS(cgConfig, train: Self.train, users: 5, items: 5, dim: 600, rng: &rng4)
        cgConfig.ialsCgSteps = 0
        #expect(throws: ConfigError.self) { try IALS(cgConfig, train: Self.train, users: 5, items: 5, dim: 4, rng: &rng4) }
        let unknown = #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["model": "ials", "ials_solver": "lu"]) }
        #expect(unknown?.description.contains("cholesky") == true)
    }
}
