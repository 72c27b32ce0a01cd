import TandemTensor

/// What full-ranking evaluation reads: every item's score for a block of users.
///
/// Most models score by the inner product of user and item embeddings (`EmbeddingScorer`); a sparse item–item model
/// (ItemKNN) sums its neighbours' similarities over the user's items instead, since its embeddings would be as wide as
/// the catalogue.
public protocol UserItemScorer: Sendable {
    var userCount: Int { get }
    var itemCount: Int { get }
    /// Scores of `users` (ids in `0..<userCount`) against every item: `users.count × itemCount`.
    func scores(users: [Int32]) -> Tensor
}

/// Scores as `U · Vᵀ` (embeddings as the model scores them, already normalised for cosine similarity).
public struct EmbeddingScorer: UserItemScorer {
    public let users: Tensor
    public let items: Tensor

    public init(users: Tensor, items: Tensor) {
        precondition(users.cols == items.cols, "user dim \(users.cols) ≠ item dim \(items.cols)")
        self.users = users; self.items = items
    }

    public var userCount: Int { users.rows }
    public var itemCount: Int { items.rows }

    public func scores(users ids: [Int32]) -> Tensor {
        // A contiguous run of ids (every user, in blocks) is sliced rather than gathered.
        let block: Tensor
        if let first = ids.first, ids.indices.allSatisfy({ ids[$0] == first + Int32($0) }) {
            let d = users.cols, start = Int(first)
            block = Tensor(shape: [ids.count, d], data: Array(users.data[(start * d)..<((start + ids.count) * d)]))
        } else {
            block = users.gatherRows(ids)
        }
        return BLAS.matmul(block, items, transposeB: true)
    }
}
