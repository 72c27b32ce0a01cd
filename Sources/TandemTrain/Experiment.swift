import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemEval

extension TrainConfig {
    /// Loads (and, for known datasets, fetches) the data this config names, and splits it.
    public func loadDataset(log: (String) -> Void = { _ in }) throws -> Dataset {
        let dataset = try loadFullDataset(log: log).keepingTrainingFraction(trainFraction, seed: splitSeed ?? seed)
        if model == .twoTower && !userIds && historyLength == 0 && (!useFeatures || dataset.userFeatures == nil) {
            throw ConfigError("user_ids false leaves the user tower without inputs: give user features or history_length > 0")
        }
        return dataset
    }

    func loadFullDataset(log: (String) -> Void) throws -> Dataset {
        if let train, let valid, let test {
            return try Dataset.loadPreSplit(train: train, valid: valid, test: test, userFeatures: userFeatures, itemFeatures: itemFeatures)
        }
        guard let name = dataset else { throw ConfigError("no dataset given") }
        let method = SplitMethod(parsing: split)!
        let feedback = FeedbackOptions(ratingThreshold: ratingThreshold, userCore: userCore, itemCore: itemCore)
        let splitSeed = self.splitSeed ?? seed
        if name == "synthetic" || name.hasPrefix("synthetic:") {
            return try SyntheticConfig(parsing: name).map { SyntheticData($0).dataset(split: method, seed: splitSeed) }
                ?? { throw ConfigError("dataset '\(name)': expected synthetic[:users=N,items=N,interactions=N,clusters=N,seed=N]") }()
        }
        if let known = KnownDataset(rawValue: name) {
            let dir = try DatasetFetcher.fetch(known, cacheRoot: dataDir ?? KnownDataset.cacheRoot, log: log)
            return try Dataset.loadAtomic(directory: dir, name: known.rawValue, feedback: feedback, split: method, seed: splitSeed,
                                          userColumns: known.userColumns, itemColumns: known.itemColumns)
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: name, isDirectory: &isDir), isDir.boolValue else {
            throw ConfigError("dataset '\(name)' is neither a known dataset (\(KnownDataset.allCases.map(\.rawValue).joined(separator: ", "))) nor a directory of atomic files")
        }
        let base = (name as NSString).lastPathComponent
        return try Dataset.loadAtomic(directory: name, name: base, feedback: feedback, split: method, seed: splitSeed)
    }

    /// A freshly initialised model for `dataset` (nil for `pop`, which has no parameters).
    public func makeModel(for dataset: Dataset) -> RetrievalModel? {
        var rng = RNG(seed: seed &* 0x9E37_79B9 &+ 1)
        switch model {
        case .pop:
            return nil
        case .mf:
            return MatrixFactorization(users: dataset.numUsers, items: dataset.numItems, dim: embeddingDim, rng: &rng)
        case .twoTower:
            var userFeatures = useFeatures ? dataset.userFeatures : nil
            if historyLength > 0 {
                let history = FeatureField.history(train: dataset.split.train, users: dataset.numUsers, itemIds: dataset.itemIds, length: historyLength)
                userFeatures = FeatureSet(fields: (userFeatures?.fields ?? []) + [history], entityCount: dataset.numUsers)
            }
            let user = Tower("user", entities: dataset.numUsers, features: userFeatures, idDim: embeddingDim,
                             fieldDim: fieldDim, hidden: hidden, outputDim: embeddingDim, dropout: dropout, useIds: userIds,
                             senetReduction: ["user", "both"].contains(senet) ? senetReduction : nil, rng: &rng)
            let item = Tower("item", entities: dataset.numItems, features: useFeatures ? dataset.itemFeatures : nil, idDim: embeddingDim,
                             fieldDim: fieldDim, hidden: hidden, outputDim: embeddingDim, dropout: dropout,
                             senetReduction: ["item", "both"].contains(senet) ? senetReduction : nil, rng: &rng)
            let model = TwoTower(userTower: user, itemTower: item)
            model.holdsOutPositives = holdsOutHistoryPositive
            func task(_ tower: Tower, entities: Int) -> SelfSupervisedTask? {
                guard tower.fieldCount >= 2 else { return nil }
                let mi = sslAugmentation == .cfm
                    ? FieldMasker.mutualInformation(fields: tower.fields, entities: entities, includesId: tower.idTable != nil) : []
                let masker = FieldMasker(kind: sslAugmentation, fieldCount: tower.fieldCount, dropRate: sslDropRate, mutualInformation: mi)
                return SelfSupervisedTask(masker: masker, entities: entities, batchSize: sslBatchSize > 0 ? sslBatchSize : batchSize,
                                          temperature: sslTemperature, weight: sslWeight)
            }
            if ["user", "both"].contains(ssl) { model.userSelfSupervision = task(user, entities: dataset.numUsers) }
            if ["item", "both", "auto"].contains(ssl) { model.itemSelfSupervision = task(item, entities: dataset.numItems) }
            return model
        case .lightgcn, .sgl, .simgcl, .xsimgcl:
            var settings = GraphModel.Settings()
            settings.layers = layers; settings.regularization = graphReg; settings.clWeight = clWeight
            settings.clTemperature = clTemperature; settings.noise = noiseEps; settings.dropRatio = dropRatio; settings.clLayer = clLayer
            let variant: GraphModel.Variant
            switch model {
            case .sgl: variant = .sgl(GraphModel.SGLAugmentation(rawValue: augmentation) ?? .ed)
            case .simgcl: variant = .simGCL
            case .xsimgcl: variant = .xSimGCL
            default: variant = .lightGCN
            }
            let graph = BipartiteGraph(train: dataset.split.train, users: dataset.numUsers, items: dataset.numItems)
            // Side features enter a graph model only for the view that masks them (SGL `am`): LightGCN and the other
            // views stay on ids, as their papers and measured defaults do.
            let features = variant == .sgl(.am) && useFeatures
            return GraphModel(graph: graph, dim: embeddingDim, variant: variant, settings: settings,
                              userFeatures: features ? dataset.userFeatures : nil, itemFeatures: features ? dataset.itemFeatures : nil, rng: &rng)
        }
    }
}

/// Evaluators for one dataset: validation excludes training items; test excludes training and validation items.
public struct EvaluationProtocol: Sendable {
    public let valid: FullRankingEvaluator
    public let test: FullRankingEvaluator
    public let testPairs: (users: [Int32], items: [Int32])

    public init(_ ds: Dataset, ks: [Int]) {
        let s = ds.split
        let known = ds.fullTrain ?? s.train  // a fraction-trained run is scored exactly like the full one
        let head = FullRankingEvaluator.headItems(counts: known.itemCounts(items: ds.numItems))
        let train = known.matrix(users: ds.numUsers, items: ds.numItems)
        valid = FullRankingEvaluator(ks: ks, excluded: train, truth: s.valid.matrix(users: ds.numUsers, items: ds.numItems), isHead: head)
        test = FullRankingEvaluator(ks: ks, excluded: (known + s.valid).matrix(users: ds.numUsers, items: ds.numItems),
                                    truth: s.test.matrix(users: ds.numUsers, items: ds.numItems), isHead: head)
        testPairs = (s.test.users, s.test.items)
    }
}
