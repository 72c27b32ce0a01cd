import Foundation
import TandemTensor
import TandemAutograd
import TandemData

/// Settings of EASE. YAML keys and flags are the snake_case / kebab-case of these names.
public struct EASEConfig: Codable, Equatable, Sendable {
    /// EASE: the L2 weights λ tried; the one with the best validation metric is kept (printed, and in the results JSON).
    public var easeLambdas: [Double] = [50, 100, 250, 500, 1000, 2500]

    public init() {}
}

/// EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019): an item–item weight matrix in closed
/// form, `B = I − P·diag(1/diag P)` with `P = (XᵀX + λI)⁻¹` and `diag B = 0`; a user's scores are `x_u B` over their
/// training items `x_u`. A strong non-contrastive baseline on MovieLens.
///
/// As a `RetrievalModel`: the user embedding is the user's training row (one column per item), item `j`'s embedding
/// is column `j` of `B`, so the evaluator's inner products are exactly `X B`. Both are as wide as the catalogue: fine
/// for exact full ranking and a Flat index, not an embedding an ANN index could serve at scale.
public final class EASE: RetrievalModel {
    public let config: EASEConfig
    /// Row `j` is column `j` of `B` (item `j`'s weights from every item).
    public let itemWeights: Parameter
    let train: CSRMatrix
    /// The λ of the current weights (nil before `fit`).
    public private(set) var lambda: Double?

    /// Throws, naming the item count, when the items × items matrices would not fit in memory.
    public init(_ config: EASEConfig, train: Interactions, users: Int, items: Int) throws {
        let bytes = Double(items) * Double(items) * (8 * 2 + 4)  // Gram and inverse in Float64, the weights in Float32
        let memory = Double(ProcessInfo.processInfo.physicalMemory)
        guard bytes < memory * 0.6 else {
            throw ConfigError(String(format: "EASE needs %d × %d item matrices (%.1f GB) but this machine has %.1f GB: use a k-core filter (item_core) to shrink the catalogue, or an embedding model",
                                     items, items, bytes / 1e9, memory / 1e9))
        }
        guard !config.easeLambdas.isEmpty, config.easeLambdas.allSatisfy({ $0 > 0 }) else {
            throw ConfigError("ease_lambdas must be one or more positive numbers")
        }
        self.config = config
        self.train = train.matrix(users: users, items: items)
        itemWeights = Parameter("ease.item_weights", Tensor(zeros: [items, items]))
    }

    public var parameters: [Parameter] { [itemWeights] }
    public var trainsByGradient: Bool { false }

    public func userEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.constant(trainRows(ids)) }
    public func itemEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.constant(itemWeights.value.gatherRows(ids)) }

    /// Scores are `X B` as they are: normalising either side would change the ranking.
    public func allEmbeddings(users: Bool, count: Int, normalize: Bool) -> Tensor {
        users ? trainRows((0..<Int32(count)).map { $0 }) : itemWeights.value
    }

    /// Users' training rows as dense 0/1 vectors.
    func trainRows(_ ids: [Int32]) -> Tensor {
        var out = Tensor(zeros: [ids.count, train.cols])
        for (r, u) in ids.enumerated() { for i in train.columns(ofRow: Int(u)) { out.data[r * train.cols + Int(i)] = 1 } }
        return out
    }

    /// `XᵀX`, counted from each user's item pairs (exact integers in Float64).
    func gram() -> [Double] {
        let n = train.cols
        var g = [Double](repeating: 0, count: n * n)
        g.withUnsafeMutableBufferPointer { p in
            for u in 0..<train.rows {
                let row = train.columns(ofRow: u)
                for i in row { let base = Int(i) * n; for j in row { p[base + Int(j)] += 1 } }
            }
        }
        return g
    }

    /// Sets the weights to EASE's closed form at `lambda`.
    public func solve(lambda: Double, threads: Int = Parallel.cores) throws {
        let n = train.cols
        var p = gram()
        for i in 0..<n { p[i * n + i] += lambda }
        do { try LAPACK.invertSymmetricPositiveDefinite(&p, n: n, threads: threads) } catch {
            throw ConfigError("EASE at λ \(lambda): \(error)")
        }
        // Bᵀ[j, i] = B[i, j] = −P[i, j] / P[j, j] = −P[j, i] / P[j, j] (P symmetric); the diagonal is 0.
        var weights = Tensor(zeros: [n, n])
        weights.data.withUnsafeMutableBufferPointer { w in
            for j in 0..<n {
                let d = p[j * n + j]
                for i in 0..<n where i != j { w[j * n + i] = Float(-p[j * n + i] / d) }
            }
        }
        itemWeights.value = weights
        self.lambda = lambda
    }

    /// Solves at each λ of the grid and keeps the one `validate` scores highest (ties: the smaller λ).
    public func fit(validate: () -> Double, log: (String) -> Void) throws -> [String: Double] {
        var best: (lambda: Double, score: Double, weights: Tensor)?
        for lambda in config.easeLambdas {
            try solve(lambda: lambda)
            let score = validate()
            log(String(format: "ease λ %g: valid %.4f", lambda, score))
            if best == nil || score > best!.score { best = (lambda, score, itemWeights.value) }
        }
        itemWeights.value = best!.weights
        lambda = best!.lambda
        log(String(format: "ease: chose λ %g of %@", best!.lambda, config.easeLambdas.map { String(format: "%g", $0) }.joined(separator: ", ")))
        return ["lambda": best!.lambda]
    }
}
