import Testing
import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemEval
import TandemTrain
import TandemTestSupport

@Suite struct ConfigTests {
    @Test func defaultsThenYamlThenFlags() throws {
        let c = try TrainConfig.resolve(yaml: "model: mf\ntemperature: 0.3\nks: [5, 20]\n", overrides: ["temperature": "0.07", "logq": "false"])
        #expect(c.model == .mf && c.objective.temperature == 0.07 && c.evaluation.ks == [5, 20] && c.objective.logq == false)
        #expect(c.embeddingDim == 256 && c.training.learningRate == 0.003 && c.objective.similarity == .cosine)  // MF's own defaults underneath
    }

    @Test func unknownKeysListTheValidOnes() {
        do {
            _ = try TrainConfig.resolve(yaml: "modle: mf\n")
            Issue.record("an unknown key must fail")
        } catch let e as ConfigError {
            #expect(e.description.contains("unknown config key 'modle'"))
            #expect(e.description.contains("learning_rate") && e.description.contains("temperature"))
        } catch { Issue.record("unexpected \(error)") }
    }

    /// A bad value names the key (as the user spells it), the value, and what would be valid.
    @Test func badValueMessagesNameKeyValueAndChoices() {
        let number = #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["learning_rate": "abc"]) }
        #expect(number?.description == "config key 'learning_rate': expected a number, got 'abc'")
        let choice = #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["similarity": "euclid"]) }
        #expect(choice?.description == "config key 'similarity': 'euclid' is not one of dot, cosine")
        let list = #expect(throws: ConfigError.self) { try TrainConfig.resolve(yaml: "ks: ten\n") }
        #expect(list?.description.contains("config key 'ks'") == true)
        let split = #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["split": "random:0.5,0.1"]) }
        #expect(split?.description.contains("random[:a,b,c]") == true)
    }

    /// The config is one flat map of snake_case keys: it encodes to exactly `TrainConfig.keys` (unset optionals
    /// left out) and decodes back to itself, so config files and saved model directories keep their keys.
    @Test func configIsOneFlatMapOfTheKeys() throws {
        var c = TrainConfig.defaults(for: .twoTower)
        c.data.splitSeed = 7; c.data.ratingThreshold = 4; c.training.threads = 2; c.twoTower.historyHoldout = true
        c.outputs.output = "m"; c.outputs.results = "r.json"; c.outputs.checkpoint = "ck"; c.data.userFeatures = "u"; c.data.itemFeatures = "i"
        c.data.train = "a"; c.data.valid = "b"; c.data.test = "c"; c.data.dataDir = "d"; c.preset = "moco"
        c.data.userCore = 5; c.data.itemCore = 5; c.training.gatherNegatives = false
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = try encoder.encode(c)
        let map = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(map.keys) == Set(TrainConfig.keys))
        #expect(TrainConfig.keys.count == Set(TrainConfig.keys).count)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        #expect(try decoder.decode(TrainConfig.self, from: data) == c)
    }

    /// A config written before some keys existed (a model directory, a checkpoint, a claims run) still loads: each
    /// missing key takes its default, in the snake_case JSON of model directories and the camelCase JSON of runs.jsonl;
    /// keys present keep their values, optional ones included. In YAML and overrides a null key stays an error.
    @Test func configsWithoutNewerKeysLoad() throws {
        var c = TrainConfig.defaults(for: .twoTower)
        c.training.learningRate = 0.0123; c.twoTower.historyHoldout = true; c.data.splitSeed = 9_007_199_254_740_993  // 2^53 + 1
        for snake in [true, false] {
            let encoder = JSONEncoder()
            if snake { encoder.keyEncodingStrategy = .convertToSnakeCase }
            var map = try #require(try JSONSerialization.jsonObject(with: encoder.encode(c)) as? [String: Any])
            for key in ["uniformity_weight", "item_bias", "user_ssl_views", "history_crop", "eval_users"] {
                #expect(map.removeValue(forKey: snake ? key : ConfigTests.camelCase(key)) != nil, "\(key)")
            }
            let decoder = JSONDecoder()
            if snake { decoder.keyDecodingStrategy = .convertFromSnakeCase }
            let back = try decoder.decode(TrainConfig.self, from: JSONSerialization.data(withJSONObject: map))
            #expect(back == c, "snake_case \(snake)")
        }
        let null = #expect(throws: ConfigError.self) { try TrainConfig.resolve(yaml: "learning_rate: null\n") }
        #expect(null?.description.contains("learning_rate") == true)
    }

    static func camelCase(_ s: String) -> String {
        let parts = s.split(separator: "_")
        return String(parts[0]) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// Cut-offs other than the default and a validation metric at one of them resolve; a metric at a K not in ks is refused.
    @Test func otherCutOffsAndValidationMetrics() throws {
        let c = try TrainConfig.resolve(overrides: ["ks": "[10]", "valid_metric": "ndcg@10"])
        #expect(c.evaluation.ks == [10] && c.evaluation.validMetric == MetricAtK(.ndcg, 10))
        #expect(tableColumns(ks: [10]) == ["recall@10", "ndcg@10", "mrr@10", "recall@10/tail"])
        #expect(tableColumns(ks: [50, 10, 20]) == ["recall@10", "recall@20", "ndcg@10", "ndcg@20", "mrr@20", "recall@20/tail"])
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["ks": "[10]"]) }  // ndcg@20 needs 20
        #expect(NegativeSampling(parsing: "uniform+in_batch") == .mixed && NegativeSampling(parsing: "popularity+in_batch") == .inBatchPopularity)
    }

    /// Training data with no rows is refused before any epoch runs.
    @Test func emptyTrainingDataIsRefused() throws {
        var ds = SyntheticData(SyntheticConfig(users: 20, items: 10, interactions: 200, clusters: 2, seed: 1)).dataset()
        ds.split.train = ds.split.train.subset([])
        let e = #expect(throws: ConfigError.self) { try Trainer(config: TrainConfig.defaults(for: .mf), dataset: ds, log: { _ in }) }
        #expect(e?.description.contains("no training interactions") == true)
    }

    @Test func badValuesFailClearly() {
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["temperature": "hot"]) }
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["model": "gpt"]) }
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["valid_metric": "ndcg@7"]) }
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["train": "a.tsv"]) }
    }
}

@Suite struct SerializationTests {
    @Test func safetensorsRoundTripAndDamage() throws {
        let a = Tensor([[1, 2, 3], [4, 5, 6]]), b = Tensor(shape: [3], data: [7, 8, 9])
        let data = try SafeTensors.encode([("a", a), ("b", b)], metadata: ["k": "v"])
        let n = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect((8 + Int(n)) % 8 == 0)
        let back = try SafeTensors.decode(data, file: "w")
        #expect(back["a"] == a && back["b"] == b)
        #expect(throws: DataError.self) { try SafeTensors.decode(data.prefix(20), file: "w") }
        // Int32 vectors sit beside the floats; each reader takes its own kind.
        let mixed = try SafeTensors.encode([("a", a)], ints: [("ids", [3, -1, 2_000_000_000]), ("none", [])])
        #expect(try SafeTensors.decodeInts(mixed, file: "w") == ["ids": [3, -1, 2_000_000_000], "none": []])
        #expect(try SafeTensors.decode(mixed, file: "w") == ["a": a])
    }

    @Test func npyHeader() {
        let d = NPY.encode(Tensor([[1, 2], [3, 4]]))
        #expect(d.prefix(6) == Data([0x93]) + Data("NUMPY".utf8))
        let headerLen = Int(d[8]) | Int(d[9]) << 8
        #expect((10 + headerLen) % 64 == 0)
        #expect(String(decoding: d[10..<(10 + headerLen)], as: UTF8.self).contains("'shape': (2, 2)"))
        #expect(d.count == 10 + headerLen + 16)
    }
}

@Suite(.serialized) struct TrainingTests {
    static func smallData() -> Dataset {
        Fixtures.plantedClusters()
    }

    func config(_ model: ModelKind) throws -> TrainConfig {
        var c = try TrainConfig.resolve(overrides: ["model": model.rawValue])
        c.training.epochs = 15; c.training.batchSize = 256; c.training.learningRate = 0.02; c.evaluation.patience = 15; c.evaluation.ks = [10, 20]; c.embeddingDim = 16
        if model == .twoTower { c.twoTower.hidden = [32]; c.twoTower.fieldDim = 8 }
        return c
    }

    /// MF and the two-tower model must find the planted clusters: far better than popularity on held-out items.
    @Test(.tags(.endToEnd), arguments: [ModelKind.mf, .twoTower]) func learnsPlantedClustersBetterThanPopularity(model: ModelKind) throws {
        let ds = Self.smallData()
        let pop = try Trainer(config: config(.pop), dataset: ds, log: { _ in }).run()
        let report = try Trainer(config: config(model), dataset: ds, log: { _ in }).run()
        #expect(report.test["recall@20"]! > pop.test["recall@20"]! * 1.3, "\(model): \(report.test["recall@20"]!) vs pop \(pop.test["recall@20"]!)")
        #expect(report.bestEpoch > 0 && report.epochs.count >= report.bestEpoch)
    }

    @Test func bprAndBceTrainToo() throws {
        let ds = Self.smallData()
        let pop = try Trainer(config: config(.pop), dataset: ds, log: { _ in }).run()
        for loss in [LossKind.bpr, .bce] {
            var c = try config(.mf)
            c.objective.loss = loss; c.objective.negatives = 4; c.objective.similarity = .dot; c.objective.temperature = 1; c.training.learningRate = 0.01
            let r = try Trainer(config: c, dataset: ds, log: { _ in }).run()
            #expect(r.test["recall@20"]! > pop.test["recall@20"]!, "\(loss)")
        }
    }

    /// Every InfoNCE negative source trains a model that beats popularity on planted clusters.
    @Test(.tags(.endToEnd), arguments: [NegativeSampling.uniform, .popularity, .mixed, .inBatchPopularity, .all]) func negativeSamplersTrain(sampling: NegativeSampling) throws {
        let ds = Self.smallData()
        let pop = try Trainer(config: config(.pop), dataset: ds, log: { _ in }).run()
        var c = try config(.mf)
        c.objective.negativeSampling = sampling; c.objective.sampledNegatives = 64
        let r = try Trainer(config: c, dataset: ds, log: { _ in }).run()
        #expect(r.test["recall@20"]! > pop.test["recall@20"]!, "\(sampling): \(r.test["recall@20"]!) vs pop \(pop.test["recall@20"]!)")
    }

    @Test func negativeSamplingParsesAndRejectsUnknownNames() throws {
        #expect(NegativeSampling(parsing: "mixed") == NegativeSampling(parsing: "uniform+in_batch"))
        #expect(NegativeSampling(parsing: "in_batch")?.sampler == nil)
        #expect(NegativeSampling(parsing: "popularity")?.inBatch == false)
        for bad in ["", "random", "uniform+popularity", "in_batch+zipf"] { #expect(NegativeSampling(parsing: bad) == nil, "\(bad)") }
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["negative_sampling": "hard"]) }
        // Popularity draws follow count^α.
        let sampler = CatalogueSampler(.popularity, inBatch: false, count: 1, counts: [1, 0, 16], alpha: 0.5, logQ: nil)
        #expect(abs(sampler.probability(2) - 0.8) < 1e-6 && sampler.probability(1) == 0)
        var rng = RNG(seed: 1)
        let draws = (0..<20_000).map { _ in sampler.draw(&rng) }
        #expect(abs(Double(draws.filter { $0 == 2 }.count) / 20_000 - 0.8) < 0.02 && !draws.contains(1))
    }

    /// Logged negatives: label 0 wins over ratings; without labels, ratings ≤ the proxy's limit; those rows leave
    /// the positives; each row draws only its own user's logged items.
    @Test func loggedNegativesComeFromLabelsOrLowRatings() {
        let rated = Interactions(users: [0, 0, 1, 1, 2], items: [5, 6, 5, 7, 8], ratings: [5, 2, 1, 4, 3])
        let byRating = LoggedNegatives(train: rated, users: 3, enabled: true, maxRating: 2)
        #expect(byRating.positiveRows == [0, 3, 4] && byRating.byUser == [[6], [5], []] && byRating.count == 2)
        var labelled = rated
        labelled.labels = [1, 1, 1, 0, 0]
        let byLabel = LoggedNegatives(train: labelled, users: 3, enabled: true, maxRating: 2)
        #expect(byLabel.positiveRows == [0, 1, 2] && byLabel.byUser == [[], [7], [8]])
        #expect(LoggedNegatives(train: rated, users: 3, enabled: false, maxRating: 2).positiveRows == [0, 1, 2, 3, 4])
        var rng = RNG(seed: 4)
        #expect(byRating.draw(for: [0, 2, 1, 0], perRow: 2, rng: &rng) == [6, 6, 5, 5, 6, 6])
        #expect(NegativeSampling(parsing: "in_batch+logged")?.logged == true)
        for bad in ["logged", "uniform+logged", "in_batch+uniform+logged"] { #expect(NegativeSampling(parsing: bad) == nil, "\(bad)") }
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["negative_sampling": "in_batch+logged", "loss": "bpr"]) }
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["negative_sampling": "in_batch+logged", "model": "lightgcn"]) }
    }

    /// In-batch plus logged negatives trains on the positive rows only and still beats popularity (a fifth of the
    /// training rows marked as low-rated).
    @Test(.tags(.endToEnd)) func loggedNegativesTrain() throws {
        var ds = Self.smallData()
        var rng = RNG(seed: 9)
        ds.split.train.ratings = (0..<ds.split.train.count).map { _ in rng.uniform() < 0.2 ? 1 : 5 }
        let pop = try Trainer(config: config(.pop), dataset: ds, log: { _ in }).run()
        var c = try config(.mf)
        c.objective.negativeSampling = .inBatchLogged
        let trainer = try Trainer(config: c, dataset: ds, log: { _ in })
        let r = try trainer.run()
        let rows = trainer.loggedNegatives.positiveRows.count
        #expect(rows > ds.split.train.count * 7 / 10 && rows < ds.split.train.count * 9 / 10)
        #expect(r.test["recall@20"]! > pop.test["recall@20"]!, "\(r.test["recall@20"]!) vs pop \(pop.test["recall@20"]!)")
    }

    /// SENet re-weighting in both towers trains a two-tower model that beats popularity, and adds its parameters.
    @Test(.tags(.endToEnd)) func senetTowersTrain() throws {
        let ds = Self.smallData()
        let pop = try Trainer(config: config(.pop), dataset: ds, log: { _ in }).run()
        var c = try config(.twoTower)
        c.twoTower.senet = .both
        let trainer = try Trainer(config: c, dataset: ds, log: { _ in })
        let names = trainer.model.parameters.map(\.name)
        #expect(names.contains("user.senet.squeeze.weight") && names.contains("item.senet.excite.0.bias"))
        let r = try trainer.run()
        #expect(r.test["recall@20"]! > pop.test["recall@20"]!, "\(r.test["recall@20"]!) vs pop \(pop.test["recall@20"]!)")
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["senet": "tower"]) }
    }

    /// Behaviour pooling adds a `history` field to the user tower and still trains past popularity.
    @Test(.tags(.endToEnd)) func historyPoolingTrains() throws {
        let ds = Self.smallData()
        let pop = try Trainer(config: config(.pop), dataset: ds, log: { _ in }).run()
        var c = try config(.twoTower)
        c.twoTower.historyLength = 20
        let trainer = try Trainer(config: c, dataset: ds, log: { _ in })
        #expect(trainer.model.parameters.map(\.name).contains("user.history"))
        let r = try trainer.run()
        #expect(r.test["recall@20"]! > pop.test["recall@20"]!, "\(r.test["recall@20"]!) vs pop \(pop.test["recall@20"]!)")
    }

    /// A training row's own positive is left out of its user's history: holding out item a from history [a, b] gives
    /// exactly the embedding of a user whose history is [b]; an item not in the history changes nothing. History
    /// dropout acts on training tapes only.
    @Test func historyHoldsOutTheRowsPositive() {
        let items = IdMap(tokens: ["a", "b", "c"])
        // user 0: a, b; user 1: b; user 2: a, b, c (for dropout)
        let train = Interactions(users: [0, 0, 1, 2, 2, 2], items: [0, 1, 1, 0, 1, 2])
        let history = FeatureField.history(train: train, users: 3, itemIds: items, length: 10)
        #expect(history.isBehaviour)
        var rng = RNG(seed: 7)
        let tower = Tower("user", entities: 3, features: FeatureSet(fields: [history], entityCount: 3), idDim: 4, fieldDim: 4,
                          hidden: [], outputDim: 4, dropout: 0, useIds: false, rng: &rng)
        func embed(_ ids: [Int32], holdingOut: [Int32]?, training: Bool = false, seed: UInt64 = 0) -> [Float] {
            tower(Tape(training: training, seed: seed), ids, holdingOut: holdingOut).value.data
        }
        #expect(embed([0], holdingOut: [0]) == embed([1], holdingOut: nil))
        #expect(embed([0], holdingOut: [2]) == embed([0], holdingOut: nil))
        #expect(embed([0], holdingOut: [0]) != embed([0], holdingOut: nil))
        tower.behaviourDropout = 0.5
        let full = embed([2], holdingOut: nil)
        #expect(embed([2], holdingOut: nil, training: false) == full)  // inference pools every item
        let dropped = (0..<20).map { embed([2], holdingOut: nil, training: true, seed: $0) }
        #expect(dropped.contains { $0 != full } && dropped.contains { $0 == full })
    }

    /// An item bias is an inner product: the item vector ends in the item's bias, the user vector (cold-start ones too)
    /// in a 1, so every scorer and index computes u·v + b_i. Training moves the biases from zero; the self-supervised
    /// views leave them out; cosine similarity is refused.
    @Test func itemBiasIsTheLastColumnOfAnInnerProduct() throws {
        let ds = Self.smallData()
        var c = try config(.twoTower)
        c.twoTower.itemBias = true; c.objective.similarity = .dot; c.objective.temperature = 1; c.training.epochs = 2
        let trainer = try Trainer(config: c, dataset: ds, log: { _ in })
        let model = try #require(trainer.model as? TwoTower)
        let bias = try #require(model.itemTower.biasTable)
        #expect(bias.value.data.allSatisfy { $0 == 0 } && model.userTower.biasTable == nil)
        _ = try trainer.run()
        #expect(bias.value.data.contains { $0 != 0 })
        let tape = Tape(training: false)
        let u = model.userEmbeddings(tape, [0, 1]).value, v = model.itemEmbeddings(tape, [2, 5]).value
        #expect(u.shape == [2, 17] && v.shape == [2, 17])
        #expect(u.data[16] == 1 && u.data[33] == 1)
        #expect(v.data[16] == bias.value.data[2] && v.data[33] == bias.value.data[5])
        let cold = model.userTower.coldStart(tape, features: [:]).value
        #expect(cold.shape == [1, 17] && cold.data[16] == 1)
        #expect(model.userTower.spec.biasColumn == .ones && model.itemTower.spec.biasColumn == .learned)
        var rng = RNG(seed: 1)  // serving's rebuild of the saved user tower keeps the column of ones
        let spec = try JSONDecoder().decode(Tower.Spec.self, from: JSONEncoder().encode(model.userTower.spec))
        #expect(Tower(spec: spec, rng: &rng).coldStart(tape, features: [:]).value.data.last == 1)
        let views = try #require(model.itemSelfSupervision).loss(tape, tower: model.itemTower)
        #expect(views.value.data[0].isFinite)
        c.objective.similarity = .cosine
        let refused = #expect(throws: ConfigError.self) { try Trainer(config: c, dataset: ds, log: { _ in }) }
        #expect(refused?.description.contains("similarity dot") == true)
    }

    /// Book-Crossing is cut to its 10-core unless the run sets a core; other datasets keep every user and item.
    @Test func knownDatasetsBringTheirDefaultCore() throws {
        let bx = try TrainConfig.resolve(overrides: ["dataset": "book-crossing"]).data
        #expect(bx.feedback(dataset: "book-crossing") == FeedbackOptions(userCore: 10, itemCore: 10))
        let mine = try TrainConfig.resolve(overrides: ["dataset": "book-crossing", "user_core": "5"]).data
        #expect(mine.feedback(dataset: "book-crossing") == FeedbackOptions(userCore: 5, itemCore: 0))
        let off = try TrainConfig.resolve(overrides: ["dataset": "book-crossing", "item_core": "0"]).data
        #expect(off.feedback(dataset: "book-crossing") == FeedbackOptions(userCore: 0, itemCore: 0))
        #expect(TrainConfig().data.feedback(dataset: "ml-1m") == FeedbackOptions())
    }

    /// `feature_towers` gives side features to one tower only; the other stays an id embedding.
    @Test func featuresCanGoToOneTowerOnly() throws {
        let ds = Self.smallData()
        var c = try config(.twoTower)
        c.twoTower.featureTowers = .item
        let itemOnly = try #require(try Trainer(config: c, dataset: ds, log: { _ in }).model as? TwoTower)
        #expect(itemOnly.userTower.fields.isEmpty && !itemOnly.itemTower.fields.isEmpty)
        c.twoTower.featureTowers = .user
        let userOnly = try #require(try Trainer(config: c, dataset: ds, log: { _ in }).model as? TwoTower)
        #expect(!userOnly.userTower.fields.isEmpty && userOnly.itemTower.fields.isEmpty)
        c.twoTower.userIds = false
        c.twoTower.featureTowers = .item  // a user tower with neither ids, features nor history is refused
        #expect(throws: ConfigError.self) { try Trainer(config: c, dataset: ds, log: { _ in }) }
    }

    /// The hold-out follows `user_ids` unless set: with an id row it would leak the label through the difference.
    @Test func historyHoldoutDefaultsToTheTowerWithoutIds() throws {
        #expect(try TrainConfig.resolve(overrides: ["model": "two-tower"]).twoTower.holdsOutHistoryPositive == false)
        #expect(try TrainConfig.resolve(overrides: ["model": "two-tower", "user_ids": "false"]).twoTower.holdsOutHistoryPositive)
        #expect(try TrainConfig.resolve(overrides: ["model": "two-tower", "history_holdout": "true"]).twoTower.holdsOutHistoryPositive)
        #expect(try TrainConfig.resolve(overrides: ["model": "two-tower", "user_ids": "false", "history_holdout": "false"])
            .twoTower.holdsOutHistoryPositive == false)
    }

    /// A preset fills in its settings under the user's own, which win; an unknown name lists the presets.
    @Test func presetsFillInSettingsTheUserDidNotGive() throws {
        let moco = try TrainConfig.resolve(overrides: ["preset": "moco"])
        #expect(moco.model == .twoTower && moco.moco.queueSize == 1024 && moco.moco.momentum == 0.99 && moco.preset == "moco")
        #expect(moco.objective.temperature == TrainConfig.defaults(for: .twoTower).objective.temperature)  // the model's defaults underneath
        let mine = try TrainConfig.resolve(yaml: "queue_size: 256", overrides: ["preset": "moco", "model": "mf"])
        #expect(mine.model == .mf && mine.moco.queueSize == 256 && mine.moco.momentum == 0.99)
        let paper = try TrainConfig.resolve(overrides: ["preset": "paper-lightgcn"])
        #expect(paper.model == .lightgcn && paper.objective.loss == .bpr && paper.training.batchSize == 2048 && paper.objective.logq == false)
        for name in TrainConfig.presets.keys { #expect(throws: Never.self, "\(name)") { _ = try TrainConfig.resolve(preset: name) } }
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["preset": "turbo"]) }
        let unknown = #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["preset": "turbo"]) }
        #expect(unknown?.description.contains("moco") == true)
    }

    /// The queue keeps the newest `capacity` rows in arrival order, with their ids.
    @Test func embeddingQueueIsFIFO() {
        var q = EmbeddingQueue(capacity: 3, dimension: 2)
        #expect(q.contents.ids.isEmpty)
        q.enqueue(Tensor([[1, 1], [2, 2]]), ids: [10, 20])
        #expect(q.contents.ids == [10, 20] && q.contents.embeddings == Tensor([[1, 1], [2, 2]]))
        q.enqueue(Tensor([[3, 3], [4, 4]]), ids: [30, 40])
        #expect(q.count == 3 && q.contents.ids == [20, 30, 40])
        #expect(q.contents.embeddings == Tensor([[2, 2], [3, 3], [4, 4]]))
    }

    /// The momentum copy lags the live item parameters by m, is used only inside its own forward pass, and
    /// never touches user-side parameters.
    @Test func momentumEncoderTracksItemParameters() {
        var rng = RNG(seed: 2)
        let mf = MatrixFactorization(users: 2, items: 3, dim: 2, rng: &rng)
        let before = mf.items.value
        let encoder = MomentumEncoder(model: mf, momentum: 0.5)
        mf.items.value = Tensor(zeros: [3, 2])
        #expect(encoder.itemEmbeddings(mf, [0, 1, 2], normalize: false) == before)  // the copy, not the live table
        #expect(mf.items.value == Tensor(zeros: [3, 2]))                            // live values restored
        encoder.update()
        var half = before; half.scale(by: 0.5)
        #expect(encoder.itemEmbeddings(mf, [0, 1, 2], normalize: false).isClose(to: half))
        #expect(mf.itemParameters.map(\.name) == ["item.id"])
    }

    /// MoCo (momentum item tower, queue of past positives) trains a model that beats popularity; graph models and
    /// non-InfoNCE losses are refused with a message.
    @Test func mocoTrains() throws {
        let ds = Self.smallData()
        let pop = try Trainer(config: config(.pop), dataset: ds, log: { _ in }).run()
        var c = try config(.mf)
        c.moco.queueSize = 512; c.moco.momentum = 0.9
        let r = try Trainer(config: c, dataset: ds, log: { _ in }).run()
        #expect(r.test["recall@20"]! > pop.test["recall@20"]!)
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["model": "lightgcn", "queue_size": "1024"]) }
        #expect(throws: ConfigError.self) { try TrainConfig.resolve(overrides: ["loss": "bpr", "queue_size": "1024"]) }
    }

    @Test func nonFiniteLossStopsTrainingAndKeepsTheBestCheckpoint() throws {
        let ds = Self.smallData()
        var c = try config(.mf)
        // Weights overflow to ±inf within two steps, logits become inf − inf, the loss NaN. (At 1e15 the logits stay
        // finite, ~1e31, and so does the loss since cross-entropy shifts by the whole row's maximum.)
        c.objective.similarity = .dot; c.training.learningRate = 1e25
        var checkpoints: [[Tensor]] = []
        #expect(throws: NonFiniteLossError.self) {
            try Trainer(config: c, dataset: ds, log: { _ in }).run { model in checkpoints.append(model.parameters.map(\.value)) }
        }
        // Whatever was checkpointed before the failure is a finite model.
        #expect(checkpoints.allSatisfy { $0.allSatisfy(\.isFinite) })
    }

    @Test func popularityMatchesAnIndependentComputation() throws {
        let ds = Self.smallData()
        let r = try Trainer(config: config(.pop), dataset: ds, log: { _ in }).run()
        // Independent: rank items by training count (ties → lower index), drop train+valid items, recall@10.
        let counts = ds.split.train.itemCounts(items: ds.numItems)
        let order = counts.indices.sorted { counts[$0] > counts[$1] || (counts[$0] == counts[$1] && $0 < $1) }
        var seen = [Set<Int32>](repeating: [], count: ds.numUsers), truth = seen
        for (u, i) in zip(ds.split.train.users + ds.split.valid.users, ds.split.train.items + ds.split.valid.items) { seen[Int(u)].insert(i) }
        for (u, i) in zip(ds.split.test.users, ds.split.test.items) { truth[Int(u)].insert(i) }
        var total = 0.0, n = 0
        for u in 0..<ds.numUsers where !truth[u].isEmpty {
            let top = order.lazy.filter { !seen[u].contains(Int32($0)) }.prefix(10)
            total += Double(top.filter { truth[u].contains(Int32($0)) }.count) / Double(truth[u].count); n += 1
        }
        #expect(abs(r.test["recall@10"]! - total / Double(n)) < 1e-9)
    }

    @Test func modelDirectoryRoundTrip() throws {
        let dir = Fixtures.temporaryPath("model")
        let split = Fixtures.temporaryPath("split")
        let ds = Self.smallData()
        try ds.writeSplit(to: split)
        var c = try config(.mf)
        c.data.train = split + "/train.tsv"; c.data.valid = split + "/valid.tsv"; c.data.test = split + "/test.tsv"; c.training.epochs = 3
        let loaded = try c.loadDataset()
        let trainer = try Trainer(config: c, dataset: loaded, log: { _ in })
        let report = try trainer.run { try ModelStore.save($0, config: c, dataset: loaded, to: dir) }
        let (c2, ds2, model2) = try ModelStore.load(from: dir)
        #expect(c2 == c)
        let ev = EvaluationProtocol(ds2, ks: c.evaluation.ks)
        let u = model2.allEmbeddings(users: true, count: ds2.numUsers, normalize: true)
        let v = model2.allEmbeddings(users: false, count: ds2.numItems, normalize: true)
        #expect(abs(ev.test.evaluate(users: u, items: v)["ndcg@20"]! - report.test["ndcg@20"]!) < 1e-6)
        // The manifest says what wrote the model and how well it did.
        try ModelStore.recordResults(report, in: dir)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/manifest.json"))) as! [String: Any]
        #expect(manifest["tandem_version"] as? String == tandemVersion && manifest["model"] as? String == c.model.rawValue)
        #expect((manifest["test"] as? [String: Double])?["ndcg@20"] == report.test["ndcg@20"])
        // One flipped byte in the weights (same size, still valid safetensors framing) is caught by the checksum.
        var weights = try Data(contentsOf: URL(fileURLWithPath: dir + "/weights.safetensors"))
        weights[weights.count - 1] ^= 0x40
        try weights.write(to: URL(fileURLWithPath: dir + "/weights.safetensors"))
        let damaged = #expect(throws: DataError.self) { try ModelStore.load(from: dir) }
        #expect(damaged?.description.contains("damaged") == true)
        // A damaged weights file is named in the error.
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: dir + "/weights.safetensors"))
        #expect(throws: DataError.self) { try ModelStore.load(from: dir) }
        // So is a missing manifest.
        try FileManager.default.removeItem(atPath: dir + "/manifest.json")
        let missing = #expect(throws: DataError.self) { try ModelStore.load(from: dir) }
        #expect(missing?.description.contains("manifest.json") == true)
    }
}
