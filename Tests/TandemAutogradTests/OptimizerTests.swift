import Testing
import Foundation
import TandemTensor
import TandemAutograd

@Suite struct OptimizerTests {
    /// Gradient of sum(E[rows]) is 1 for each touched row: a hand-checkable step.
    func step(_ kind: Optimizer.Kind, weightDecay: Float = 0) -> (Parameter, Tensor) {
        let table = Parameter("emb", Tensor([[1, 2], [3, 4], [5, 6]]), sparse: true)
        let before = table.value
        let opt = Optimizer(kind, parameters: [table], learningRate: 0.1, weightDecay: weightDecay)
        let tape = Tape()
        opt.update(tape.backward(tape.sum(tape.embedding(table, rows: [2, 0, 2]))))
        return (table, before)
    }

    @Test func sgdUpdatesOnlyTouchedRows() {
        let (t, _) = step(.sgd)
        #expect(t.value.isClose(to: Tensor([[0.9, 1.9], [3, 4], [4.8, 5.8]])))
    }

    @Test func lazyAdamFirstStepIsLearningRateTimesSign() {
        let (t, _) = step(.adam)
        // m̂ = g, v̂ = g², so the step is lr · g / (|g| + ε) ≈ lr.
        #expect(t.value.isClose(to: Tensor([[0.9, 1.9], [3, 4], [4.9, 5.9]]), tolerance: 1e-5))
    }

    @Test func adamwDecaysOnlyTouchedRows() {
        let (t, _) = step(.adamw, weightDecay: 0.5)
        // w ← w − lr·wd·w, then the Adam step.
        #expect(t.value.isClose(to: Tensor([[1 - 0.05 - 0.1, 2 - 0.1 - 0.1], [3, 4], [5 - 0.25 - 0.1, 6 - 0.3 - 0.1]]), tolerance: 1e-5))
    }

    @Test func adagradFirstStep() {
        let (t, _) = step(.adagrad)
        // accumulator = g², step = lr · g / sqrt(g²) = lr.
        #expect(t.value.isClose(to: Tensor([[0.9, 1.9], [3, 4], [4.9, 5.9]]), tolerance: 1e-5))
    }

    /// The eight-wide Adam/AdamW update equals the scalar formula exactly, for dense tables and sparse rows, with
    /// lengths that leave a scalar tail (11 columns).
    @Test(arguments: [Optimizer.Kind.adam, .adamw]) func vectorisedAdamMatchesTheScalarFormula(kind: Optimizer.Kind) {
        var rng = RNG(seed: 9)
        for sparse in [false, true] {
            let start = rng.normalTensor(shape: [5, 11], std: 1)
            let p = Parameter("p", start, sparse: sparse)
            let opt = Optimizer(kind, parameters: [p], learningRate: 0.01, weightDecay: 0.1)
            var w = start.data, m = [Float](repeating: 0, count: 55), v = m
            for t in 1...3 {
                let tape = Tape()
                let weights = rng.normalTensor(shape: [5, 11], std: 1)
                let x = sparse ? tape.embedding(p, rows: [0, 1, 2, 3, 4]) : tape.parameter(p)
                let grads = tape.backward(tape.sum(x * tape.constant(weights)))
                opt.update(grads)
                let c1 = 1 - pow(Float(0.9), Float(t)), c2 = 1 - pow(Float(0.999), Float(t))
                for i in 0..<55 {
                    var g = weights.data[i]
                    if kind == .adam { g += 0.1 * w[i] } else { w[i] -= 0.01 * 0.1 * w[i] }
                    m[i] = 0.9 * m[i] + (1 - 0.9) * g
                    v[i] = 0.999 * v[i] + (1 - 0.999) * g * g
                    w[i] -= 0.01 * (m[i] / c1) / ((v[i] / c2).squareRoot() + 1e-8)
                }
                #expect(p.value.data == w, "\(kind) sparse \(sparse) step \(t)")
            }
        }
    }

    @Test func adamMinimisesAQuadratic() {
        let w = Parameter("w", Tensor([[3, -2]]))
        let opt = Optimizer(.adam, parameters: [w], learningRate: 0.05)
        for _ in 0..<500 {
            let tape = Tape()
            let x = tape.parameter(w)
            opt.update(tape.backward(tape.sum(x * x)))
        }
        #expect(w.value.data.allSatisfy { abs($0) < 0.05 })
    }
}
