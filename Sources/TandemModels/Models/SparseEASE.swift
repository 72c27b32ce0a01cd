import Foundation
import TandemTensor
import TandemAutograd
import TandemData

/// Settings of sparse EASE. YAML keys and flags are the snake_case / kebab-case of these names.
public struct SparseEASEConfig: Codable, Equatable, Sendable {
    /// sparse-ease: the items each item's EASE column is fitted on (the ones sharing the most users with it); its λ
    /// grid is ease_lambdas.
    public var sparseEaseNeighbours: Int = 200

    public init() {}
}

/// EASE on a sparse support. EASE's column `i` is the ridge regression of item `i`'s user column on every other item's,
/// `B_{·i} = (G_{−i,−i} + λI)⁻¹ G_{−i,i}` with `G = XᵀX` (the same as its closed form `−P_li / P_ii`). Here each
/// column regresses on only the `m` items that share the most users with `i` — the feature selection of Ning and
/// Karypis's fsSLIM ("SLIM: Sparse Linear Methods for Top-N Recommender Systems", ICDM 2011) with EASE's L2 penalty:
/// one `m × m` solve per item on exact Gram entries counted from the neighbours' users, so the fit is linear in the
/// catalogue and the weights are items × m (`NeighbourListModel`). With `m ≥ items − 1` it is EASE. λ is chosen on
/// validation as EASE's is (`searchEASELambda`); the Gram block of an item is built once for every λ of the grid.
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
        guard !lambdas.isEmpty, lambdas.allSatisfy({ $0 > 0 }) else { throw ConfigError("ease_lambdas must be one or more positive numbers") }
        (neighbours, neighbourWeights) = try emptyNeighbourLists(prefix: "sparse_ease", weights: "weights", items: items,
                                                                 k: config.sparseEaseNeighbours, model: "sparse EASE")
        self.config = config
        self.lambdas = lambdas
        self.train = train.matrix(users: users, items: items)
    }

    public func fit(validate: () -> Double, log: (String) -> Void) throws -> [String: Double] {
        let n = train.cols, m = neighbours.value.cols
        let (ids, counts) = topNeighbours(train: train, k: m, by: .count)
        neighbours.value = Tensor(shape: [n, m], data: ids.map { Float($0) })
        var solved: [Double: [Float]] = [:]
        let chosen = try searchEASELambda(lambdas, parameters: [neighbourWeights], name: "sparse-ease", solve: { lambda in
            if solved[lambda] == nil {
                // The grid's λs together (one Gram block per item for all of them); an extension's alone.
                let batch = lambdas.contains(lambda) ? lambdas : [lambda]
                for (l, w) in zip(batch, try Self.solve(train: train, ids: ids, counts: counts, m: m, lambdas: batch)) { solved[l] = w }
            }
            neighbourWeights.value = Tensor(shape: [n, m], data: solved[lambda]!)
        }, validate: validate, log: log)
        lambda = chosen
        log("sparse-ease: \(m) neighbours per item")
        return ["lambda": chosen, "neighbours": Double(m)]
    }

    /// Each item's column for every λ of `lambdas`: `(G_NN + λI)⁻¹ G_Ni` over its neighbours `N` (`ids`, `-1` padded;
    /// `counts` holds `G_Ni`). Returns one items × m weight array per λ.
    static func solve(train: CSRMatrix, ids: [Int32], counts: [Double], m: Int, lambdas: [Double]) throws -> [[Float]] {
        let n = train.cols, byItem = train.transposed()
        let size = n * m
        var flat = [Float](repeating: 0, count: lambdas.count * size)
        let chunks = min(n, Parallel.cores * 8)
        var failures = [String?](repeating: nil, count: chunks)
        flat.withUnsafeMutableBufferPointer { weights in
            let base = weights.baseAddress!
            failures.withUnsafeMutableBufferPointer { failed in
                Parallel.forEach(chunks) { chunk in
                    var position = [Int32](repeating: -1, count: n)
                    var visited = [Bool](repeating: false, count: train.rows)
                    var users: [Int32] = [], hits: [Int] = []
                    for i in stride(from: chunk, to: n, by: chunks) {
                        let row = ids[(i * m)..<(i * m + m)].prefix { $0 >= 0 }
                        let k = row.count
                        guard k > 0 else { continue }
                        for (a, l) in row.enumerated() { position[Int(l)] = Int32(a) }
                        // G_NN = Σ over the neighbours' users of the outer product of each user's items in N: every
                        // user is read once, however many neighbours they have.
                        for l in row { for u in byItem.columns(ofRow: Int(l)) where !visited[Int(u)] { visited[Int(u)] = true; users.append(u) } }
                        var gram = [Double](repeating: 0, count: k * k)
                        gram.withUnsafeMutableBufferPointer { g in
                            for u in users {
                                visited[Int(u)] = false
                                hits.removeAll(keepingCapacity: true)
                                for j in train.columns(ofRow: Int(u)) where position[Int(j)] >= 0 { hits.append(Int(position[Int(j)])) }
                                for a in hits { let rowStart = a * k; for b in hits { g[rowStart + b] += 1 } }
                            }
                        }
                        users.removeAll(keepingCapacity: true)
                        for l in row { position[Int(l)] = -1 }
                        for (t, lambda) in lambdas.enumerated() {
                            var a = gram, b = Array(counts[(i * m)..<(i * m + k)])
                            for d in 0..<k { a[d * k + d] += lambda }
                            do { try LAPACK.solveSymmetricPositiveDefinite(&a, &b, n: k) } catch {
                                failed[chunk] = "item \(i) at λ \(lambda): \(error)"; continue
                            }
                            for d in 0..<k { base[t * size + i * m + d] = Float(b[d]) }
                        }
                    }
                }
            }
        }
        if let failure = failures.compactMap({ $0 }).first { throw ConfigError("sparse EASE: \(failure)") }
        return (0..<lambdas.count).map { Array(flat[($0 * size)..<(($0 + 1) * size)]) }
    }
}
