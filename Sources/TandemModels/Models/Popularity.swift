import TandemTensor
import TandemAutograd
import TandemData

/// Most-popular items for everyone: the protocol's sanity baseline. As embeddings: every user is `[1]`, every item is
/// `[training count]`, so the full-ranking evaluator ranks by popularity. No parameters: there is nothing to train.
public final class Popularity: RetrievalModel {
    public let counts: [Int]

    public init(counts: [Int]) { self.counts = counts }
    public convenience init(train: Interactions, items: Int) { self.init(counts: train.itemCounts(items: items)) }

    public var parameters: [Parameter] { [] }
    public func userEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable {
        tape.constant(Tensor(repeating: 1, shape: [ids.count, 1]))
    }
    public func itemEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable {
        tape.constant(Tensor(shape: [ids.count, 1], data: ids.map { Float(counts[Int($0)]) }))
    }
    /// Counts as they are, whatever the similarity: normalising one-column embeddings would tie every item.
    public func allEmbeddings(users: Bool, count: Int, normalize: Bool) -> Tensor {
        users ? Tensor(repeating: 1, shape: [count, 1]) : Tensor(shape: [counts.count, 1], data: counts.map(Float.init))
    }
}
