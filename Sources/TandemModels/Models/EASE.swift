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
/// training items `x_u` (`ItemToItemModel`). A strong non-contrastive baseline on MovieLens.
public final class EASE: ItemToItemModel {
    public let config: EASEConfig
    public let itemWeights: Parameter
    public let train: CSRMatrix
    /// The λ of the current weights (nil before `fit`).
    public private(set) var lambda: Double?

    /// Throws, naming the item count, when the items × items matrices would not fit in memory.
    public init(_ config: EASEConfig, train: Interactions, users: Int, items: Int) throws {
        // The Gram matrix and its inverse in Float64, the weights in Float32.
        try checkItemMatricesFit(items: items, bytesPerEntry: 8 * 2 + 4, model: "EASE")
        guard !config.easeLambdas.isEmpty, config.easeLambdas.allSatisfy({ $0 > 0 }) else {
            throw ConfigError("ease_lambdas must be one or more positive numbers")
        }
        self.config = config
        self.train = train.matrix(users: users, items: items)
        itemWeights = Parameter("ease.item_weights", Tensor(zeros: [items, items]))
    }

    /// Sets the weights to EASE's closed form at `lambda`.
    public func solve(lambda: Double, threads: Int = Parallel.cores) throws {
        let n = train.cols
        var p = cooccurrence()
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
