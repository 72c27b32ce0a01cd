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
/// items among them.
///
/// Sparse throughout (`NeighbourListModel`), so it runs where a dense items × items matrix would not fit: only items
/// that share a user with `i` are candidates (the others' similarity is 0 and would add nothing to any score).
public final class ItemKNN: NeighbourListModel {
    public let config: ItemKNNConfig
    public let neighbours: Parameter
    /// Row `i`: `s(l, i)` of each kept neighbour `l` (0 where there is none).
    public let neighbourWeights: Parameter
    public let train: CSRMatrix
    let scoringCache = NeighbourScoringCache()

    public init(_ config: ItemKNNConfig, train: Interactions, users: Int, items: Int) throws {
        guard config.knnNeighbours >= 1, config.knnShrink >= 0 else {
            throw ConfigError("knn_neighbours must be ≥ 1 and knn_shrink ≥ 0")
        }
        (neighbours, neighbourWeights) = try emptyNeighbourLists(prefix: "itemknn", weights: "similarities", items: items,
                                                                 k: config.knnNeighbours, model: "ItemKNN")
        self.config = config
        self.train = train.matrix(users: users, items: items)
    }

    /// Computes the similarities and keeps each item's `k` nearest (ties to the lower item index).
    public func fit(validate: () -> Double, log: (String) -> Void) throws -> [String: Double] {
        let n = train.cols, k = neighbours.value.cols
        let (ids, similarities) = topNeighbours(train: train, k: k, by: .cosine(shrink: config.knnShrink))
        neighbours.value = Tensor(shape: [n, k], data: ids.map { Float($0) })
        neighbourWeights.value = Tensor(shape: [n, k], data: similarities.map { Float($0) })
        log("itemknn: \(k) neighbours per item, shrink \(config.knnShrink)")
        return ["neighbours": Double(min(config.knnNeighbours, max(0, n - 1))), "shrink": config.knnShrink]
    }
}
