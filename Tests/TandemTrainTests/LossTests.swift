import Testing
import Foundation
import TandemTensor
import TandemAutograd
import TandemModels

@Suite struct LossTests {
    /// Two users, two items, dot products worked by hand.
    @Test func inBatchSoftmaxByHand() {
        let tape = Tape()
        let u = tape.constant(Tensor([[1, 0], [0, 1]])), v = tape.constant(Tensor([[2, 0], [1, 1]]))
        // Logits/τ (τ = 0.5): row 0 = [4, 2], row 1 = [0, 2]. Loss = mean(lse(row) − target).
        let loss = RetrievalLoss.inBatchSoftmax(tape, users: u, items: v, itemIds: [0, 1], temperature: 0.5, maskAccidentalHits: false)
        let expected = ((log(exp(4.0) + exp(2.0)) - 4) + (log(exp(0.0) + exp(2.0)) - 2)) / 2
        #expect(abs(Double(loss.value.data[0]) - expected) < 1e-5)
        // logQ: subtracting log q shifts each column; with q = [e², 1] the first column drops by 2.
        let t2 = Tape()
        let l2 = RetrievalLoss.inBatchSoftmax(t2, users: t2.constant(u.value), items: t2.constant(v.value), itemIds: [0, 1],
                                              temperature: 0.5, logQ: [2, 0], maskAccidentalHits: false)
        let expected2 = ((log(exp(2.0) + exp(2.0)) - 2) + (log(exp(-2.0) + exp(2.0)) - 2)) / 2
        #expect(abs(Double(l2.value.data[0]) - expected2) < 1e-5)
    }

    @Test func accidentalHitsAreMasked() {
        // The same item twice: each row must not count the other copy as a negative.
        let tape = Tape()
        let u = tape.constant(Tensor([[1, 0], [1, 0], [0, 1]])), v = tape.constant(Tensor([[1, 0], [1, 0], [0, 1]]))
        let loss = RetrievalLoss.inBatchSoftmax(tape, users: u, items: v, itemIds: [7, 7, 3], temperature: 1)
        // Rows 0, 1: logits over {own copy 1, item 3: 0}; row 2: [0, 0, 1].
        let r01 = log(exp(1.0) + exp(0.0)) - 1, r2 = log(2 + exp(1.0)) - 1
        #expect(abs(Double(loss.value.data[0]) - (2 * r01 + r2) / 3) < 1e-5)
    }

    @Test func bprAndBceByHand() {
        let tape = Tape()
        let u = tape.constant(Tensor([[1, 0]])), p = tape.constant(Tensor([[2, 0]])), n = tape.constant(Tensor([[1, 0], [-1, 0]]))
        let bpr = RetrievalLoss.bpr(tape, users: u, positives: p, negatives: n, perUser: 2, temperature: 1)
        // Δ = 2 − 1 and 2 − (−1): mean(log(1 + e^{−Δ})).
        #expect(abs(Double(bpr.value.data[0]) - (log(1 + exp(-1.0)) + log(1 + exp(-3.0))) / 2) < 1e-5)
        let bce = RetrievalLoss.bce(tape, users: u, positives: p, negatives: n, perUser: 2, temperature: 1)
        let expected = (log(1 + exp(-2.0)) + log(1 + exp(1.0)) + log(1 + exp(-1.0))) / 3
        #expect(abs(Double(bce.value.data[0]) - expected) < 1e-5)
    }
}
