import TandemTensor
import TandemAutograd

/// Matrix factorisation (Koren et al., "Matrix Factorization Techniques for Recommender Systems", 2009): one free
/// embedding per user and per item. Trained here with any of Tandem's objectives (in-batch softmax by default).
public final class MatrixFactorization: RetrievalModel {
    public let users: Parameter
    public let items: Parameter

    public init(users: Int, items: Int, dim: Int, initStd: Float = 0.1, rng: inout RNG) {
        self.users = Parameter("user.id", rng.normalTensor(shape: [users, dim], std: initStd), sparse: true)
        self.items = Parameter("item.id", rng.normalTensor(shape: [items, dim], std: initStd), sparse: true)
    }

    public var parameters: [Parameter] { [users, items] }
    public var itemParameters: [Parameter] { [items] }
    public func userEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.embedding(users, rows: ids) }
    public func itemEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.embedding(items, rows: ids) }
    public func forgetItems(_ ids: [Int32]) { items.zeroRows(ids) }
}
