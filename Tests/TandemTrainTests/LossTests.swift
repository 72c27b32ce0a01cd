import Testing
import Foundation
import TandemTensor
import TandemAutograd
import TandemModels
import TandemData
import TandemTrain

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

    /// Excluded entries that dwarf the rest of their row (here by 500 nats) are dropped exactly: the row is redone
    /// shifted by the kept entries' maximum instead of underflowing to log(0).
    @Test func excludedEntriesThatDwarfTheRowAreDroppedExactly() {
        let t = Tape()
        let logits = t.constant(Tensor([[0, 500, 1], [2, 0, 600]]))
        let l = t.crossEntropy(logits: logits, targets: [0, 1], excluding: [(0, 1), (1, 2)])
        let expected = ((log(exp(0.0) + exp(1.0)) - 0) + (log(exp(2.0) + exp(0.0)) - 0)) / 2
        #expect(abs(Double(l.value.data[0]) - expected) < 1e-5)
        let g = t.gradients(of: l, withRespectTo: [logits])[0]
        #expect(g.isFinite && g[0, 1] == 0 && g[1, 2] == 0)
    }

    /// Alignment alone by hand: row dots 1 and 0, mean 0.5, over τ 0.5, negated: −1. Its gradient on each user row is
    /// −positive / (n τ): [−1, 0] for both users.
    @Test func alignmentByHand() {
        let tape = Tape()
        let users = Parameter("u", Tensor([[1, 0], [0, 1]]))
        let u = tape.parameter(users), v = tape.constant(Tensor([[1, 0], [1, 0]]))
        let loss = RetrievalLoss.alignment(tape, users: u, positives: v, temperature: 0.5)
        #expect(abs(loss.value.data[0] + 1) < 1e-6)
        #expect(tape.backward(loss).denseGradient(of: users)?.data == [-1, 0, -1, 0])
    }

    /// DirectAU by hand: users [1,0], [0,1] against positives [1,0], [1,0]: alignment mean(2 − 2·(1, 0)) = 1; the users'
    /// uniformity log e^{4·0−4} = −4; the positives' (identical rows) log e⁰ = 0; with γ 1: 1 + (−4 + 0)/2 = −1. Its
    /// gradient through the normalisation matches central differences on random rows.
    @Test func directAUByHand() {
        let tape = Tape()
        let loss = RetrievalLoss.directAU(tape, users: tape.constant(Tensor([[1, 0], [0, 1]])), positives: tape.constant(Tensor([[1, 0], [1, 0]])),
                                          uniformityWeight: 1)
        #expect(abs(loss.value.data[0] + 1) < 1e-5, "\(loss.value.data[0])")
        var rng = RNG(seed: 8)
        let x = [rng.normalTensor(shape: [4, 3], std: 1), rng.normalTensor(shape: [4, 3], std: 1)]
        func value(_ x: [Tensor]) -> (Float, [Tensor]) {
            let t = Tape()
            let vars = x.map { t.constant($0) }
            let l = RetrievalLoss.directAU(t, users: t.l2Normalize(vars[0]), positives: t.l2Normalize(vars[1]), uniformityWeight: 0.7)
            return (l.value.data[0], t.gradients(of: l, withRespectTo: vars))
        }
        let (_, grads) = value(x)
        for k in 0..<2 {
            for e in 0..<x[k].count {
                var plus = x, minus = x
                plus[k].data[e] += 1e-2; minus[k].data[e] -= 1e-2
                let numeric = (value(plus).0 - value(minus).0) / 2e-2
                #expect(abs(numeric - grads[k].data[e]) < 3e-3, "input \(k) element \(e): \(numeric) vs \(grads[k].data[e])")
            }
        }
    }

    /// Negatives keep embeddings uniform: trained with alignment alone, MF's items crowd together (uniformity far
    /// higher) and ranking suffers, against the in-batch softmax on the same data. Dot similarity is refused.
    @Test(.tags(.endToEnd)) func withoutNegativesEmbeddingsCollapse() throws {
        let ds = TrainingTests.smallData()
        var reports: [LossKind: RunReport] = [:]
        for loss in [LossKind.infonce, .alignment] {
            var c = try TrainConfig.resolve(overrides: ["model": "mf", "loss": loss.rawValue, "epochs": "8", "batch_size": "256",
                                                        "embedding_dim": "16", "ks": "[10, 20]", "learning_rate": "0.02"])
            c.data.dataset = nil
            reports[loss] = try Trainer(config: c, dataset: ds, log: { _ in }).run()
        }
        let with = reports[.infonce]!, without = reports[.alignment]!
        #expect(without.geometry["uniformity_items"]! > with.geometry["uniformity_items"]! + 0.5, "\(with.geometry) \(without.geometry)")
        #expect(without.test["ndcg@20"]! < with.test["ndcg@20"]!)
        #expect(with.epochs.compactMap(\.uniformityItems).count == with.epochs.count)  // measured at every evaluation
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["loss": "alignment", "similarity": "dot"]) }
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

    /// Sampled softmax by hand: in-batch plus shared sampled negatives (mixed), and sampled negatives alone, with
    /// logQ per item id and the positive's own id masked wherever it is drawn.
    @Test func sampledSoftmaxByHand() {
        let u = Tensor([[1, 0], [0, 1]]), v = Tensor([[2, 0], [1, 1]]), s = Tensor([[0, 3], [2, 0]])
        let q: [Int32: Float] = [0: 1, 1: 0, 5: 0.5]
        func lse(_ xs: [Double]) -> Double { log(xs.map(exp).reduce(0, +)) }
        // Mixed: columns [item 0, item 1 | item 5, item 0]; τ = 1. Row 0 (target col 0): [2, 1, 0, 2] − logQ [1, 0, .5, 1],
        // the sampled copy of item 0 masked. Row 1 (target col 1): [0, 1, 3, 0] − logQ.
        let t = Tape()
        let mixed = RetrievalLoss.sampledSoftmax(t, users: t.constant(u), positives: t.constant(v), itemIds: [0, 1],
                                                 sampled: t.constant(s), sampledIds: [5, 0], inBatch: true, temperature: 1,
                                                 logQ: { q[$0]! })
        let row0 = lse([2 - 1, 1 - 0, 0 - 0.5]) - (2 - 1)
        let row1 = lse([0 - 1, 1 - 0, 3 - 0.5, 0 - 1]) - (1 - 0)
        #expect(abs(Double(mixed.value.data[0]) - (row0 + row1) / 2) < 1e-5)
        // The same with the sampled columns left uncorrected (MoCo's queue by default).
        let t5 = Tape()
        let uncorrected = RetrievalLoss.sampledSoftmax(t5, users: t5.constant(u), positives: t5.constant(v), itemIds: [0, 1],
                                                       sampled: t5.constant(s), sampledIds: [5, 0], inBatch: true, temperature: 1,
                                                       logQ: { q[$0]! }, sampledLogQ: .some(nil))
        let u0 = lse([2 - 1, 1 - 0, 0]) - (2 - 1), u1 = lse([0 - 1, 1 - 0, 3, 0]) - (1 - 0)
        #expect(abs(Double(uncorrected.value.data[0]) - (u0 + u1) / 2) < 1e-5)
        // Sampled only: columns [own positive | item 5, item 0]; row 0's positive is item 0, so its sampled copy is masked.
        let t2 = Tape()
        let only = RetrievalLoss.sampledSoftmax(t2, users: t2.constant(u), positives: t2.constant(v), itemIds: [0, 1],
                                                sampled: t2.constant(s), sampledIds: [5, 0], inBatch: false, temperature: 1,
                                                logQ: { q[$0]! })
        let r0 = lse([2 - 1, 0 - 0.5]) - (2 - 1)
        let r1 = lse([1 - 0, 3 - 0.5, 0 - 1]) - (1 - 0)
        #expect(abs(Double(only.value.data[0]) - (r0 + r1) / 2) < 1e-5)
        // In-batch only equals the original in-batch softmax.
        let t3 = Tape(), t4 = Tape()
        let a = RetrievalLoss.sampledSoftmax(t3, users: t3.constant(u), positives: t3.constant(v), itemIds: [0, 1], sampled: nil,
                                             sampledIds: [], inBatch: true, temperature: 0.5, logQ: { q[$0]! })
        let b = RetrievalLoss.inBatchSoftmax(t4, users: t4.constant(u), items: t4.constant(v), itemIds: [0, 1], temperature: 0.5, logQ: [1, 0])
        #expect(abs(a.value.data[0] - b.value.data[0]) < 1e-6)
    }

    /// The gradient of the sampled softmax with respect to users, positives and sampled rows matches central
    /// differences of the loss itself (Float32, step 1e-2; each op inside is checked against Float64 in GradientTests).
    @Test func sampledSoftmaxGradient() {
        var rng = RNG(seed: 5)
        let u = rng.normalTensor(shape: [3, 4], std: 1), v = rng.normalTensor(shape: [3, 4], std: 1), s = rng.normalTensor(shape: [2, 4], std: 1)
        let ids: [Int32] = [0, 1, 2], sids: [Int32] = [2, 7]
        // Each row's own (mined) column; row 1's holds its own positive, so it is masked for that row.
        let mined = rng.normalTensor(shape: [3, 4], std: 1), minedIds: [[Int32]] = [[5, 1, 9]]
        for inBatch in [true, false] {
            func loss(_ x: [Tensor]) -> (Float, [Tensor]) {
                let t = Tape()
                let vars = x.map { t.constant($0) }
                let l = RetrievalLoss.sampledSoftmax(t, users: vars[0], positives: vars[1], itemIds: ids, sampled: vars[2], sampledIds: sids,
                                                     inBatch: inBatch, temperature: 0.7, logQ: { Float($0) * 0.1 },
                                                     rowColumns: [vars[3]], rowColumnIds: minedIds)
                return (l.value.data[0], t.gradients(of: l, withRespectTo: vars))
            }
            let x = [u, v, s, mined]
            let (_, grads) = loss(x)
            for (k, t) in x.enumerated() {
                for e in 0..<t.count {
                    var plus = x, minus = x
                    plus[k].data[e] += 1e-2; minus[k].data[e] -= 1e-2
                    let numeric = (loss(plus).0 - loss(minus).0) / 2e-2
                    #expect(abs(numeric - grads[k].data[e]) < 2e-3, "inBatch \(inBatch) input \(k) element \(e)")
                }
            }
        }
    }
}

@Suite struct FullCatalogueTests {
    /// The full-catalogue columns give each row the exact softmax over every item: −log(e^{s_pos} / Σ_j e^{s_j}),
    /// averaged over rows, against a Float64 reference; the positive counts once.
    @Test func fullSoftmaxIsTheExactSoftmaxOverEveryItem() throws {
        var rng = RNG(seed: 12)
        let users = rng.normalTensor(shape: [3, 4], std: 1), items = rng.normalTensor(shape: [5, 4], std: 1)
        let positives: [Int32] = [4, 0, 4]
        let sampler = try FullCatalogueSampler(items: 5, batchSize: 3)
        let tape = Tape()
        let u = tape.constant(users), all = tape.constant(items)
        var dummy = RNG(seed: 0)
        guard case .catalogue(let columns) = sampler.negatives(for: TrainingBatch(users: [0, 1, 2], items: positives), tape: tape,
                                                                embed: { ids in #expect(ids == [0, 1, 2, 3, 4]); return all }, rng: &dummy)
        else { Issue.record("expected the whole catalogue"); return }
        let loss = RetrievalLoss.fullSoftmax(tape, users: u, catalogue: columns, targets: positives, temperature: 0.5)
        // The same softmax written as "positive column + every item with the positive's own column masked".
        let masked = RetrievalLoss.sampledSoftmax(tape, users: u, positives: tape.constant(items.gatherRows(positives)), itemIds: positives,
                                                  sampled: all, sampledIds: [0, 1, 2, 3, 4], inBatch: false, temperature: 0.5)
        #expect(abs(loss.value.data[0] - masked.value.data[0]) < 1e-5)
        var expected = 0.0
        for r in 0..<3 {
            let scores = (0..<5).map { j in (0..<4).reduce(0.0) { $0 + Double(users[r, $1]) * Double(items[j, $1]) } / 0.5 }
            let logSum = Foundation.log(scores.map { Foundation.exp($0) }.reduce(0, +))
            expected += logSum - scores[Int(positives[r])]
        }
        #expect(abs(Double(loss.value.data[0]) - expected / 3) < 1e-4)
        #expect(throws: ConfigError.self) { try FullCatalogueSampler(items: 1_000_000, batchSize: 1024) }
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["negative_sampling": "all", "loss": "bpr"]) }
    }
}
