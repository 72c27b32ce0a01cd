import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemEval

extension TrainConfig {
    /// Loads (and, for known datasets, fetches) the data this config names, and splits it.
    public func loadDataset(log: (String) -> Void = { _ in }) throws -> Dataset {
        try prepared(loadFullDataset(log: log))
    }

    /// A loaded and split dataset as this config trains on it: cold items held out, then the training fraction kept.
    func prepared(_ full: Dataset) -> Dataset {
        let splitSeed = data.splitSeed ?? seed
        return full.holdingOutItems(data.coldItems, seed: splitSeed).keepingTrainingFraction(data.trainFraction, seed: splitSeed)
    }

    func loadFullDataset(log: (String) -> Void) throws -> Dataset {
        let d = data
        if let train = d.train, let valid = d.valid, let test = d.test {
            return try Dataset.loadPreSplit(train: train, valid: valid, test: test, userFeatures: d.userFeatures, itemFeatures: d.itemFeatures)
        }
        guard let name = d.dataset else { throw ConfigError("no dataset given") }
        let method = d.split
        let feedback = d.feedback(dataset: name)
        let splitSeed = d.splitSeed ?? seed
        if name == "synthetic" || name.hasPrefix("synthetic:") {
            return try SyntheticConfig(parsing: name).map { SyntheticData($0).dataset(split: method, seed: splitSeed) }
                ?? { throw ConfigError("dataset '\(name)': expected synthetic[:users=N,items=N,interactions=N,clusters=N,seed=N]") }()
        }
        if let known = KnownDataset(rawValue: name) {
            let dir = try DatasetFetcher.fetch(known, cacheRoot: d.dataDir ?? KnownDataset.cacheRoot, log: log)
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
}

extension TrainConfig {
    /// The evaluators this config scores with: every user, or `eval_users` of them (the split seed picks the same
    /// users for every model and seed on one split, so runs compare on one sample).
    public func evaluationProtocol(_ ds: Dataset) -> EvaluationProtocol {
        EvaluationProtocol(ds, ks: evaluation.ks, sampleUsers: evaluation.evalUsers, seed: data.splitSeed ?? seed)
    }
}

/// Evaluators for one dataset: validation excludes training items; test excludes training and validation items.
public struct EvaluationProtocol: Sendable {
    public let valid: FullRankingEvaluator
    public let test: FullRankingEvaluator
    public let testPairs: (users: [Int32], items: [Int32])
    /// The item cold-start ranking, when the dataset holds items out.
    public let cold: ColdStartEvaluation?

    /// `sampleUsers` > 0: validation and test each score a seeded sample of that many users (`FullRankingEvaluator.sampling`).
    public init(_ ds: Dataset, ks: [Int], sampleUsers: Int = 0, seed: UInt64 = 0) {
        let s = ds.split
        let known = ds.fullTrain ?? s.train  // a fraction-trained run is scored exactly like the full one
        let head = FullRankingEvaluator.headItems(counts: known.itemCounts(items: ds.numItems))
        // Held-out cold items are not candidates in the usual rankings: those measure the catalogue the model trained on.
        let coldIds = ds.coldItems.map { c in c.indices.filter { c[$0] }.map { Int32($0) } } ?? []
        let unseen = Interactions(users: (0..<ds.numUsers).flatMap { u in coldIds.map { _ in Int32(u) } },
                                  items: (0..<ds.numUsers).flatMap { _ in coldIds })
        let train = Interactions.incidence(of: [known, unseen], users: ds.numUsers, items: ds.numItems)
        let degrees = known.userCounts(users: ds.numUsers)
        let groups = FullRankingEvaluator.UserGroup.byDegree(degrees)
        valid = FullRankingEvaluator(ks: ks, excluded: train, truth: s.valid.matrix(users: ds.numUsers, items: ds.numItems), isHead: head,
                                     userGroups: groups).sampling(users: sampleUsers, seed: seed)
        test = FullRankingEvaluator(ks: ks, excluded: Interactions.incidence(of: [known, unseen, s.valid], users: ds.numUsers, items: ds.numItems),
                                    truth: s.test.matrix(users: ds.numUsers, items: ds.numItems), isHead: head, userGroups: groups)
            .sampling(users: sampleUsers, seed: seed &+ 1)
        testPairs = (s.test.users, s.test.items)
        cold = ColdStartEvaluation(ds, ks: ks)
    }
}
