import TandemTensor
import TandemAutograd

/// Matrix factorisation (Koren et al., "Matrix Factorization Techniques for Recommender Systems", 2009): one free
/// embedding per user and per item. Trained here with any of Tandem's objectives (in-batch softmax by default).
/// With `itemBias`, a learned score per item is added after the similarity (`cos(u, v)/τ + b_i` under cosine), which
/// lets a cosine model rank by popularity as well, as Koren's biased MF does (Wu et al. 2022 show cosine scoring alone
/// cannot).
public final class MatrixFactorization: RetrievalModel {
    public let users: Parameter
    public let items: Parameter
    /// The items' score biases (`items × 1`, starting at zero); nil without `itemBias`.
    public let bias: Parameter?

    public init(users: Int, items: Int, dim: Int, initStd: Float = 0.1, itemBias: Bool = false, rng: inout RNG) {
        self.users = Parameter("user.id", rng.normalTensor(shape: [users, dim], std: initStd), sparse: true)
        self.items = Parameter("item.id", rng.normalTensor(shape: [items, dim], std: initStd), sparse: true)
        bias = itemBias ? Parameter("item.bias", Tensor(zeros: [items, 1]), sparse: true) : nil
    }

    public var parameters: [Parameter] { [users, items] + [bias].compactMap { $0 } }
    public var itemParameters: [Parameter] { [items] + [bias].compactMap { $0 } }
    public func userEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.embedding(users, rows: ids) }
    public func itemEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.embedding(items, rows: ids) }
    public var hasItemScoreBias: Bool { bias != nil }
    public func itemScoreBias(_ tape: Tape, _ ids: [Int32]) -> Variable? { bias.map { tape.embedding($0, rows: ids) } }
    public func forgetItems(_ ids: [Int32]) {
        items.zeroRows(ids)
        bias?.zeroRows(ids)
    }
}
