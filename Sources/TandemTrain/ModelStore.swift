import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels

/// A trained model on disk: `config.json` (the resolved settings, which also rebuild the split),
/// `weights.safetensors` (parameters by name), `user_ids.json` / `item_ids.json`. Every file is written atomically.
public enum ModelStore {
    public static func save(_ model: RetrievalModel?, config: TrainConfig, dataset: Dataset, to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(encoder.encode(dataset.userIds), to: dir + "/user_ids.json")
        try AtomicFile.write(encoder.encode(dataset.itemIds), to: dir + "/item_ids.json")
        let tensors = (model?.parameters ?? []).map { ($0.name, $0.value) }
        try AtomicFile.write(SafeTensors.encode(tensors, metadata: ["model": config.model.rawValue, "format": "tandem-1"]),
                             to: dir + "/weights.safetensors")
        try AtomicFile.write(encoder.encode(config), to: dir + "/config.json")
        // An index built from the previous weights no longer matches them.
        for stale in ["index.hnsw", "index.flat"] { try? FileManager.default.removeItem(atPath: dir + "/" + stale) }
    }

    /// Loads a saved model: rebuilds the dataset from the saved config, checks the id maps match, loads weights.
    public static func load(from dir: String, log: (String) -> Void = { _ in }) throws -> (TrainConfig, Dataset, RetrievalModel?) {
        func read(_ name: String) throws -> Data {
            do { return try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)) } catch {
                throw DataError(file: dir + "/" + name, "cannot read (is \(dir) a model directory written by `tandem train --output`?)")
            }
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let config: TrainConfig
        do { config = try decoder.decode(TrainConfig.self, from: read("config.json")) } catch let e as DataError { throw e } catch {
            throw DataError(file: dir + "/config.json", "damaged config: \(error)")
        }
        let dataset = try config.loadDataset(log: log)
        let users = try? decoder.decode(IdMap.self, from: read("user_ids.json"))
        let items = try? decoder.decode(IdMap.self, from: read("item_ids.json"))
        guard users == dataset.userIds, items == dataset.itemIds else {
            throw DataError(file: dir, "the saved user/item ids do not match the dataset the config rebuilds; was the data changed?")
        }
        let model = config.makeModel(for: dataset)
        let weights = try SafeTensors.decode(read("weights.safetensors"), file: dir + "/weights.safetensors")
        for p in model?.parameters ?? [] {
            guard let t = weights[p.name] else { throw DataError(file: dir + "/weights.safetensors", "missing tensor '\(p.name)'") }
            guard t.shape == p.value.shape else {
                throw DataError(file: dir + "/weights.safetensors", "tensor '\(p.name)' has shape \(t.shape), the model expects \(p.value.shape)")
            }
            p.value = t
        }
        return (config, dataset, model)
    }
}
