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

@Suite struct SparseEASETests {
    /// With every other item as a neighbour (here every pair of the 10 trained items shares a user), each column's
    /// regression is EASE's (`−P_li / P_ii`): the same scores as dense EASE at the same λ. Items 10 and 11 are never
    /// trained on: zero in both.
    @Test func withEveryItemAsNeighbourItIsEASE() throws {
        var rng = RNG(seed: 9)
        var users: [Int32] = [], items: [Int32] = []
        for u in 0..<40 { for _ in 0..<(4 + rng.int(below: 5)) { users.append(Int32(u)); items.append(Int32(rng.int(below: 10))) } }
        let train = Interactions(users: users, items: items)
        let x = train.matrix(users: 40, items: 12).toDense()
        let gram = BLAS.matmul(x, transposeA: true, x)
        try #require((0..<10).allSatisfy { a in (0..<10).allSatisfy { gram[a, $0] > 0 } })
        var config = SparseEASEConfig()
        config.sparseEaseNeighbours = 11
        let sparse = try SparseEASE(config, lambdas: [3], train: train, users: 40, items: 12)
        _ = try sparse.fit(validate: { 0 }, log: { _ in })
        var easeConfig = EASEConfig()
        easeConfig.easeLambdas = [3]
        let dense = try EASE(easeConfig, train: train, users: 40, items: 12)
        _ = try dense.fit(validate: { 0 }, log: { _ in })
        let all = (0..<40).map { Int32($0) }
        let expected = BLAS.matmul(dense.allEmbeddings(users: true, count: 40, normalize: false),
                                   dense.allEmbeddings(users: false, count: 12, normalize: false), transposeB: true)
        #expect(try #require(sparse.directScorer()).scores(users: all).isClose(to: expected, tolerance: 1e-4))
        #expect(sparse.lambda == 3)
    }

    /// With fewer neighbours, a column is the ridge regression on exactly its `m` most co-occurring items, checked
    /// against the normal equations solved here by Gaussian elimination.
    @Test func aColumnIsTheRegressionOnItsNeighbours() throws {
        // X: 6 users × 5 items. Item 0 co-occurs with item 1 (3 users), item 2 (2), item 3 (1), item 4 (0).
        let rows: [[Int32]] = [[0, 1, 2], [0, 1], [0, 1, 3], [0, 2], [1, 4], [2, 3, 4]]
        let train = Interactions(users: rows.enumerated().flatMap { u, r in r.map { _ in Int32(u) } }, items: rows.flatMap { $0 })
        var config = SparseEASEConfig()
        config.sparseEaseNeighbours = 2
        let model = try SparseEASE(config, lambdas: [0.5], train: train, users: 6, items: 5)
        _ = try model.fit(validate: { 0 }, log: { _ in })
        #expect(model.neighbours.value[0, 0] == 1 && model.neighbours.value[0, 1] == 2)
        // G over {1, 2}: c11 = 4, c22 = 3, c12 = 1; right-hand side (c10, c20) = (3, 2); λ 0.5 on the diagonal.
        var a: [[Double]] = [[4.5, 1, 3], [1, 3.5, 2]]
        let f = a[1][0] / a[0][0]
        for j in 0..<3 { a[1][j] -= f * a[0][j] }
        let b2 = a[1][2] / a[1][1], b1 = (a[0][2] - a[0][1] * b2) / a[0][0]
        #expect(abs(Double(model.neighbourWeights.value[0, 0]) - b1) < 1e-6 && abs(Double(model.neighbourWeights.value[0, 1]) - b2) < 1e-6)
    }

    /// Lists as long as the catalogue hold every co-occurring pair: the Gram from lists is the exact one, and so are
    /// the weights.
    @Test func fullListsGiveTheExactGram() throws {
        var rng = RNG(seed: 4)
        var users: [Int32] = [], items: [Int32] = []
        for u in 0..<60 { for _ in 0..<(3 + rng.int(below: 6)) { users.append(Int32(u)); items.append(Int32(rng.int(below: 25))) } }
        let train = Interactions(users: users, items: items)
        var exact = SparseEASEConfig()
        exact.sparseEaseNeighbours = 6
        var lists = exact
        lists.sparseEaseGram = .lists
        lists.sparseEaseListLength = 24
        let a = try SparseEASE(exact, lambdas: [2], train: train, users: 60, items: 25)
        let b = try SparseEASE(lists, lambdas: [2], train: train, users: 60, items: 25)
        _ = try a.fit(validate: { 0 }, log: { _ in })
        _ = try b.fit(validate: { 0 }, log: { _ in })
        #expect(a.neighbours.value == b.neighbours.value)
        #expect(a.neighbourWeights.value.isClose(to: b.neighbourWeights.value, tolerance: 1e-6))
    }

    /// A pair on neither neighbour's list counts as 0. Item 0's neighbours are 1 and 2 (3 and 2 shared users); with lists
    /// of 2, item 1 lists 0 and 3, item 2 lists 0 and 4, so their one shared user is not seen: G over {1, 2} is
    /// diag(5, 4), and each weight is c / (degree + λ). The exact Gram sees the pair.
    @Test func aPairOnNeitherListCountsAsZero() throws {
        let rows: [[Int32]] = [[0, 1, 2], [0, 1], [0, 1], [0, 2], [1, 3], [1, 3], [2, 4], [2, 4]]
        let train = Interactions(users: rows.enumerated().flatMap { u, r in r.map { _ in Int32(u) } }, items: rows.flatMap { $0 })
        var config = SparseEASEConfig()
        config.sparseEaseNeighbours = 2
        config.sparseEaseGram = .lists
        config.sparseEaseListLength = 2
        let lists = try SparseEASE(config, lambdas: [0.5], train: train, users: 8, items: 5)
        _ = try lists.fit(validate: { 0 }, log: { _ in })
        #expect(lists.neighbours.value[0, 0] == 1 && lists.neighbours.value[0, 1] == 2)
        #expect(lists.neighbours.value[1, 0] == 0 && lists.neighbours.value[1, 1] == 3)
        #expect(lists.neighbours.value[2, 0] == 0 && lists.neighbours.value[2, 1] == 4)
        #expect(abs(Double(lists.neighbourWeights.value[0, 0]) - 3 / 5.5) < 1e-6 && abs(Double(lists.neighbourWeights.value[0, 1]) - 2 / 4.5) < 1e-6)
        config.sparseEaseGram = .exact
        let exact = try SparseEASE(config, lambdas: [0.5], train: train, users: 8, items: 5)
        _ = try exact.fit(validate: { 0 }, log: { _ in })
        #expect(abs(Double(exact.neighbourWeights.value[0, 0]) - 3 / 5.5) > 1e-3)
    }

    /// With short lists a block can be indefinite; its λ is doubled until it is positive definite. Item 5's neighbours
    /// are 2, 0 and 3 (3, 2 and 2 shared users); with lists of 3, item 0 lists 2, 5, 7 and item 3 lists 2, 1, 5, so
    /// their shared user is not seen, and the block [[4, 2, 3], [2, 2, 0], [3, 0, 3]] has an eigenvalue of −0.365:
    /// at λ 0.01 it takes six doublings (λ 0.64). Every item's weights are checked against the test's own list Gram
    /// (from the dense co-occurrences, ties to the lower item): they solve `(G + λ·2^t I) β = c` for the first `t` at
    /// which the block is positive definite, and the fit reports the items that needed `t > 0`.
    @Test func anIndefiniteBlockHasItsLambdaDoubled() throws {
        let rows: [[Int32]] = [[0, 2, 5, 7], [1, 2, 3, 5], [1, 2, 3], [0, 2, 3, 5, 6, 7], [1, 4, 6]]
        let train = Interactions(users: rows.enumerated().flatMap { u, r in r.map { _ in Int32(u) } }, items: rows.flatMap { $0 })
        let x = train.matrix(users: 5, items: 8).toDense()
        let gram = BLAS.matmul(x, transposeA: true, x)
        let m = 3, lambda = 0.01
        var config = SparseEASEConfig()
        config.sparseEaseNeighbours = m
        config.sparseEaseGram = .lists
        config.sparseEaseListLength = m
        let model = try SparseEASE(config, lambdas: [lambda], train: train, users: 5, items: 8)
        var logged: [String] = []
        _ = try model.fit(validate: { 0 }, log: { logged.append($0) })
        let list = (0..<8).map { i in Array((0..<8).filter { $0 != i && gram[i, $0] > 0 }.sorted { (gram[i, $0], -$0) > (gram[i, $1], -$1) }.prefix(m)) }
        #expect(list[5] == [2, 0, 3] && list[0] == [2, 5, 7] && list[3] == [2, 1, 5])
        var doubled: [Int] = [], firstDefinite: [Int: Int] = [:]
        for i in 0..<8 {
            let n = list[i], k = n.count
            #expect(n.map { Float($0) } == (0..<k).map { model.neighbours.value[i, $0] }, "item \(i)")
            let beta = (0..<k).map { Double(model.neighbourWeights.value[i, $0]) }
            let g = (0..<k).map { a in (0..<k).map { b in a == b || list[n[a]].contains(n[b]) || list[n[b]].contains(n[a]) ? Double(gram[n[a], n[b]]) : 0 } }
            let c = n.map { Double(gram[$0, i]) }
            let t = (0..<40).first { t in
                var a = g.flatMap { $0 }, b = c
                for d in 0..<k { a[d * k + d] += lambda * Double(1 << t) }
                return (try? LAPACK.solveSymmetricPositiveDefinite(&a, &b, n: k)) != nil
            }
            let solvedAt = lambda * Double(1 << (t ?? 0))
            #expect((0..<k).allSatisfy { a in abs((0..<k).reduce(solvedAt * beta[a]) { $0 + g[a][$1] * beta[$1] } - c[a]) < 1e-4 * max(1, abs(c[a])) }, "item \(i)")
            firstDefinite[i] = t
            if let t, t > 0 { doubled.append(i) }
        }
        #expect(doubled.contains(5) && firstDefinite[5] == 6)
        #expect(logged.contains { $0.contains("\(doubled.count) of 8 items' Gram blocks") }, "\(logged)")
    }

    @Test func trainsPastPopAndRefusesBadSettings() throws {
        let ds = Fixtures.plantedClusters()
        let r = try Trainer(config: TrainConfig.resolve(overrides: ["model": "sparse-ease", "ks": "[10, 20]", "sparse_ease_neighbours": "30"]),
                            dataset: ds, log: { _ in }).run()
        let pop = try Trainer(config: TrainConfig.resolve(overrides: ["model": "pop", "ks": "[10, 20]"]), dataset: ds, log: { _ in }).run()
        #expect(r.test["ndcg@20"]! > pop.test["ndcg@20"]! * 1.3 && r.fitted?["neighbours"] == 30)
        #expect(throws: ConfigError.self) {
            try SparseEASE(SparseEASEConfig(), lambdas: [], train: Interactions(users: [0], items: [0]), users: 1, items: 2)
        }
        var zero = SparseEASEConfig()
        zero.sparseEaseNeighbours = 0
        #expect(throws: ConfigError.self) { try SparseEASE(zero, lambdas: [1], train: Interactions(users: [0], items: [0]), users: 1, items: 2) }
        var short = SparseEASEConfig()
        short.sparseEaseGram = .lists
        short.sparseEaseListLength = 100
        #expect(throws: ConfigError.self) { try SparseEASE(short, lambdas: [1], train: Interactions(users: [0], items: [0]), users: 1, items: 300) }
    }
}
