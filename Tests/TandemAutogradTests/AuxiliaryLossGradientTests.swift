import Testing
import Foundation
import TandemTensor
import TandemAutograd
import TandemModels

/// Float64 references for the two-tower issue's auxiliary losses: the self-supervised task's masked views with their
/// InfoNCE, ConCAT's swapped prediction, and MoCo's item-gradient compensation.
@Suite struct AuxiliaryLossGradientTests {
    static func normalizeRows(_ x: DMat) -> DMat {
        DMat(rows: x.rows, cols: x.cols) { i, j in
            x[i, j] / max((0..<x.cols).reduce(0) { $0 + x[i, $1] * x[i, $1] }.squareRoot(), 1e-12)
        }
    }

    static func logSoftmaxRows(_ x: DMat) -> DMat {
        DMat(rows: x.rows, cols: x.cols) { i, j in
            let m = (0..<x.cols).map { x[i, $0] }.max()!
            return x[i, j] - m - Foundation.log((0..<x.cols).reduce(0) { $0 + Foundation.exp(x[i, $1] - m) })
        }
    }

    /// Two views of the same rows (two fields, each masked per row), normalised, then in-batch InfoNCE between them.
    @Test(arguments: [UInt64(1), 2, 3]) func maskedViewsInfoNCE(seed: UInt64) {
        var rng = RNG(seed: seed)
        let n = 4, widths = [3, 2], tau: Float = 0.3
        let masker = FieldMasker(kind: .rfm, fieldCount: 2, dropRate: 0, mutualInformation: [])
        let views = masker.masks(rows: n, rng: &rng)
        let fields = widths.map { randomMatrix(&rng, n, $0, awayFromZero: true) }
        func view(_ tape: Tape, _ v: [Variable], _ mask: Tensor) -> Variable {
            let parts = v.enumerated().map { k, x in x * tape.constant(Tensor(shape: [n, 1], data: (0..<n).map { mask[$0, k] })) }
            return tape.l2Normalize(tape.concatColumns(parts))
        }
        checkOp(fields, seed: seed, { tape, v in
            RetrievalLoss.inBatchSoftmax(tape, users: view(tape, v, views.first), items: view(tape, v, views.second),
                                         itemIds: (0..<n).map(Int32.init), temperature: tau)
        }, reference: { f in
            func refView(_ mask: Tensor) -> DMat {
                Self.normalizeRows(DMat(rows: n, cols: 5) { i, j in
                    j < 3 ? f[0][i, j] * Double(mask[i, 0]) : f[1][i, j - 3] * Double(mask[i, 1])
                })
            }
            let logits = (refView(views.first) * refView(views.second).t).map { $0 / Double(tau) }
            let lsm = Self.logSoftmaxRows(logits)
            return DMat(rows: 1, cols: 1, v: [-(0..<n).reduce(0) { $0 + lsm[$1, $1] } / Double(n)])
        })
    }

    /// ConCAT's swapped prediction with the assignments held fixed, against users, items and prototypes.
    @Test(arguments: [UInt64(1), 2, 3]) func swappedPrediction(seed: UInt64) {
        var rng = RNG(seed: seed)
        let n = 5, d = 3, k = 4, tau: Float = 0.5
        let inputs = [randomMatrix(&rng, n, d), randomMatrix(&rng, n, d), randomMatrix(&rng, k, d, awayFromZero: true)]
        // The codes come from the unperturbed scores, as in training (Sinkhorn passes no gradient).
        let probe = Tape()
        let c0 = probe.l2Normalize(probe.constant(inputs[2]))
        let codes = (user: Sinkhorn.assignments(scores: probe.matmul(probe.constant(inputs[0]), c0, transposeB: true).value, epsilon: 0.5, iterations: 3),
                     item: Sinkhorn.assignments(scores: probe.matmul(probe.constant(inputs[1]), c0, transposeB: true).value, epsilon: 0.5, iterations: 3))
        checkOp(inputs, seed: seed, { tape, v in
            let c = tape.l2Normalize(v[2])
            return PrototypeHead.swappedPrediction(tape, userScores: tape.matmul(v[0], c, transposeB: true),
                                                   itemScores: tape.matmul(v[1], c, transposeB: true), codes: codes, temperature: tau)
        }, reference: { x in
            let c = Self.normalizeRows(x[2])
            let lu = Self.logSoftmaxRows((x[0] * c.t).map { $0 / Double(tau) })
            let li = Self.logSoftmaxRows((x[1] * c.t).map { $0 / Double(tau) })
            var s = 0.0
            for i in 0..<n { for j in 0..<k { s += Double(codes.item[i, j]) * lu[i, j] + Double(codes.user[i, j]) * li[i, j] } }
            return DMat(rows: 1, cols: 1, v: [-0.5 * s / Double(n)])
        })
    }

    /// MoCo's compensation: the logits' value and the users' gradient are the plain product's; the items' gradient
    /// is scaled off the diagonal only.
    @Test func itemGradientCompensation() {
        var rng = RNG(seed: 9)
        let n = 4, d = 3, c: Float = 2.5
        let u = randomMatrix(&rng, n, d), v = randomMatrix(&rng, n, d), w = randomMatrix(&rng, n, n)
        let plain = Tape(), scaled = Tape()
        let pu = plain.constant(u), pv = plain.constant(v), su = scaled.constant(u), sv = scaled.constant(v)
        let a = plain.matmul(pu, pv, transposeB: true)
        let b = RetrievalLoss.scaledItemGradientProduct(scaled, su, sv, offDiagonal: c)
        #expect(a.value.isClose(to: b.value))
        let ga = plain.gradients(of: a, withRespectTo: [pu, pv], seed: w)
        let gb = scaled.gradients(of: b, withRespectTo: [su, sv], seed: w)
        #expect(ga[0].isClose(to: gb[0]))
        // d/dv_j of Σ w_ij u_i·v_j with off-diagonal terms weighted by c.
        var expected = Tensor(zeros: [n, d])
        for j in 0..<n { for i in 0..<n { for k in 0..<d { expected[j, k] += (i == j ? 1 : c) * w[i, j] * u[i, k] } } }
        #expect(gb[1].isClose(to: expected))
    }
}

/// ELSA's normalised squared error against a Float64 reference written from the paper's formula, and its gradient
/// with respect to the unnormalised factors against central differences.
@Suite struct ELSALossGradientTests {
    @Test(arguments: [UInt64(1), 2]) func elsaLoss(seed: UInt64) {
        var rng = RNG(seed: seed)
        let users = 4, items = 6, r = 3
        // Each user has 1–3 items.
        let x = CSRMatrix(rows: users, cols: items, coordinates: [(0, 0, 1), (0, 2, 1), (1, 1, 1), (2, 3, 1), (2, 4, 1), (2, 5, 1), (3, 0, 1), (3, 5, 1)])
        let a = randomMatrix(&rng, items, r, awayFromZero: true)
        checkOp([a], seed: seed, { tape, v in ELSA.loss(tape, rows: x, factors: v[0]) }, reference: { f in
            let hat = AuxiliaryLossGradientTests.normalizeRows(f[0])
            let dense = DMat(x.toDense())
            let predicted = (dense * hat) * hat.t
            var total = 0.0
            for u in 0..<users {
                let y = (0..<items).map { predicted[u, $0] - dense[u, $0] }
                let ny = y.reduce(0) { $0 + $1 * $1 }.squareRoot(), nx = (0..<items).reduce(0) { $0 + dense[u, $1] * dense[u, $1] }.squareRoot()
                total += (0..<items).reduce(0) { $0 + Foundation.pow(y[$1] / ny - dense[u, $1] / nx, 2) }
            }
            return DMat(rows: 1, cols: 1, v: [total / Double(users)])
        })
    }
}
