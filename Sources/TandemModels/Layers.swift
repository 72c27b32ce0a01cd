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
