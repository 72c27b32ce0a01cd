import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemEval

/// A trained model on disk (the files are listed in `ModelFile`). Everything serving needs is in the directory itself:
/// the id maps, `serving.safetensors` (embeddings as scored, popularity, known items) and, for models with a user tower,
/// `user_tower.json` (cold-start users), with an item tower over features `item_tower.json` (new items embedded from
/// their features); `config.json` and `weights.safetensors` rebuild the model for `tandem eval` and `export`. Every file
/// is written atomically, the manifest last.
public enum ModelStore {
    /// Adds the finished run's metrics to the manifest of a saved model.
    public static func recordResults(_ report: RunReport, in dir: String) throws {
        var m = try ModelManifest.read(dir)
        m.test = report.test; m.valid = report.valid; m.bestEpoch = report.bestEpoch
        try AtomicFile.write(ModelManifest.encoder.encode(m), to: dir + "/" + ModelFile.manifest)
    }

    /// `memoryBytes`: the memory `embeddingsTooLarge` counts against (this machine's by default).
    public static func save(_ model: RetrievalModel, config: TrainConfig, dataset: Dataset, to dir: String,
                            memoryBytes: Double = physicalMemory) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let encoder = ModelManifest.encoder
        func write(_ data: Data, _ name: String) throws { try AtomicFile.write(data, to: dir + "/" + name) }
        try write(encoder.encode(dataset.userIds), ModelFile.userIds)
        try write(encoder.encode(dataset.itemIds), ModelFile.itemIds)
        let weights = try SafeTensors.encode(model.parameters.map { ($0.name, $0.value) },
                                             metadata: ["model": config.model.rawValue, "format": "tandem-1"])
        try write(weights, ModelFile.weights)
        try write(encoder.encode(config), ModelFile.config)
        // A sparse model over a large catalogue saves its weights (for `tandem eval`) but no serving bundle.
        let omitted = embeddingsTooLarge(model, dataset: dataset, memoryBytes: memoryBytes)
        let serving = try omitted == nil ? servingBundle(model, config: config, dataset: dataset).encode() : nil
        if let serving {
            try write(serving, ModelFile.serving)
        } else if FileManager.default.fileExists(atPath: dir + "/" + ModelFile.serving) {
            try FileManager.default.removeItem(atPath: dir + "/" + ModelFile.serving)
        }
        for (tower, file) in [(model.coldStartUserTower, ModelFile.userTower), (model.featureItemTower, ModelFile.itemTower)] {
            if let tower {
                try write(encoder.encode(tower.spec), file)
            } else if FileManager.default.fileExists(atPath: dir + "/" + file) {
                try FileManager.default.removeItem(atPath: dir + "/" + file)
            }
        }
        let manifest = ModelManifest(model: config.model.rawValue, dataset: dataset.name, users: dataset.numUsers, items: dataset.numItems,
                                     weights: weights, similarity: config.objective.similarity.rawValue, serving: serving,
                                     servingOmitted: omitted)
        try write(encoder.encode(manifest), ModelFile.manifest)
        // An index built from the previous weights no longer matches them.
        for stale in ModelFile.indexes { try? FileManager.default.removeItem(atPath: dir + "/" + stale) }
    }

    /// How evaluation scores the model: its own scorer (ItemKNN, sparse EASE), otherwise the inner products of
    /// `scoredEmbeddings`.
    public static func scorer(_ model: RetrievalModel, config: TrainConfig, dataset: Dataset) -> UserItemScorer {
        if let direct = model.directScorer() { return direct }
        let (users, items) = scoredEmbeddings(model, config: config, dataset: dataset)
        return EmbeddingScorer(users: users, items: items)
    }

    /// Why the model's embeddings of every user and item cannot be held in memory, or nil when they can. Only a model
    /// that scores without embeddings (`directScorer`) has catalogue-wide ones; they are counted against 40% of memory.
    public static func embeddingsTooLarge(_ model: RetrievalModel, dataset: Dataset, memoryBytes memory: Double = physicalMemory) -> String? {
        guard model.directScorer() != nil else { return nil }
        let bytes = Double(dataset.numUsers + dataset.numItems) * Double(dataset.numItems) * 4
        guard bytes >= memory * 0.4 else { return nil }
        return String(format: "this model scores sparsely, and as embeddings its %d users and %d items would each be %d wide (%.1f GB; the machine has %.1f GB): it can be evaluated (tandem eval) but not exported, indexed or served",
                      dataset.numUsers, dataset.numItems, dataset.numItems, bytes / 1e9, memory / 1e9)
    }

    public static let physicalMemory = Double(ProcessInfo.processInfo.physicalMemory)

    /// Every user's and item's embedding as the model scores them (L2-normalised for cosine similarity): the one path
    /// that evaluation, export, the item index and the serving bundle read. An item with no training interaction has an
    /// id row that never learned anything (at most it was pushed away as a sampled negative): its embedding is taken
    /// with its own rows left out (`forgetItems`), from its features alone — zero for a model without item features.
    /// The rows are set aside for the computation only; training continues from the same values.
    public static func scoredEmbeddings(_ model: RetrievalModel, config: TrainConfig, dataset: Dataset) -> (users: Tensor, items: Tensor) {
        let norm = config.objective.similarity == .cosine
        let users = model.allEmbeddings(users: true, count: dataset.numUsers, normalize: norm)
        let untrained = untrainedItems(dataset)
        guard !untrained.isEmpty else { return (users, model.allEmbeddings(users: false, count: dataset.numItems, normalize: norm)) }
        let kept = model.parameters.map(\.value)
        defer { for (p, v) in zip(model.parameters, kept) { p.value = v } }
        model.forgetItems(untrained)
        return (users, model.allEmbeddings(users: false, count: dataset.numItems, normalize: norm))
    }

    /// The items without a training interaction in `dataset`'s split (held out, or only in validation and test).
    public static func untrainedItems(_ dataset: Dataset) -> [Int32] {
        let counts = dataset.split.train.itemCounts(items: dataset.numItems)
        return counts.indices.filter { counts[$0] == 0 }.map { Int32($0) }
    }

    /// The serving bundle of a model trained on `dataset`.
    static func servingBundle(_ model: RetrievalModel, config: TrainConfig, dataset: Dataset) -> ServingBundle {
        let s = dataset.split, known = dataset.fullTrain ?? s.train
        let (users, items) = scoredEmbeddings(model, config: config, dataset: dataset)
        return ServingBundle(users: users, items: items,
                             itemCounts: known.itemCounts(items: dataset.numItems),
                             seen: Interactions.incidence(of: [known, s.valid, s.test], users: dataset.numUsers, items: dataset.numItems))
    }

    /// Loads a saved model for evaluation: rebuilds the dataset from the saved config, checks the id maps match, loads
    /// the weights.
    public static func load(from dir: String, log: (String) -> Void = { _ in }) throws -> (TrainConfig, Dataset, RetrievalModel) {
        func read(_ name: String) throws -> Data {
            do { return try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)) } catch {
                throw DataError(file: dir + "/" + name, "cannot read (is \(dir) a model directory written by `tandem train --output`?)")
            }
        }
        let manifest = try ModelManifest.read(dir)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let config: TrainConfig
        do { config = try decoder.decode(TrainConfig.self, from: read(ModelFile.config)) } catch let e as DataError { throw e } catch {
            throw DataError(file: dir + "/" + ModelFile.config, "damaged config: \(error)")
        }
        let dataset = try config.loadDataset(log: log)
        let users = try? decoder.decode(IdMap.self, from: read(ModelFile.userIds))
        let items = try? decoder.decode(IdMap.self, from: read(ModelFile.itemIds))
        if let added = manifest.addedItems, added > 0 {
            throw DataError(file: dir, "\(added) items were added to this directory after training (tandem index add-items); it serves, but evaluation needs the directory as trained")
        }
        guard users == dataset.userIds, items == dataset.itemIds else {
            throw DataError(file: dir, "the saved user/item ids do not match the dataset the config rebuilds; was the data changed?")
        }
        guard manifest.model == config.model.rawValue else {
            throw DataError(file: dir, "manifest.json says model '\(manifest.model)' but config.json says '\(config.model.rawValue)'")
        }
        let model = try ModelRegistry.make(config, dataset: dataset)
        let raw = try manifest.readChecked(dir, ModelFile.weights, bytes: manifest.weightsBytes, checksum: manifest.weightsChecksum)
        let weights = try SafeTensors.decode(raw, file: dir + "/" + ModelFile.weights)
        for p in model.parameters {
            guard let t = weights[p.name] else { throw DataError(file: dir + "/" + ModelFile.weights, "missing tensor '\(p.name)'") }
            guard t.shape == p.value.shape else {
                throw DataError(file: dir + "/" + ModelFile.weights, "tensor '\(p.name)' has shape \(t.shape), the model expects \(p.value.shape)")
            }
            p.value = t
        }
        return (config, dataset, model)
    }
}
