import TandemTensor
import TandemAutograd

/// A fully connected layer `x · W + b`.
public final class Dense {
    public let weight: Parameter
    public let bias: Parameter

    /// He-uniform initialisation (suits ReLU hidden layers); bias zero.
    public init(_ name: String, inputs: Int, outputs: Int, rng: inout RNG) {
        weight = Parameter("\(name).weight", rng.uniformTensor(shape: [inputs, outputs], bound: (6 / Float(inputs)).squareRoot()))
        bias = Parameter("\(name).bias", Tensor(zeros: [1, outputs]))
    }

    public func callAsFunction(_ tape: Tape, _ x: Variable) -> Variable {
        tape.matmul(x, tape.parameter(weight)) + tape.parameter(bias)
    }

    public var parameters: [Parameter] { [weight, bias] }
}

/// An MLP with ReLU between layers and a linear last layer.
public final class MLP {
    public let layers: [Dense]
    public let dropout: Float

    /// `sizes` = [input, hidden…, output]; with only [input, output] it is one linear layer.
    public init(_ name: String, sizes: [Int], dropout: Float = 0, rng: inout RNG) {
        precondition(sizes.count >= 2, "an MLP needs at least input and output sizes")
        var layers: [Dense] = []
        for k in 0..<(sizes.count - 1) { layers.append(Dense("\(name).\(k)", inputs: sizes[k], outputs: sizes[k + 1], rng: &rng)) }
        self.layers = layers
        self.dropout = dropout
    }

    public func callAsFunction(_ tape: Tape, _ x: Variable) -> Variable {
        var h = x
        for (k, layer) in layers.enumerated() {
            h = layer(tape, h)
            if k < layers.count - 1 { h = tape.dropout(tape.relu(h), p: dropout) }
        }
        return h
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
}

/// SENet field re-weighting (FiBiNET, Huang et al. 2019): each field's embedding is squeezed to one number (its mean),
/// the `f` numbers go through two small dense layers with ReLU, and each field is scaled by its output before the
/// tower's MLP — so the tower can learn, per entity, which fields to trust.
///
/// `z = [mean(e₁) … mean(e_f)]`, `h = relu(z·W₁ + b₁)` (`⌈f / reduction⌉` units), `aᵢ = relu(h·wᵢ + bᵢ)`, `eᵢ ← aᵢ·eᵢ`.
/// The excitation biases start at 1, so a new model starts near the un-weighted tower.
public final class FieldReweighting {
    public let squeeze: Dense
    public let excite: [Dense]

    public init(_ name: String, fields: Int, reduction: Int = 2, rng: inout RNG) {
        precondition(fields >= 2, "field re-weighting needs at least two fields")
        let hidden = max(1, (fields + reduction - 1) / max(1, reduction))
        squeeze = Dense("\(name).senet.squeeze", inputs: fields, outputs: hidden, rng: &rng)
        excite = (0..<fields).map { i in
            let d = Dense("\(name).senet.excite.\(i)", inputs: hidden, outputs: 1, rng: &rng)
            d.bias.value = Tensor(repeating: 1, shape: [1, 1])
            return d
        }
    }

    /// The fields, each `[n, dᵢ]`, scaled by their per-row weights.
    public func callAsFunction(_ tape: Tape, _ fields: [Variable]) -> [Variable] {
        zip(fields, excitations(tape, fields)).map { field, a in field * a }
    }

    /// The weights `aᵢ` for each row (`[n, f]`), for inspection.
    public func weights(_ tape: Tape, _ fields: [Variable]) -> Tensor {
        tape.concatColumns(excitations(tape, fields)).value
    }

    /// `aᵢ` as one `[n, 1]` column per field.
    func excitations(_ tape: Tape, _ fields: [Variable]) -> [Variable] {
        precondition(fields.count == excite.count, "expected \(excite.count) fields, got \(fields.count)")
        let z = tape.concatColumns(fields.map { tape.mean($0, .perRow) })
        let h = tape.relu(squeeze(tape, z))
        return excite.map { tape.relu($0(tape, h)) }
    }

    public var parameters: [Parameter] { squeeze.parameters + excite.flatMap(\.parameters) }
}
