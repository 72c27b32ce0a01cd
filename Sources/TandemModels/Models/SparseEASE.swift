import Foundation
import TandemTensor
import TandemAutograd
import TandemData

/// Settings of sparse EASE. YAML keys and flags are the snake_case / kebab-case of these names.
public struct SparseEASEConfig: Codable, Equatable, Sendable {
    /// sparse-ease: the items each item's EASE column is fitted on (the ones sharing the most users with it); its λ
    /// grid is ease_lambdas.
    public var sparseEaseNeighbours: Int = 200
    /// sparse-ease: where each item's Gram block among its neighbours comes from: exact (counted from the neighbours'
    /// users; reads most users when neighbours are popular) or lists (looked up in the neighbours' own lists of
    /// co-occurrence counts, pairs on neither list taken as 0, as SANSA sparsifies XᵀX; linear in the catalogue).
    public var sparseEaseGram: SparseEASEGram = .exact
    /// sparse-ease: with sparse_ease_gram lists, how many of each item's most co-occurring items its list keeps (at
    /// least sparse_ease_neighbours; pairs on neither list count as 0, so short lists lose accuracy).
    public var sparseEaseListLength: Int = 1000

    public init() {}
}

/// Where sparse EASE's Gram entries among an item's neighbours come from.
public enum SparseEASEGram: String, Codable, CaseIterable, Sendable {
    case exact, lists
}

/// EASE on a sparse support. EASE's column `i` is the ridge regression of item `i`'s user column on every other item's,
/// `B_{·i} = (G_{−i,−i} + λI)⁻¹ G_{−i,i}` with `G = XᵀX` (the same as its closed form `−P_li / P_ii`). Here each
/// column regresses on only the `m` items that share the most users with `i` — the feature selection of Ning and
/// Karypis's fsSLIM ("SLIM: Sparse Linear Methods for Top-N Recommender Systems", ICDM 2011) with EASE's L2 penalty:
/// one `m × m` solve per item, so the weights are items × m (`NeighbourListModel`). With `m ≥ items − 1` and the exact
/// Gram it is EASE. The Gram block is either exact (counted from the neighbours' users: a block reads every user of
/// every neighbour, which popular neighbours make most of the log) or looked up in the neighbours' own lists of their
/// `L ≥ m` most co-occurring items (`.lists`: a pair on neither list is taken as 0, a sparsified XᵀX as in SANSA —
/// Spišák et al., RecSys 2023 — so a block costs m·L steps and the fit is linear in the catalogue; a block left not
/// positive definite by the missing pairs has its λ doubled until it is). λ is chosen on validation as
/// EASE's is (`searchEASELambda`); the Gram block of an item is built once for every λ of the grid.
public final class SparseEASE: NeighbourListModel {
    public let config: SparseEASEConfig
    public let lambdas: [Double]
    public let neighbours: Parameter
    /// Row `i`: `B[l, i]` of each neighbour `l`.
    public let neighbourWeights: Parameter
    public let train: CSRMatrix
    let scoringCache = NeighbourScoringCache()
    /// The λ of the current weights (nil before `fit`).
    public private(set) var lambda: Double?

    public init(_ config: SparseEASEConfig, lambdas: [Double], train: Interactions, users: Int, items: Int) throws {
        guard config.sparseEaseNeighbours >= 1 else { throw ConfigError("sparse_ease_neighbours must be ≥ 1") }
        guard config.sparseEaseGram == .exact || config.sparseEaseListLength >= config.sparseEaseNeighbours else {
            throw ConfigError("sparse_ease_list_length (\(config.sparseEaseListLength)) must be at least sparse_ease_neighbours (\(config.sparseEaseNeighbours))")
        }
        guard !lambdas.isEmpty, lambdas.allSatisfy({ $0 > 0 }) else { throw ConfigError("ease_lambdas must be one or more positive numbers") }
        (neighbours, neighbourWeights) = try emptyNeighbourLists(prefix: "sparse_ease", weights: "weights", items: items,
                                                                 k: config.sparseEaseNeighbours, model: "sparse EASE")
        self.config = config
        self.lambdas = lambdas
        self.train = train.matrix(users: users, items: items)
    }

    public func fit(validate: () -> Double, log: (String) -> Void) throws -> [String: Double] {
        let n = train.cols, m = neighbours.value.cols
        let listLength = config.sparseEaseGram == .lists ? max(m, min(n - 1, config.sparseEaseListLength)) : m
        let (ids, counts) = topNeighbours(train: train, k: listLength, by: .count)
        neighbours.value = Tensor(shape: [n, m], data: (0..<(n * m)).map { Float(ids[($0 / m) * listLength + $0 % m]) })
        var solved: [Double: [Float]] = [:]
        let chosen = try searchEASELambda(lambdas, parameters: [neighbourWeights], name: "sparse-ease", solve: { lambda in
            if solved[lambda] == nil {
                // The grid's λs together (one Gram block per item for all of them); an extension's alone.
                let batch = lambdas.contains(lambda) ? lambdas : [lambda]
                let fit = try Self.solve(train: train, ids: ids, counts: counts, listLength: listLength, m: m, lambdas: batch, gram: config.sparseEaseGram)
                for (l, w) in zip(batch, fit.weights) { solved[l] = w }
                if fit.shifted > 0 {
                    log("sparse-ease: \(fit.shifted) of \(n) items' Gram blocks from lists were not positive definite at some λ; their λ was doubled until it was (longer lists, sparse_ease_list_length, leave fewer pairs out)")
                }
            }
            neighbourWeights.value = Tensor(shape: [n, m], data: solved[lambda]!)
        }, validate: validate, log: log)
        lambda = chosen
        log("sparse-ease: \(m) neighbours per item, Gram \(config.sparseEaseGram.rawValue)")
        return ["lambda": chosen, "neighbours": Double(m)]
    }

    /// Each item's column for every λ of `lambdas`: `(G_NN + λI)⁻¹ G_Ni` over its neighbours `N` (`ids`, `-1` padded;
    /// `counts` holds `G_Ni`, each item's list of co-occurrence counts). Returns one items × m weight array per λ, and
    /// how many items' blocks (from lists only) needed a larger λ to be positive definite.
    static func solve(train: CSRMatrix, ids: [Int32], counts: [Double], listLength L: Int, m: Int, lambdas: [Double],
                      gram source: SparseEASEGram) throws -> (weights: [[Float]], shifted: Int) {
        let n = train.cols, byItem = train.transposed()
        let size = n * m
        var flat = [Float](repeating: 0, count: lambdas.count * size)
        let chunks = min(n, Parallel.cores * 8)
        var failures = [String?](repeating: nil, count: chunks)
        var shifted = [Int](repeating: 0, count: chunks)
        flat.withUnsafeMutableBufferPointer { weights in
            let base = weights.baseAddress!
            failures.withUnsafeMutableBufferPointer { failed in
                shifted.withUnsafeMutableBufferPointer { shiftCount in
                    Parallel.forEach(chunks) { chunk in
                        var position = [Int32](repeating: -1, count: n)
                        var visited = source == .exact ? [Bool](repeating: false, count: train.rows) : []
                        var users: [Int32] = [], hits: [Int] = []
                        for i in stride(from: chunk, to: n, by: chunks) {
                            let row = ids[(i * L)..<(i * L + m)].prefix { $0 >= 0 }
                            let k = row.count
                            guard k > 0 else { continue }
                            for (a, l) in row.enumerated() { position[Int(l)] = Int32(a) }
                            var gram = [Double](repeating: 0, count: k * k)
                            gram.withUnsafeMutableBufferPointer { g in
                                switch source {
                                case .exact:
                                    // Σ over the neighbours' users of the outer product of each user's items in N: every
                                    // user is read once, however many neighbours they have.
                                    for l in row { for u in byItem.columns(ofRow: Int(l)) where !visited[Int(u)] { visited[Int(u)] = true; users.append(u) } }
                                    for u in users {
                                        visited[Int(u)] = false
                                        hits.removeAll(keepingCapacity: true)
                                        for j in train.columns(ofRow: Int(u)) where position[Int(j)] >= 0 { hits.append(Int(position[Int(j)])) }
                                        for a in hits { let rowStart = a * k; for b in hits { g[rowStart + b] += 1 } }
                                    }
                                    users.removeAll(keepingCapacity: true)
                                case .lists:
                                    // The diagonal is each neighbour's user count; an off-diagonal pair is found on
                                    // either item's list (with the same count on both when on both).
                                    for (a, l) in row.enumerated() {
                                        g[a * k + a] = Double(byItem.rowPointers[Int(l) + 1] - byItem.rowPointers[Int(l)])
                                        for slot in (Int(l) * L)..<(Int(l) * L + L) {
                                            let j = ids[slot]
                                            guard j >= 0 else { break }
                                            let b = Int(position[Int(j)])
                                            if b >= 0 { g[a * k + b] = counts[slot]; g[b * k + a] = counts[slot] }
                                        }
                                    }
                                }
                            }
                            for l in row { position[Int(l)] = -1 }
                            var raised = false
                            for (t, lambda) in lambdas.enumerated() {
                                // A block from lists misses pairs and so need not be positive definite: its λ is
                                // doubled until it is. An exact block is, and gets one try.
                                var b: [Double] = [], lastError: Error?
                                for doublings in 0...(source == .lists ? 40 : 0) {
                                    var a = gram
                                    b = Array(counts[(i * L)..<(i * L + k)])
                                    for d in 0..<k { a[d * k + d] += lambda * Double(1 << doublings) }
                                    do { try LAPACK.solveSymmetricPositiveDefinite(&a, &b, n: k); lastError = nil; raised = raised || doublings > 0; break } catch { lastError = error }
                                }
                                if let lastError { failed[chunk] = "item \(i) at λ \(lambda): \(lastError)"; continue }
                                for d in 0..<k { base[t * size + i * m + d] = Float(b[d]) }
                            }
                            if raised { shiftCount[chunk] += 1 }
                        }
                    }
                }
            }
        }
        if let failure = failures.compactMap({ $0 }).first { throw ConfigError("sparse EASE: \(failure)") }
        return ((0..<lambdas.count).map { Array(flat[($0 * size)..<(($0 + 1) * size)]) }, shifted.reduce(0, +))
    }
}
