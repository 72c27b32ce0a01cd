import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemEval

/// Training stopped because the loss stopped being a number.
public struct NonFiniteLossError: Error, CustomStringConvertible {
    public let epoch: Int
    public let batch: Int
    public let loss: Float
    public var description: String {
        "loss became \(loss) at epoch \(epoch), batch \(batch); training stopped. The best checkpoint so far is intact. " +
        "Try a lower learning_rate or a higher temperature."
    }
}

/// One epoch's progress.
public struct EpochSummary: Codable, Sendable {
    public let epoch: Int
    public let loss: Double
    public let seconds: Double
    public let examplesPerSecond: Double
    public let valid: [String: Double]?
}

/// What a run produced: metrics of the best epoch on validation and test, geometry, timings.
public struct RunReport: Codable, Sendable {
    public var model: String
    public var dataset: String
    public var config: TrainConfig
    public var valid: [String: Double]
    public var test: [String: Double]
    public var bestEpoch: Int
    public var epochs: [EpochSummary]
    public var trainSeconds: Double
    /// Alignment on test pairs; uniformity of item and user embeddings (Wang & Isola 2020).
    public var geometry: [String: Double]
}

/// Trains a retrieval model with early stopping on a validation metric, keeping the best parameters.
public final class Trainer {
    public let config: TrainConfig
    public let dataset: Dataset
    public let model: RetrievalModel?
    public let protocolEval: EvaluationProtocol
    private let log: (String) -> Void

    public init(config: TrainConfig, dataset: Dataset, log: @escaping (String) -> Void = { print($0) }) {
        self.config = config
        self.dataset = dataset
        self.model = config.makeModel(for: dataset)
        self.protocolEval = EvaluationProtocol(dataset, ks: config.ks)
        self.log = log
    }

    /// User and item embeddings as the evaluator scores them (normalised for cosine similarity).
    public func embeddings() -> (users: Tensor, items: Tensor) {
        guard let model else {
            let pop = Popularity(train: dataset.split.train, items: dataset.numItems)
            return (pop.userEmbeddings(count: dataset.numUsers), pop.itemEmbeddings)
        }
        let norm = config.similarity == .cosine
        return (model.allEmbeddings(users: true, count: dataset.numUsers, normalize: norm),
                model.allEmbeddings(users: false, count: dataset.numItems, normalize: norm))
    }

    /// Runs training (nothing to train for `pop`), restores the best epoch, and evaluates it.
    /// `onImprovement` is called with the model whenever validation improves (checkpointing).
    public func run(onImprovement: (RetrievalModel) throws -> Void = { _ in }) throws -> RunReport {
        let start = Date()
        var epochs: [EpochSummary] = []
        var bestEpoch = 0
        if let model {
            if let twoTower = model as? TwoTower {
                for (side, tower, task) in [("user", twoTower.userTower, twoTower.userSelfSupervision), ("item", twoTower.itemTower, twoTower.itemSelfSupervision)]
                    where [side, "both"].contains(config.ssl) && task == nil {
                    throw ConfigError("ssl \(config.ssl): the \(side) tower has \(tower.fieldCount) field(s); two views need at least two (give \(side) features)")
                }
            }
            if let graph = model as? GraphModel, graph.variant == .sgl(.am), !graph.hasFeatures {
                throw ConfigError("augmentation am masks node side features, but \(dataset.name) has no user or item features\(config.useFeatures ? "" : " in use (use_features is false)")")
            }
            let (metricName, k) = try config.parsedValidMetric()
            let key = "\(metricName)@\(k)"
            if config.prototypes > 0 {
                var protoRNG = RNG(seed: config.seed &+ 0x5157_4156)
                prototypeHead = PrototypeHead(count: config.prototypes, dim: config.embeddingDim, temperature: config.prototypeTemperature,
                                              epsilon: config.sinkhornEpsilon, iterations: config.sinkhornIterations, rng: &protoRNG)
            }
            let trained = model.parameters + (prototypeHead?.parameters ?? [])
            let optimizer = Optimizer(config.optimizer, parameters: trained, learningRate: config.learningRate,
                                      weightDecay: config.weightDecay)
            var best = -Double.infinity
            var bestValues: [Tensor] = trained.map(\.value)
            var sinceBest = 0
            var rng = RNG(seed: config.seed)
            let train = dataset.split.train
            let seen = train.matrix(users: dataset.numUsers, items: dataset.numItems)
            let counts = train.itemCounts(items: dataset.numItems)
            let logQ = counts.map { Float(Foundation.log(Double(max($0, 1)) / Double(train.count))) }
            if config.queueSize > 0 {
                let encoder = MomentumEncoder(model: model, momentum: config.momentum)
                let dim = encoder.itemEmbeddings(model, [0], normalize: false).cols
                moco = (encoder, EmbeddingQueue(capacity: config.queueSize, dimension: dim))
            }
            let rows = loggedNegatives.positiveRows
            for epoch in 1...max(1, config.epochs) where config.epochs > 0 {
                let t0 = Date()
                var order = rows
                rng.shuffle(&order)
                model.beginEpoch()
                var lossSum = 0.0, batches = 0
                var b = 0
                while b < order.count {
                    let batch = Array(order[b..<min(order.count, b + config.batchSize)])
                    b += config.batchSize
                    if batch.count < 2 { continue }
                    let tape = Tape(training: true, seed: rng.next())
                    let loss = lossOnBatch(model, tape, users: batch.map { train.users[$0] }, items: batch.map { train.items[$0] },
                                           logQ: logQ, seen: seen, rng: &rng)
                    let value = loss.value.data[0]
                    guard value.isFinite else { throw NonFiniteLossError(epoch: epoch, batch: batches + 1, loss: value) }
                    optimizer.update(tape.backward(loss))
                    if let keys = pendingKeys {
                        moco?.encoder.update()
                        moco?.queue.enqueue(keys.embeddings, ids: keys.ids)
                    }
                    lossSum += Double(value); batches += 1
                }
                let seconds = Date().timeIntervalSince(t0)
                var validMetrics: [String: Double]?
                if epoch % config.evalEvery == 0 || epoch == config.epochs {
                    let (u, v) = embeddings()
                    let m = protocolEval.valid.evaluate(users: u, items: v)
                    validMetrics = m
                    if m[key]! > best {
                        best = m[key]!; bestEpoch = epoch; sinceBest = 0
                        bestValues = trained.map(\.value)
                        try onImprovement(model)
                    } else {
                        sinceBest += 1
                    }
                }
                let summary = EpochSummary(epoch: epoch, loss: lossSum / Double(max(1, batches)), seconds: seconds,
                                           examplesPerSecond: Double(rows.count) / max(seconds, 1e-9), valid: validMetrics)
                epochs.append(summary)
                log(String(format: "epoch %3d  loss %.4f  %7.0f ex/s  %.3fs", epoch, summary.loss, summary.examplesPerSecond, seconds)
                    + (validMetrics.map { String(format: "  valid %@ %.4f  recall@20 %.4f", key, $0[key]!, $0["recall@20"] ?? .nan) } ?? "")
                    + (validMetrics != nil && bestEpoch == epoch ? " *" : ""))
                if sinceBest >= config.patience {
                    log("early stop: no \(key) improvement in \(config.patience) evaluations; best epoch \(bestEpoch)")
                    break
                }
            }
            for (p, v) in zip(trained, bestValues) { p.value = v }
        }
        let (u, v) = embeddings()
        let validM = protocolEval.valid.evaluate(users: u, items: v)
        let testM = protocolEval.test.evaluate(users: u, items: v)
        var geometry: [String: Double] = [
            "alignment": Geometry.alignment(users: u, items: v, pairs: protocolEval.testPairs),
            "uniformity_items": Geometry.uniformity(v),
            "uniformity_users": Geometry.uniformity(u),
        ]
        if let head = prototypeHead {
            // Collapse check: how many prototypes are some item's (user's) nearest.
            geometry["prototypes_used_items"] = Double(head.prototypesInUse(v))
            geometry["prototypes_used_users"] = Double(head.prototypesInUse(u))
            log("prototypes in use: \(Int(geometry["prototypes_used_items"]!)) of \(config.prototypes) by items, \(Int(geometry["prototypes_used_users"]!)) by users")
        }
        return RunReport(model: config.model.rawValue, dataset: dataset.name, config: config, valid: validM, test: testM,
                         bestEpoch: bestEpoch, epochs: epochs, trainSeconds: Date().timeIntervalSince(start), geometry: geometry)
    }

    /// The configured loss on one batch of (user, positive item) pairs.
    func lossOnBatch(_ model: RetrievalModel, _ tape: Tape, users: [Int32], items: [Int32], logQ: [Float], seen: CSRMatrix,
                     rng: inout RNG) -> Variable {
        let norm = config.similarity == .cosine
        func embed(_ v: Variable) -> Variable { norm ? tape.l2Normalize(v) : v }
        let u = embed(model.userEmbeddings(tape, users, positives: items))
        let v = embed(model.itemEmbeddings(tape, items))
        var negs: [Int32] = []
        let main: Variable
        switch config.loss {
        case .infonce:
            let sampling = config.parsedNegativeSampling
            if let m = moco {
                // MoCo: this batch's positives through the momentum copy go into the queue after the step; the queue's
                // past positives are extra negatives now, the row's own item masked wherever it sits in the queue.
                // Queued columns are not logQ-corrected unless `queue_logq` (measured: correcting them hurts, see
                // docs/BENCHMARKS.md).
                pendingKeys = (m.encoder.itemEmbeddings(model, items, normalize: norm), items)
                let (queued, queuedIds) = m.queue.contents
                main = RetrievalLoss.sampledSoftmax(tape, users: u, positives: v, itemIds: items,
                                                    sampled: queuedIds.isEmpty ? nil : tape.constant(queued), sampledIds: queuedIds,
                                                    inBatch: true, temperature: config.temperature,
                                                    logQ: config.logq ? { logQ[Int($0)] } : nil,
                                                    sampledLogQ: config.queueLogq ? .none : .some(nil),
                                                    inBatchItemGradientScale: config.queueCompensation
                                                        ? Float(items.count + queuedIds.count) / Float(items.count) : 1)
            } else if sampling.logged {
                // Each row draws its own user's logged negatives; every column is shared by the whole softmax, and a
                // column equal to a row's positive is masked. Logged columns are not logQ-corrected: they are not drawn
                // from a catalogue distribution.
                let drawn = loggedNegatives.draw(for: users, perRow: config.loggedPerRow, rng: &rng)
                main = RetrievalLoss.sampledSoftmax(tape, users: u, positives: v, itemIds: items,
                                                    sampled: drawn.isEmpty ? nil : embed(model.itemEmbeddings(tape, drawn)), sampledIds: drawn,
                                                    inBatch: true, temperature: config.temperature,
                                                    logQ: config.logq ? { logQ[Int($0)] } : nil, sampledLogQ: .some(nil))
            } else if let sampler = sampling.sampler {
                let drawn = (0..<config.sampledNegatives).map { _ in negativeSampler.draw(sampler, &rng) }
                let b = Float(sampling.inBatch ? items.count : 0), nDrawn = Float(drawn.count)
                // Expected count of item j among the candidates: B·p_train(j) in-batch plus N·q_sampler(j) drawn.
                let correction: ((Int32) -> Float)? = config.logq ? { j in
                    Foundation.log(b * Foundation.exp(logQ[Int(j)]) + nDrawn * self.negativeSampler.probability(sampler, j))
                } : nil
                main = RetrievalLoss.sampledSoftmax(tape, users: u, positives: v, itemIds: items, sampled: embed(model.itemEmbeddings(tape, drawn)),
                                                    sampledIds: drawn, inBatch: sampling.inBatch, temperature: config.temperature,
                                                    logQ: correction)
            } else {
                main = RetrievalLoss.inBatchSoftmax(tape, users: u, items: v, itemIds: items, temperature: config.temperature,
                                                    logQ: config.logq ? items.map { logQ[Int($0)] } : nil,
                                                    maskAccidentalHits: config.maskAccidentalHits)
            }
        case .bpr, .bce:
            let k = config.negatives
            negs.reserveCapacity(users.count * k)
            for user in users {
                let known = seen.columns(ofRow: Int(user))
                for _ in 0..<k {
                    var j = Int32(rng.int(below: dataset.numItems))
                    var tries = 0
                    while known.sortedContains(j) && tries < 10 { j = Int32(rng.int(below: dataset.numItems)); tries += 1 }
                    negs.append(j)
                }
            }
            let n = embed(model.itemEmbeddings(tape, negs))
            main = config.loss == .bpr
                ? RetrievalLoss.bpr(tape, users: u, positives: v, negatives: n, perUser: k, temperature: config.temperature)
                : RetrievalLoss.bce(tape, users: u, positives: v, negatives: n, perUser: k, temperature: config.temperature)
        }
        var total = main
        if let head = prototypeHead {
            // ConCAT: swapped prediction between each user and its positive item (unit vectors whatever the similarity).
            let clusters = head.loss(tape, users: norm ? u : tape.l2Normalize(u), items: norm ? v : tape.l2Normalize(v))
            total = total + tape.scale(clusters, config.prototypeWeight)
        }
        if let aux = model.auxiliaryLoss(tape, users: users, items: items, negatives: negs) { total = total + aux }
        return total
    }

    /// ConCAT's prototypes (`prototypes` > 0), trained with the model.
    var prototypeHead: PrototypeHead?

    /// MoCo's momentum item encoder and negative queue (`queue_size` > 0), and the keys waiting to be enqueued.
    var moco: (encoder: MomentumEncoder, queue: EmbeddingQueue)?
    var pendingKeys: (embeddings: Tensor, ids: [Int32])?

    /// The training rows that are logged negatives (`in_batch+logged`), by user, and the rows trained as positives.
    public private(set) lazy var loggedNegatives = LoggedNegatives(train: dataset.split.train, users: dataset.numUsers,
                                               enabled: config.parsedNegativeSampling.logged, maxRating: config.loggedMaxRating)

    /// Global negative samplers over the catalogue (uniform, and ∝ training count^α).
    lazy var negativeSampler = NegativeSampler(counts: dataset.split.train.itemCounts(items: dataset.numItems), alpha: config.popularityAlpha)
}

/// Draws items for the `uniform` and `popularity` negative samplers and knows each item's draw probability (for logQ).
public struct NegativeSampler {
    let items: Int
    let popularity: AliasTable
    let popularityProbability: [Float]

    public init(counts: [Int], alpha: Float) {
        items = counts.count
        let weights = counts.map { Foundation.pow(Double($0), Double(alpha)) }
        let total = weights.reduce(0, +)
        // An empty training log leaves nothing to weight by: fall back to uniform.
        let w = total > 0 ? weights : [Double](repeating: 1, count: counts.count)
        popularity = AliasTable(w)
        let sum = w.reduce(0, +)
        popularityProbability = w.map { Float($0 / sum) }
    }

    public func draw(_ sampler: NegativeSampling.Sampler, _ rng: inout RNG) -> Int32 {
        switch sampler {
        case .uniform: return Int32(rng.int(below: items))
        case .popularity: return Int32(popularity.sample(&rng))
        }
    }

    public func probability(_ sampler: NegativeSampling.Sampler, _ item: Int32) -> Float {
        switch sampler {
        case .uniform: return 1 / Float(items)
        case .popularity: return popularityProbability[Int(item)]
        }
    }
}

/// Logged "shown but not clicked" negatives read from the training split: rows with label 0, or (no label column)
/// rating ≤ `maxRating`, grouped by user. Those rows are not trained as positives.
public struct LoggedNegatives {
    /// Training rows used as positives (every row when logged negatives are off).
    public let positiveRows: [Int]
    /// Logged negative items of each user.
    public let byUser: [[Int32]]

    public init(train: Interactions, users: Int, enabled: Bool, maxRating: Float) {
        var byUser = [[Int32]](repeating: [], count: users)
        guard enabled else { positiveRows = Array(0..<train.count); self.byUser = byUser; return }
        var positives: [Int] = []
        for p in 0..<train.count {
            let negative = train.labels.map { $0[p] == 0 } ?? train.ratings.map { $0[p] <= maxRating } ?? false
            if negative { byUser[Int(train.users[p])].append(train.items[p]) } else { positives.append(p) }
        }
        positiveRows = positives
        self.byUser = byUser
    }

    /// Number of logged negative rows.
    public var count: Int { byUser.reduce(0) { $0 + $1.count } }

    /// `perRow` logged items of each row's user, drawn with replacement (none for a user without logged negatives).
    public func draw(for users: [Int32], perRow: Int, rng: inout RNG) -> [Int32] {
        var out: [Int32] = []
        for u in users {
            let own = byUser[Int(u)]
            if own.isEmpty { continue }
            for _ in 0..<perRow { out.append(own[rng.int(below: own.count)]) }
        }
        return out
    }
}
