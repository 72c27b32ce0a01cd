import Foundation
import TandemTensor
import TandemAutograd

/// Sinkhorn-Knopp for SwAV's equal-partition soft assignments (Caron et al. 2020; Cuturi 2013).
public enum Sinkhorn {
    /// Soft assignments `[n, K]` of `n` rows to `K` prototypes from their scores: `Q ∝ exp(scores / ε)` rescaled in
    /// turns so every prototype receives `n / K` rows' worth of mass and every row's assignment sums to 1 (the row
    /// constraint is the last one applied, so it holds exactly; the prototype constraint holds better with more
    /// iterations). Computed in Float64, shifted by the maximum score so `exp` cannot overflow.
    public static func assignments(scores: Tensor, epsilon: Float, iterations: Int) -> Tensor {
        let n = scores.rows, k = scores.cols
        guard n > 0, k > 0 else { return scores }
        let top = Double(scores.data.max()!)
        var q = scores.data.map { Foundation.exp((Double($0) - top) / Double(epsilon)) }
        let total = q.reduce(0, +)
        for i in q.indices { q[i] /= total }
        var column = [Double](repeating: 0, count: k)
        for _ in 0..<max(1, iterations) {
            // Each prototype's mass → 1/K.
            for j in 0..<k { column[j] = 0 }
            for i in 0..<n { for j in 0..<k { column[j] += q[i * k + j] } }
            for i in 0..<n { for j in 0..<k { q[i * k + j] /= column[j] > 0 ? column[j] * Double(k) : 1 } }
            // Each row's mass → 1/n.
            for i in 0..<n {
                var s = 0.0
                for j in 0..<k { s += q[i * k + j] }
                for j in 0..<k { q[i * k + j] /= s > 0 ? s * Double(n) : 1 }
            }
        }
        return Tensor(shape: [n, k], data: q.map { Float($0 * Double(n)) })
    }
}

/// ConCAT's prototype head (SwAV-style clustering of users and items): `K` learnable prototype vectors shared by both
/// towers. Each user and its positive item get a balanced soft assignment to the prototypes (Sinkhorn-Knopp, no
/// gradient); the user's prototype softmax is trained to predict the item's assignment and vice versa (swapped
/// prediction), so a user and the items it clicks fall into the same clusters while every cluster stays in use.
public final class PrototypeHead {
    public let prototypes: Parameter
    public let temperature: Float
    public let epsilon: Float
    public let iterations: Int

    public init(count: Int, dim: Int, temperature: Float, epsilon: Float, iterations: Int, rng: inout RNG) {
        precondition(count > 0 && dim > 0)
        prototypes = Parameter("prototypes", rng.normalTensor(shape: [count, dim], std: 1))
        self.temperature = temperature; self.epsilon = epsilon; self.iterations = iterations
    }

    public var parameters: [Parameter] { [prototypes] }

    /// The swapped-prediction loss of a batch of (user, positive item) embeddings, each `[n, d]` and L2-normalised.
    public func loss(_ tape: Tape, users: Variable, items: Variable) -> Variable {
        let c = tape.l2Normalize(tape.parameter(prototypes))
        let userScores = tape.matmul(users, c, transposeB: true)
        let itemScores = tape.matmul(items, c, transposeB: true)
        let codes = (user: Sinkhorn.assignments(scores: userScores.value, epsilon: epsilon, iterations: iterations),
                     item: Sinkhorn.assignments(scores: itemScores.value, epsilon: epsilon, iterations: iterations))
        return Self.swappedPrediction(tape, userScores: userScores, itemScores: itemScores, codes: codes, temperature: temperature)
    }

    /// `−½ · mean_i [ Σ_k q_item[i,k] log p_user[i,k] + Σ_k q_user[i,k] log p_item[i,k] ]` with
    /// `p = softmax(scores / τ)` and the assignments `q` held constant.
    public static func swappedPrediction(_ tape: Tape, userScores: Variable, itemScores: Variable,
                                         codes: (user: Tensor, item: Tensor), temperature: Float) -> Variable {
        let logUser = tape.logSoftmax(tape.scale(userScores, 1 / temperature))
        let logItem = tape.logSoftmax(tape.scale(itemScores, 1 / temperature))
        let crossed = tape.sum(tape.constant(codes.item) * logUser) + tape.sum(tape.constant(codes.user) * logItem)
        return tape.scale(crossed, -0.5 / Float(max(1, userScores.value.rows)))
    }

    /// How many prototypes are the nearest (highest score against the unit prototypes) for at least one row of
    /// `embeddings` (`[n, d]`; a row's length does not change its nearest prototype): far below `K` means the
    /// clustering collapsed.
    public func prototypesInUse(_ embeddings: Tensor) -> Int {
        let tape = Tape(training: false)
        let scores = tape.matmul(tape.constant(embeddings), tape.l2Normalize(tape.constant(prototypes.value)), transposeB: true).value
        let k = scores.cols
        var used = Set<Int>()
        for i in 0..<scores.rows {
            var best = 0
            for j in 1..<k where scores.data[i * k + j] > scores.data[i * k + best] { best = j }
            used.insert(best)
        }
        return used.count
    }
}
