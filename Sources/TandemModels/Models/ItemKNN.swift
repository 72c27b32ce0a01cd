import TandemTensor
import TandemAutograd
import TandemData

/// Settings of ItemKNN. YAML keys and flags are the snake_case / kebab-case of these names.
public struct ItemKNNConfig: Codable, Equatable, Sendable {
    /// ItemKNN: neighbours kept per item (RecBole's k).
    public var knnNeighbours: Int = 100
    /// ItemKNN: shrink added to the cosine's denominator (damps similarities built on few common users).
    public var knnShrink: Double = 0

    public init() {}
}

/// Item-based k-nearest neighbours (Sarwar et al., "Item-Based Collaborative Filtering Recommendation Algorithms",
/// WWW 2001), as RecBole's ItemKNN computes it: the cosine between items' user columns,
/// `s(l, i) = c_li / (‖x_l‖ ‖x_i‖ + shrink + 10⁻⁶)` with `c` the co-occurrence counts and no self-similarity; each item
/// keeps its `k` most similar items, and a user's score of item `i` sums the similarities of the user's training
/// items among them (`ItemToItemModel`, `W[l, i] = s(l, i)` for the kept `l`).
public final class ItemKNN: ItemToItemModel {
    public let config: ItemKNNConfig
    public let itemWeights: Parameter
    public let train: CSRMatrix

    public init(_ config: ItemKNNConfig, train: Interactions, users: Int, items: Int) throws {
        try checkItemMatricesFit(items: items, bytesPerEntry: 8 + 4, model: "ItemKNN")
        guard config.knnNeighbours >= 1, config.knnShrink >= 0 else {
            throw ConfigError("knn_neighbours must be ≥ 1 and knn_shrink ≥ 0")
        }
        self.config = config
        self.train = train.matrix(users: users, items: items)
        itemWeights = Parameter("itemknn.item_weights", Tensor(zeros: [items, items]))
    }

    /// Computes the similarities and keeps each item's `k` nearest (ties to the lower item index).
    public func fit(validate: () -> Double, log: (String) -> Void) throws -> [String: Double] {
        let n = train.cols, k = min(config.knnNeighbours, max(0, n - 1))
        let c = cooccurrence()
        let norms = (0..<n).map { c[$0 * n + $0].squareRoot() }
        var weights = Tensor(zeros: [n, n])
        weights.data.withUnsafeMutableBufferPointer { w in
            var column = [Double](repeating: 0, count: n)
            for i in 0..<n {
                for l in 0..<n { column[l] = l == i ? -.infinity : c[l * n + i] / (norms[l] * norms[i] + config.knnShrink + 1e-6) }
                let kept = (0..<n).filter { $0 != i }.sorted { column[$0] > column[$1] || (column[$0] == column[$1] && $0 < $1) }.prefix(k)
                for l in kept { w[i * n + l] = Float(column[l]) }
            }
        }
        itemWeights.value = weights
        log("itemknn: \(k) neighbours per item, shrink \(config.knnShrink)")
        return ["neighbours": Double(k), "shrink": config.knnShrink]
    }
}
