import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemEval
import TandemDistributed

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
    /// Item uniformity at this epoch's evaluation (Wang & Isola; lower is more uniform); nil when not evaluated.
    public var uniformityItems: Double? = nil
    /// Seconds of the epoch's training spent in collective calls (data-parallel runs only).
    public var communicationSeconds: Double? = nil

    public init(epoch: Int, loss: Double, seconds: Double, examplesPerSecond: Double, valid: [String: Double]?,
                uniformityItems: Double? = nil, communicationSeconds: Double? = nil) {
        self.epoch = epoch; self.loss = loss; self.seconds = seconds; self.examplesPerSecond = examplesPerSecond; self.valid = valid
        self.uniformityItems = uniformityItems; self.communicationSeconds = communicationSeconds
    }
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
    /// What a closed-form model chose on validation (EASE: `lambda`); nil for models trained by gradient steps.
    public var fitted: [String: Double]? = nil

    public init(model: String, dataset: String, config: TrainConfig, valid: [String: Double], test: [String: Double], bestEpoch: Int,
                epochs: [EpochSummary], trainSeconds: Double, geometry: [String: Double], fitted: [String: Double]? = nil) {
        self.model = model; self.dataset = dataset; self.config = config; self.valid = valid; self.test = test; self.bestEpoch = bestEpoch
        self.epochs = epochs; self.trainSeconds = trainSeconds; self.geometry = geometry; self.fitted = fitted
    }
}

/// Trains a retrieval model with early stopping on a validation metric, keeping the best parameters.
///
/// A step: embed the batch's users and positives → the sampler's negatives → the main loss → plus every auxiliary
/// objective → backward → optimiser step.
public final class Trainer {
    public let config: TrainConfig
    public let dataset: Dataset
    public let model: RetrievalModel
    public let protocolEval: EvaluationProtocol
    /// Where each batch's negatives come from (`SamplerRegistry`).
    public let sampler: NegativeSampler
    /// Terms added to the main loss, in order: ConCAT's prototypes (when on), then the model's own terms.
    public let objectives: [AuxiliaryObjective]
    /// The training rows that are logged negatives (`in_batch+logged`), by user, and the rows trained as positives.
    public let loggedNegatives: LoggedNegatives
    /// log p_train(item), the logQ correction of in-batch columns.
    let itemLogQ: ItemLogProbabilities
    /// The ranks this run trains on (one, unless started under MPI).
    public let communicator: Communicator
    /// How each batch is spread over the ranks: the whole batch here, or a data-parallel share.
    let partition: BatchPartition
    /// The data-parallel partition (nil in one process): it also splits evaluation by users and checks the ranks agree.
    let parallel: DataParallel?
    private let log: (String) -> Void
    /// A checkpoint to continue from (`tandem train --resume`): set before `run`.
    public var resumeFrom: TrainingCheckpoint?
    /// Called after each checkpoint is written (tests stop a run there, as a kill would).
    var afterCheckpoint: ((TrainingProgress) throws -> Void)?

    /// `communicator`: the ranks to train on; with more than one, each takes a share of every batch (`DataParallel`),
    /// and every rank must be given the same config and data (checked here).
    public init(config: TrainConfig, dataset: Dataset, communicator: Communicator = LocalCommunicator(),
                log: @escaping (String) -> Void = { print($0) }) throws {
        guard dataset.split.train.count > 0 else {
            throw ConfigError("\(dataset.name) has no training interactions (after the split, k-core and rating filters): nothing to train on")
        }
        self.config = config
        self.dataset = dataset
        self.communicator = communicator
        if communicator.size > 1 {
            try communicator.requireSame(try DataParallel.fingerprint(config), "config")
            try communicator.requireSame(DataParallel.fingerprint(dataset.split.train), "training data")
        }
        self.model = try ModelRegistry.make(config, dataset: dataset)
        self.protocolEval = config.evaluationProtocol(dataset)
        self.log = log
        let o = config.objective
        loggedNegatives = LoggedNegatives(train: dataset.split.train, users: dataset.numUsers, enabled: o.negativeSampling.logged,
                                          maxRating: o.loggedMaxRating)
        itemLogQ = ItemLogProbabilities(train: dataset.split.train, items: dataset.numItems)
        sampler = try SamplerRegistry.choice(for: config).make(SamplerContext(config: config, dataset: dataset, model: model,
                                                                              logged: loggedNegatives, logQ: o.logq ? itemLogQ : nil))
        var objectives: [AuxiliaryObjective] = []
        if config.concat.prototypes > 0 {
            objectives.append(PrototypeObjective(config.concat, dim: config.embeddingDim, normalized: o.similarity == .cosine,
                                                 seed: config.seed))
        }
        if o.itemConstraintWeight > 0 {
            objectives.append(ItemConstraintObjective(model: model, train: dataset.split.train.matrix(users: dataset.numUsers, items: dataset.numItems),
                                                      neighbours: o.itemConstraintNeighbours, weight: o.itemConstraintWeight,
                                                      temperature: o.temperature, normalized: o.similarity == .cosine))
        }
        objectives.append(ModelTermsObjective(model))
        self.objectives = objectives
        if communicator.size > 1 {
            // The one rule for data parallelism: every sampler and objective says whether it can run on a share of the batch.
            let limits = ([config.model.descriptor.dataParallel ? nil : "model \(config.model)", sampler.dataParallelLimit,
                           config.objective.loss == .directau ? "loss directau (its uniformity is over the whole batch)" : nil]
                          + objectives.map(\.dataParallelLimit)).compactMap { $0 }
            guard limits.isEmpty else { throw ConfigError("data-parallel training does not support \(limits.joined(separator: " or ")) yet") }
            parallel = DataParallel(comm: communicator, parameters: model.parameters + objectives.flatMap(\.parameters),
                                    gatherNegatives: config.training.gatherNegatives ?? true)
        } else {
            parallel = nil
        }
        partition = parallel ?? WholeBatch()
    }

    /// Every parameter training moves: the model's, then each objective's own.
    var trainedParameters: [Parameter] { model.parameters + objectives.flatMap(\.parameters) }

    /// User and item embeddings as the evaluator scores them (normalised for cosine similarity).
    public func embeddings() -> (users: Tensor, items: Tensor) {
        ModelStore.scoredEmbeddings(model, config: config, dataset: dataset)
    }

    /// Runs training (nothing to train for a model without parameters, such as `pop`), restores the best epoch, and
    /// evaluates it. `onImprovement` is called with the model whenever validation improves (checkpointing).
    /// `evaluating` false (speed benchmarks): every epoch trains, nothing is evaluated, the last parameters are kept,
    /// and the report has timings only. `testing` false (a search's trial): validation metrics only, no test metrics
    /// or geometry are computed.
    public func run(evaluating: Bool = true, testing: Bool = true, onImprovement: (RetrievalModel) throws -> Void = { _ in }) throws -> RunReport {
        let start = Date()
        var epochs: [EpochSummary] = [], bestEpoch = 0
        var fitted: [String: Double]?
        if !model.trainsByGradient {
            let key = config.evaluation.validMetric.description
            fitted = try model.fit(validate: {
                protocolEval.valid.evaluate(ModelStore.scorer(model, config: config, dataset: dataset))[key] ?? -.infinity
            }, log: log)
        } else if !trainedParameters.isEmpty {
            (epochs, bestEpoch) = try trainByGradient(evaluating: evaluating, onImprovement: onImprovement)
        }
        guard evaluating else {
            return RunReport(model: config.model.rawValue, dataset: dataset.name, config: config, valid: [:], test: [:], bestEpoch: 0,
                             epochs: epochs, trainSeconds: Date().timeIntervalSince(start), geometry: [:])
        }
        guard testing else {
            let scorer = ModelStore.scorer(model, config: config, dataset: dataset)
            return RunReport(model: config.model.rawValue, dataset: dataset.name, config: config, valid: try evaluate(protocolEval.valid, scorer),
                             test: [:], bestEpoch: bestEpoch, epochs: epochs, trainSeconds: Date().timeIntervalSince(start), geometry: [:],
                             fitted: fitted)
        }
        return try finalReport(epochs: epochs, bestEpoch: bestEpoch, fitted: fitted, start: start)
    }

    /// Epochs of steps with early stopping on the validation metric; the best epoch's parameters are restored. With
    /// `outputs.checkpoint` set, the run's whole state is written there on `CheckpointSchedule`'s terms; with
    /// `resumeFrom`, the run continues from that state as if it had never stopped.
    func trainByGradient(evaluating: Bool, onImprovement: (RetrievalModel) throws -> Void) throws -> (epochs: [EpochSummary], best: Int) {
        let trained = trainedParameters
        let t = config.training, key = config.evaluation.validMetric.description
        let optimizer = Optimizer(t.optimizer, parameters: trained, learningRate: t.learningRate, weightDecay: t.weightDecay)
        var loop = LoopState(progress: TrainingProgress(), rng: RNG(seed: config.seed), epochRNG: RNG(seed: config.seed))
        var bestValues: [Tensor] = evaluating ? trained.map(\.value) : []  // without evaluation no copy is kept
        if let resumeFrom {
            loop = try restore(resumeFrom, optimizer: optimizer, bestValues: &bestValues)
            let p = loop.progress
            log("resumed: \(p.completedEpochs) epoch(s) done" + (p.rowsDone > 0 ? ", \(p.rowsDone) rows into epoch \(p.completedEpochs + 1)" : "")
                + (p.finished ? "; the run had ended" : ""))
        }
        // Only rank 0 writes: every rank holds the same state.
        var schedule = communicator.isRoot ? CheckpointSchedule(config.outputs) : nil
        func save(_ loop: LoopState) throws {
            guard let dir = schedule?.directory else { return }
            try checkpoint(loop, optimizer: optimizer, bestValues: bestValues).write(to: dir)
            schedule?.wrote()
            try afterCheckpoint?(loop.progress)
        }
        while !loop.progress.finished && loop.progress.completedEpochs < t.epochs {
            let epoch = loop.progress.completedEpochs + 1
            let loss = try trainEpoch(epoch, optimizer: optimizer, loop: &loop) { l in
                if schedule?.dueBetweenSteps == true { try save(l) }
            }
            var p = loop.progress
            let seconds = p.epochSeconds
            let communication = parallel?.takeCommunicationSeconds()
            try parallel?.checkParametersAgree(epoch: epoch)
            var validMetrics: [String: Double]?, uniformity: Double?
            if evaluating && (epoch % config.evaluation.evalEvery == 0 || epoch == t.epochs) {
                let (u, v) = embeddings()
                let m = try evaluate(protocolEval.valid, EmbeddingScorer(users: u, items: v))
                validMetrics = m
                uniformity = Geometry.uniformity(withoutScoreBias(v))
                // Under data parallelism every rank evaluates the same parameters; rank 0's value decides.
                let value = try parallel?.rootValue(m[key]!) ?? m[key]!
                if value > (p.best ?? -.infinity) {
                    p.best = value; p.bestEpoch = epoch; p.sinceBest = 0
                    bestValues = trained.map(\.value)
                    // A saved model scores held-out items as cold start does: their own rows contribute nothing.
                    if let cold = protocolEval.cold { model.forgetItems(cold.items) }
                    try onImprovement(model)
                } else {
                    p.sinceBest += 1
                }
            }
            let rows = loggedNegatives.positiveRows.count
            let summary = EpochSummary(epoch: epoch, loss: loss, seconds: seconds, examplesPerSecond: Double(rows) / max(seconds, 1e-9),
                                       valid: validMetrics, uniformityItems: uniformity, communicationSeconds: communication)
            p.epochs.append(summary)
            log(String(format: "epoch %3d  loss %.4f  %7.0f ex/s  %.3fs", epoch, summary.loss, summary.examplesPerSecond, seconds)
                + (communication.map { String(format: " (%.0f%% communication)", 100 * $0 / max(seconds, 1e-9)) } ?? "")
                + (validMetrics.map { String(format: "  valid %@ %.4f  recall@20 %.4f", key, $0[key]!, $0["recall@20"] ?? .nan) } ?? "")
                + (validMetrics != nil && p.bestEpoch == epoch ? " *" : ""))
            if p.sinceBest >= config.evaluation.patience {
                log("early stop: no \(key) improvement in \(config.evaluation.patience) evaluations; best epoch \(p.bestEpoch)")
                p.finished = true
            }
            p.completedEpochs = epoch
            p.finished = p.finished || epoch == t.epochs
            p.rowsDone = 0; p.lossSum = 0; p.batches = 0; p.epochSeconds = 0
            loop.progress = p
            if p.finished || epoch % (schedule?.every ?? 1) == 0 || schedule?.dueBetweenSteps == true { try save(loop) }
        }
        if evaluating { for (p, v) in zip(trained, bestValues) { p.value = v } }
        return (loop.progress.epochs, loop.progress.bestEpoch)
    }

    /// What the training loop carries from step to step besides the components' state: where the run stands, the
    /// generator, and the generator as it was when the epoch in progress began (its shuffle is redrawn from it).
    struct LoopState {
        var progress: TrainingProgress
        var rng: RNG
        var epochRNG: RNG
    }

    /// The run's whole state at a step boundary.
    func checkpoint(_ loop: LoopState, optimizer: Optimizer, bestValues: [Tensor]) -> TrainingCheckpoint {
        var s = TrainingState()
        for (i, p) in trainedParameters.enumerated() { s.tensors["param.\(i)"] = p.value }
        for (i, v) in bestValues.enumerated() { s.tensors["best.\(i)"] = v }
        optimizer.save(&s, prefix: "optimizer.")
        s.set("rng", loop.rng)
        s.set("rng.epoch", loop.epochRNG)
        model.saveTrainingState(&s, prefix: "model.")
        sampler.saveTrainingState(&s, prefix: "sampler.")
        return TrainingCheckpoint(config: config, progress: loop.progress, state: s)
    }

    /// Puts a checkpoint's state into this trainer's model, optimiser and sampler; returns the loop's state.
    func restore(_ c: TrainingCheckpoint, optimizer: Optimizer, bestValues: inout [Tensor]) throws -> LoopState {
        let differ = try TrainingCheckpoint.differences(c.config, config)
        guard differ.isEmpty else {
            throw ConfigError("the checkpoint was written by a run with other settings (\(differ.joined(separator: ", "))); resume with the same settings")
        }
        let s = c.state
        for (i, p) in trainedParameters.enumerated() { p.value = try s.tensor("param.\(i)", shape: p.value.shape) }
        if !bestValues.isEmpty {
            bestValues = try trainedParameters.indices.map { try s.tensor("best.\($0)", shape: trainedParameters[$0].value.shape) }
        }
        try optimizer.restore(s, prefix: "optimizer.")
        try model.restoreTrainingState(s, prefix: "model.")
        try sampler.restoreTrainingState(s, prefix: "sampler.")
        return LoopState(progress: c.progress, rng: try s.rng("rng"), epochRNG: try s.rng("rng.epoch"))
    }

    /// Steps over the training rows in the epoch's shuffled order, one `step` per batch, from `loop.progress.rowsDone`
    /// on (a resumed epoch redraws its order from `loop.epochRNG`); `between` is called after every step (checkpoints).
    /// Returns the epoch's mean batch loss; `loop.progress` holds its sums and seconds.
    func trainEpoch(_ epoch: Int, optimizer: Optimizer, loop: inout LoopState, between: (LoopState) throws -> Void = { _ in }) throws -> Double {
        let train = dataset.split.train, t = config.training
        let t0 = Date(), priorSeconds = loop.progress.epochSeconds
        var order = loggedNegatives.positiveRows
        if loop.progress.rowsDone == 0 {
            loop.epochRNG = loop.rng
            loop.rng.shuffle(&order)
            model.beginEpoch()
        } else {
            // Resumed mid-epoch: the same order, and the model already holds this epoch's state (restored).
            var r = loop.epochRNG
            r.shuffle(&order)
        }
        var b = loop.progress.rowsDone
        while b < order.count {
            let slice = order[b..<min(order.count, b + t.batchSize)]
            b += t.batchSize
            if slice.count < max(2, partition.ranks) { continue }
            let tape = Tape(training: true, seed: loop.rng.next())
            let batch = TrainingBatch(users: slice.map { train.users[Int($0)] }, items: slice.map { train.items[Int($0)] })
            let (gradients, value) = try step(tape, batch, rng: &loop.rng)
            guard value.isFinite else { throw NonFiniteLossError(epoch: epoch, batch: loop.progress.batches + 1, loss: value) }
            optimizer.update(gradients)
            sampler.afterStep()
            loop.progress.lossSum += Double(value); loop.progress.batches += 1
            loop.progress.rowsDone = min(b, order.count)
            loop.progress.epochSeconds = priorSeconds + Date().timeIntervalSince(t0)
            if b < order.count { try between(loop) }
        }
        loop.progress.epochSeconds = priorSeconds + Date().timeIntervalSince(t0)
        return loop.progress.lossSum / Double(max(1, loop.progress.batches))
    }

    /// Scored vectors without the model's item score bias column (the users' 1s, the items' biases): alignment and
    /// uniformity are properties of the embeddings, not of the scores.
    func withoutScoreBias(_ t: Tensor) -> Tensor {
        guard model.hasItemScoreBias else { return t }
        let d = t.cols - 1
        var out = Tensor(uninitialized: [t.rows, d])
        for r in 0..<t.rows { for j in 0..<d { out.data[r * d + j] = t.data[r * t.cols + j] } }
        return out
    }

    /// Validation and test metrics of the trained model, its geometry, and the cold-start and prototype figures.
    /// The geometry is left out for a model that is not scored by its embeddings (ItemKNN, sparse EASE).
    func finalReport(epochs: [EpochSummary], bestEpoch: Int, fitted: [String: Double]?, start: Date) throws -> RunReport {
        let scorer = ModelStore.scorer(model, config: config, dataset: dataset)
        let validM = try evaluate(protocolEval.valid, scorer)
        var testM = try evaluate(protocolEval.test, scorer)
        var geometry: [String: Double] = [:]
        let embeddings = (scorer as? EmbeddingScorer).map { ($0.users, $0.items) }
        if let (u, v) = embeddings {
            let (gu, gv) = (withoutScoreBias(u), withoutScoreBias(v))
            geometry = [
                "alignment": Geometry.alignment(users: gu, items: gv, pairs: protocolEval.testPairs),
                "uniformity_items": Geometry.uniformity(gv),
                "uniformity_users": Geometry.uniformity(gu),
                "hard_negative_share@10": Geometry.hardNegativeShare(users: u, items: v, known: protocolEval.valid.excluded,
                                                                    temperature: Double(config.objective.temperature)),
            ]
        }
        if let cold = protocolEval.cold {
            // Last, since it zeroes the cold items' own rows (the model keeps them zero from here on).
            testM.merge(cold.evaluate(model, users: dataset.numUsers, items: dataset.numItems,
                                      normalize: config.objective.similarity == .cosine)) { $1 }
        }
        if let head = objectives.lazy.compactMap({ ($0 as? PrototypeObjective)?.head }).first, let (u, v) = embeddings {
            // Collapse check: how many prototypes are some item's (user's) nearest.
            geometry["prototypes_used_items"] = Double(head.prototypesInUse(v))
            geometry["prototypes_used_users"] = Double(head.prototypesInUse(u))
            log("prototypes in use: \(Int(geometry["prototypes_used_items"]!)) of \(config.concat.prototypes) by items, \(Int(geometry["prototypes_used_users"]!)) by users")
        }
        return RunReport(model: config.model.rawValue, dataset: dataset.name, config: config, valid: validM, test: testM,
                         bestEpoch: bestEpoch, epochs: epochs, trainSeconds: Date().timeIntervalSince(start), geometry: geometry,
                         fitted: fitted)
    }

    /// Full-ranking metrics, split by users across the ranks under data parallelism.
    func evaluate(_ e: FullRankingEvaluator, _ scorer: UserItemScorer) throws -> [String: Double] {
        try parallel?.evaluate(e, scorer) ?? e.evaluate(scorer)
    }
}
