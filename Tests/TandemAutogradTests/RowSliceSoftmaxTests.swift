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
