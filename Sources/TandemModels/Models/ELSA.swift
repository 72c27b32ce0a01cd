import Foundation
import Dispatch
import TandemTensor
import TandemAutograd
import TandemData

/// Settings of ELSA. YAML keys and flags are the snake_case / kebab-case of these names.
public struct ELSAConfig: Codable, Equatable, Sendable {
    /// ELSA: passes over the users; the pass with the best validation metric is kept (ml-1m at 256-d still gains at 50).
    public var elsaEpochs: Int = 60
    /// ELSA: users per Adam step (fewer where a step's users × items predictions would pass 2²⁶ values).
    public var elsaBatchSize: Int = 1024
    /// ELSA: Adam's learning rate.
    public var elsaLearningRate: Double = 0.1

    public init() {}
}

/// ELSA (Vančura, Alves, Kasalický and Kordík, "Scalable Linear Shallow Autoencoder for Collaborative Filtering",
/// RecSys 2022): EASE's item–item weights in low-rank form, `B = Â Âᵀ − I` with `Â` the items × r factor matrix with
/// L2-normalised rows, so `diag B = 0` as in EASE and the model is linear in the catalogue (items × r parameters, never
/// items × items). It is fitted by Adam on batches of users, minimising
/// `‖ŷ_u/‖ŷ_u‖ − x_u/‖x_u‖‖²` with `ŷ_u = x_u Â Âᵀ − x_u` (the paper's normalised squared error).
///
/// As a `RetrievalModel` it is an embedding model: user `u` is `x_u Â` (the sum of its training items' rows) and item
/// `j` is `Â_j`, so the inner product is `x_u Â Âᵀ`, which equals EASE-form score `x_u B` on every item the user has not
/// interacted with (the only ones ranked). Served through the same ANN index as MF.
public final class ELSA: RetrievalModel {
    public let config: ELSAConfig
    /// The factors `A` before normalisation (the trained parameter).
    public let items: Parameter
    /// Training interactions, users × items.
    public let train: CSRMatrix
    var shuffle: RNG

    public init(_ config: ELSAConfig, train: Interactions, users: Int, items numItems: Int, dim: Int, rng: inout RNG) throws {
        guard config.elsaEpochs >= 1, config.elsaBatchSize >= 1, config.elsaLearningRate > 0 else {
            throw ConfigError("elsa_epochs and elsa_batch_size must be ≥ 1 and elsa_learning_rate > 0")
        }
        self.config = config
        self.train = train.matrix(users: users, items: numItems)
        // The reference code's Kaiming-uniform start; only the direction of each row matters.
        let bound = (6 / Float(dim)).squareRoot()
        self.items = Parameter("elsa.item", Tensor(shape: [numItems, dim], data: (0..<(numItems * dim)).map { _ in (2 * rng.uniform() - 1) * bound }))
        shuffle = RNG(seed: rng.next())
    }

    public var parameters: [Parameter] { [items] }
    public var itemParameters: [Parameter] { [items] }
    public var trainsByGradient: Bool { false }

    /// `Â`: the factors with each row scaled to unit length.
    public var normalizedItems: Tensor { items.value.rowsNormalized() }

    public func userEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.constant(train.selectingRows(ids).multiply(normalizedItems)) }
    public func itemEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.constant(normalizedItems.gatherRows(ids)) }

    /// `X Â` and `Â`, scored by their inner products as they are (normalising users would not change a user's ranking,
    /// but the scores are ELSA's).
    public func allEmbeddings(users: Bool, count: Int, normalize: Bool) -> Tensor {
        let a = normalizedItems
        return users ? train.multiply(a) : a
    }

    /// Users per step: `elsa_batch_size`, or fewer so a step's predictions stay under 2²⁶ values.
    public var stepUsers: Int { Tensor.blockRows(width: train.cols, cap: config.elsaBatchSize) }

    /// ELSA's loss on the users `batch` (each with at least one training item).
    public func loss(_ tape: Tape, users batch: [Int32]) -> Variable {
        Self.loss(tape, rows: train.selectingRows(batch), factors: tape.parameter(items))
    }

    /// The mean over the rows `x_u` of `rows` of `‖ŷ_u/‖ŷ_u‖ − x_u/‖x_u‖‖²`, `ŷ_u = x_u Â Âᵀ − x_u`, with `Â` the
    /// row-normalised `factors`.
    public static func loss(_ tape: Tape, rows x: CSRMatrix, factors: Variable) -> Variable {
        let a = tape.l2Normalize(factors)
        let dense = x.toDense()
        let predicted = tape.matmul(tape.sparseMatmul(x, a), a, transposeB: true) - tape.constant(dense)
        let target = tape.constant(dense.rowsNormalized())
        return tape.scale(tape.sumOfSquares(tape.l2Normalize(predicted) - target), 1 / Float(x.rows))
    }

    /// `elsa_epochs` passes of Adam over the users in a seeded order, keeping the pass with the best validation metric.
    public func fit(validate: () -> Double, log: (String) -> Void) throws -> [String: Double] {
        let optimizer = Optimizer(.adam, parameters: [items], learningRate: Float(config.elsaLearningRate))
        var users = (0..<train.rows).filter { train.rowPointers[$0 + 1] > train.rowPointers[$0] }.map { Int32($0) }
        let step = stepUsers
        if step < config.elsaBatchSize { log("elsa: \(step) users per step (\(train.cols) items)") }
        var best: (epoch: Int, score: Double, items: Tensor)?
        for epoch in 1...config.elsaEpochs {
            let start = DispatchTime.now().uptimeNanoseconds
            shuffle.shuffle(&users)
            var lossSum = 0.0, steps = 0
            for lo in stride(from: 0, to: users.count, by: step) {
                let tape = Tape(training: true)
                let l = loss(tape, users: Array(users[lo..<min(users.count, lo + step)]))
                let value = l.value.data[0]
                guard value.isFinite else { throw ConfigError("elsa: the loss became \(value) in pass \(epoch); lower elsa_learning_rate") }
                optimizer.update(tape.backward(l))
                lossSum += Double(value); steps += 1
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let score = validate()
            log(String(format: "elsa pass %d: loss %.4f, %.2fs, valid %.4f", epoch, lossSum / Double(max(1, steps)), seconds, score))
            if best == nil || score > best!.score { best = (epoch, score, items.value) }
        }
        items.value = best!.items
        log("elsa: kept pass \(best!.epoch) of \(config.elsaEpochs)")
        return ["epoch": Double(best!.epoch)]
    }
}
