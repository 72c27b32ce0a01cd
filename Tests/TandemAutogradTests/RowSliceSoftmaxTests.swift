import Testing
import Foundation
import TandemTensor
import TandemAutograd
import TandemModels

/// The in-batch softmax over a slice of the rows against every column (`rowOffset`): what one rank computes under
/// data-parallel training with the batch's items gathered from every rank.
@Suite struct RowSliceSoftmaxTests {
    static let ids: [Int32] = [4, 7, 4, 1, 9, 7]  // items 4 and 7 repeat: accidental hits to mask
    static let logQ: [Float] = [-1.0, -2.0, -1.0, -0.5, -3.0, -2.0]

    /// Rows 2..<5 of a 6-row batch: Float64 reference of the masked, logQ-corrected cross-entropy and finite differences.
    @Test func sliceAgainstAllColumns() {
        var rng = RNG(seed: 7)
        let n = 6, d = 3, offset = 2, rows = 3, tau: Float = 0.5
        checkOp([randomMatrix(&rng, rows, d), randomMatrix(&rng, n, d)], { tape, v in
            RetrievalLoss.inBatchSoftmax(tape, users: v[0], items: v[1], itemIds: Self.ids, temperature: tau, logQ: Self.logQ,
                                         rowOffset: offset)
        }, reference: { m in
            let u = m[0], items = m[1]
            var total = 0.0
            for i in 0..<rows {
                let target = offset + i
                let logits = (0..<n).map { j in
                    (0..<d).reduce(0.0) { $0 + u[i, $1] * items[j, $1] } / Double(tau) - Double(Self.logQ[j])
                }
                let kept = (0..<n).filter { $0 == target || Self.ids[$0] != Self.ids[target] }
                let mx = kept.map { logits[$0] }.max()!
                total += mx + Foundation.log(kept.reduce(0.0) { $0 + Foundation.exp(logits[$1] - mx) }) - logits[target]
            }
            return DMat(rows: 1, cols: 1, v: [total / Double(rows)])
        })
    }

    /// Shares of the rows, each scaled by share/B, sum to the whole batch's loss, and their gradients with respect to
    /// the users and the (gathered) items sum to the whole batch's: the identity data-parallel training rests on.
    @Test(arguments: [2, 3, 4]) func sharesSumToTheBatch(ranks: Int) {
        var rng = RNG(seed: UInt64(ranks))
        let n = 6, d = 3
        let users = randomMatrix(&rng, n, d), items = randomMatrix(&rng, n, d)
        func loss(_ rows: Range<Int>) -> (Float, Tensor, Tensor) {
            let tape = Tape()
            let u = tape.constant(Tensor(shape: [rows.count, d], data: Array(users.data[(rows.lowerBound * d)..<(rows.upperBound * d)])))
            let v = tape.constant(items)
            let l = tape.scale(RetrievalLoss.inBatchSoftmax(tape, users: u, items: v, itemIds: Self.ids, temperature: 0.2,
                                                            logQ: Self.logQ, rowOffset: rows.lowerBound), Float(rows.count) / Float(n))
            let g = tape.gradients(of: l, withRespectTo: [u, v])
            return (l.value.data[0], g[0], g[1])
        }
        let (whole, gu, gv) = loss(0..<n)
        var sum: Float = 0, su: [Float] = [], sv = [Float](repeating: 0, count: n * d)
        for r in 0..<ranks {
            let base = n / ranks, extra = n % ranks, start = r * base + min(r, extra)
            let (l, u, v) = loss(start..<(start + base + (r < extra ? 1 : 0)))
            sum += l; su += u.data
            for k in sv.indices { sv[k] += v.data[k] }
        }
        #expect(abs(sum - whole) < 1e-5)
        #expect(zip(su, gu.data).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(zip(sv, gv.data).allSatisfy { abs($0 - $1) < 1e-5 })
    }
}

/// A backward pass paused at a constant: what `resume` returns joins the pass, as if a second pass had been seeded
/// with it (data-parallel training pauses at the gathered item rows).
@Suite struct PausedBackwardTests {
    @Test func resumedGradientsJoinThePass() {
        var rng = RNG(seed: 11)
        let users = Parameter("u", randomMatrix(&rng, 5, 3), sparse: true), items = Parameter("i", randomMatrix(&rng, 5, 3), sparse: true)
        let extra = randomMatrix(&rng, 2, 3)
        func grads(paused: Bool) -> (Tensor, Tensor, Tensor) {
            let tape = Tape()
            let u = tape.l2Normalize(tape.embedding(users, rows: [0, 1, 2]))
            let v = tape.l2Normalize(tape.embedding(items, rows: [3, 4]))
            let gathered = tape.constant(randomMatrixFixed())
            let loss = RetrievalLoss.inBatchSoftmax(tape, users: u, items: gathered, itemIds: [9, 8, 7, 6], temperature: 0.5, rowOffset: 1)
            var seen = Tensor(zeros: [1])
            let g: Gradients
            if paused {
                g = tape.backward(loss, pausingAt: gathered) { rows in seen = rows; return [(v, extra)] }
            } else {
                var both = tape.backward(loss)
                let second = tape.backward(v, seed: extra)
                both.setSparse(items, second.coalescedRows(of: items)!)
                seen = tape.gradients(of: loss, withRespectTo: [gathered])[0]
                g = both
            }
            return (g.denseGradient(of: users)!, g.denseGradient(of: items)!, seen)
        }
        let (pu, pi, ps) = grads(paused: true), (fu, fi, fs) = grads(paused: false)
        #expect(zip(pu.data, fu.data).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(zip(pi.data, fi.data).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(ps.shape == [4, 3] && zip(ps.data, fs.data).allSatisfy { abs($0 - $1) < 1e-6 })
    }
}

/// Four fixed rows (the same on every call).
func randomMatrixFixed() -> Tensor {
    var rng = RNG(seed: 99)
    return randomMatrix(&rng, 4, 3)
}
