import Testing
import TandemTensor
import TandemAutograd
import TandemModels

/// SENet field re-weighting against a Float64 reference: forward values and the gradient with respect to every field.
@Suite struct FieldReweightingTests {
    @Test(arguments: [UInt64(1), 2, 3]) func gradientsMatchTheFloat64Reference(seed: UInt64) {
        var rng = RNG(seed: seed)
        let widths = [4, 3, 1]  // an id field, a feature field, a numeric column
        let senet = FieldReweighting("t", fields: widths.count, reduction: 2, rng: &rng)
        // Move the excitation away from its all-ones start so the test covers real weights.
        for e in senet.excite { e.weight.value = rng.normalTensor(shape: e.weight.value.shape, std: 0.5) }
        senet.squeeze.bias.value = rng.normalTensor(shape: senet.squeeze.bias.value.shape, std: 0.3)
        let inputs = widths.map { randomMatrix(&rng, 5, $0) }
        let w1 = DMat(senet.squeeze.weight.value), b1 = DMat(senet.squeeze.bias.value)
        let ws = senet.excite.map { (DMat($0.weight.value), DMat($0.bias.value)) }
        checkOp(inputs, seed: seed, { tape, v in tape.concatColumns(senet(tape, v)) }, reference: { fields in
            let n = fields[0].rows
            let z = DMat(rows: n, cols: fields.count) { r, i in (0..<fields[i].cols).reduce(0) { $0 + fields[i][r, $1] } / Double(fields[i].cols) }
            let h = (z * w1).bcast(b1, +).map { max(0, $0) }
            let scaled = zip(fields, ws).map { f, w -> DMat in
                let a = (h * w.0).bcast(w.1, +).map { max(0, $0) }
                return f.bcast(a, *)
            }
            let cols = scaled.reduce(0) { $0 + $1.cols }
            return DMat(rows: n, cols: cols) { r, c in
                var c = c
                for m in scaled { if c < m.cols { return m[r, c] }; c -= m.cols }
                return 0
            }
        })
    }

    /// A new layer starts near the identity (excitation biases 1), and weights are one per field and row.
    @Test func startsNearTheUnweightedFields() {
        var rng = RNG(seed: 4)
        let senet = FieldReweighting("t", fields: 3, rng: &rng)
        for e in senet.excite { e.weight.value = Tensor(zeros: e.weight.value.shape) }
        let tape = Tape()
        let fields = [randomMatrix(&rng, 6, 4), randomMatrix(&rng, 6, 2), randomMatrix(&rng, 6, 1)].map { tape.constant($0) }
        #expect(senet.weights(tape, fields) == Tensor(repeating: 1, shape: [6, 3]))
        #expect(zip(senet(tape, fields), fields).allSatisfy { $0.value == $1.value })
        #expect(senet.parameters.count == 2 + 2 * 3)
    }
}
