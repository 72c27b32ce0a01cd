import TandemTensor
import TandemAutograd
import TandemData

/// Settings of EASE. YAML keys and flags are the snake_case / kebab-case of these names.
public struct EASEConfig: Codable, Equatable, Sendable {
    /// EASE: the L2 weights λ tried; the one with the best validation metric is kept (printed, and in the results JSON).
    /// With two or more values, a best λ at either end of the grid, strictly better than its neighbour, extends the grid
    /// (by the ratio of that end's two values) until the chosen λ is interior; one value is used as given.
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

    /// Solves at each λ of the grid and keeps the one `validate` scores highest (`searchEASELambda`).
    public func fit(validate: () -> Double, log: (String) -> Void) throws -> [String: Double] {
        lambda = try searchEASELambda(config.easeLambdas, parameters: parameters, name: "ease",
                                      solve: { try solve(lambda: $0) }, validate: validate, log: log)
        return ["lambda": lambda!]
    }

    /// How many times `fit` extends the λ grid past an end before it keeps the edge.
    public static let maxExtensions = 8
}

/// EASE's λ search, shared by the models that minimise its objective (EASE, sparse EASE): `solve(λ)` sets the weights
/// and `validate` scores them; the best λ is kept (ties: the smaller). A best λ at an end of a grid of two or more
/// values, strictly better than its neighbour, extends the grid past that end by the ratio of that end's two values (at
/// most `EASE.maxExtensions` times), so the choice is an interior optimum rather than the grid's edge; one value is
/// used as given. Leaves `parameters` at the chosen λ's values and returns it.
func searchEASELambda(_ grid: [Double], parameters: [Parameter], name: String, solve: (Double) throws -> Void,
                      validate: () -> Double, log: (String) -> Void) throws -> Double {
    var tried: [(lambda: Double, score: Double)] = []
    var best: (lambda: Double, score: Double, values: [Tensor])?
    func tryLambda(_ lambda: Double) throws {
        try solve(lambda)
        let score = validate()
        log(String(format: "%@ λ %g: valid %.4f", name, lambda, score))
        tried.append((lambda, score))
        if best == nil || score > best!.score || (score == best!.score && lambda < best!.lambda) { best = (lambda, score, parameters.map(\.value)) }
    }
    for lambda in grid { try tryLambda(lambda) }
    var extensions = 0
    while grid.count >= 2, extensions < EASE.maxExtensions {
        // Past an edge only while the edge is strictly better than its neighbour (a flat end is not extended).
        let sorted = tried.sorted { $0.lambda < $1.lambda }, n = sorted.count
        let next: Double
        if best!.lambda == sorted[0].lambda, sorted[0].score > sorted[1].score {
            next = sorted[0].lambda * sorted[0].lambda / sorted[1].lambda
        } else if best!.lambda == sorted[n - 1].lambda, sorted[n - 1].score > sorted[n - 2].score {
            next = sorted[n - 1].lambda * sorted[n - 1].lambda / sorted[n - 2].lambda
        } else {
            break
        }
        extensions += 1
        try tryLambda(next)
    }
    for (p, v) in zip(parameters, best!.values) { p.value = v }
    let tries = tried.map(\.lambda).sorted().map { String(format: "%g", $0) }.joined(separator: ", ")
    log(String(format: "%@: chose λ %g of %@", name, best!.lambda, tries) + (extensions > 0 ? " (grid extended \(extensions)×)" : ""))
    return best!.lambda
}
