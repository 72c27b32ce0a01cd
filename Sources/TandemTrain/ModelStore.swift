import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels

/// Tandem's version, written into every model manifest (and printed by `tandem --version`).
public let tandemVersion = "0.3.0"

/// `manifest.json` of a model directory: what wrote it, what it is, how well it did, and a checksum of the weights
/// so that a damaged or swapped file is caught at load time.
public struct ModelManifest: Codable, Equatable, Sendable {
    public static let currentFormat = "tandem-model-1"
    public var format: String
    public var tandemVersion: String
    public var model: String
    public var dataset: String
    public var created: String
    public var users: Int
    public var items: Int
    /// Byte count and checksum (FNV-1a 64, hex) of `weights.safetensors`.
    public var weightsBytes: Int
    public var weightsChecksum: String
    /// Test and validation metrics of the best epoch, once training has finished.
    public var test: [String: Double]?
    public var valid: [String: Double]?
    public var bestEpoch: Int?

    /// FNV-1a 64 of `data`: cheap, dependency-free damage detection (not a cryptographic digest).
    public static func fnv1a64(_ data: Data) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        data.withUnsafeBytes { for b in $0 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 } }
        return String(h, radix: 16)
    }
}

/// A trained model on disk: `manifest.json` (`ModelManifest`), `config.json` (the resolved settings, which also rebuild
/// the split), `weights.safetensors` (parameters by name), `user_ids.json` / `item_ids.json`. Every file is written atomically.
public enum ModelStore {
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// Adds the finished run's metrics to the manifest of a saved model.
    public static func recordResults(_ report: RunReport, in dir: String) throws {
        var m = try readManifest(dir)
        m.test = report.test; m.valid = report.valid; m.bestEpoch = report.bestEpoch
        try AtomicFile.write(encoder.encode(m), to: dir + "/manifest.json")
    }

    static func readManifest(_ dir: String) throws -> ModelManifest {
        let path = dir + "/manifest.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, "missing (is \(dir) a model directory written by `tandem train --output`?)")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do { return try decoder.decode(ModelManifest.self, from: data) } catch {
            throw DataError(file: path, "damaged manifest: \(error)")
        }
    }

    public static func save(_ model: RetrievalModel, config: TrainConfig, dataset: Dataset, to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let encoder = Self.encoder
        try AtomicFile.write(encoder.encode(dataset.userIds), to: dir + "/user_ids.json")
        try AtomicFile.write(encoder.encode(dataset.itemIds), to: dir + "/item_ids.json")
        let tensors = model.parameters.map { ($0.name, $0.value) }
        let weights = try SafeTensors.encode(tensors, metadata: ["model": config.model.rawValue, "format": "tandem-1"])
        try AtomicFile.write(weights, to: dir + "/weights.safetensors")
        try AtomicFile.write(encoder.encode(config), to: dir + "/config.json")
        let manifest = ModelManifest(format: ModelManifest.currentFormat, tandemVersion: tandemVersion, model: config.model.rawValue,
                                     dataset: dataset.name, created: ISO8601DateFormatter().string(from: Date()),
                                     users: dataset.numUsers, items: dataset.numItems,
                                     weightsBytes: weights.count, weightsChecksum: ModelManifest.fnv1a64(weights))
        try AtomicFile.write(encoder.encode(manifest), to: dir + "/manifest.json")
        // An index built from the previous weights no longer matches them.
        for stale in ["index.hnsw", "index.flat"] { try? FileManager.default.removeItem(atPath: dir + "/" + stale) }
    }

    /// Loads a saved model: rebuilds the dataset from the saved config, checks the id maps match, loads weights.
    public static func load(from dir: String, log: (String) -> Void = { _ in }) throws -> (TrainConfig, Dataset, RetrievalModel) {
        func read(_ name: String) throws -> Data {
            do { return try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)) } catch {
                throw DataError(file: dir + "/" + name, "cannot read (is \(dir) a model directory written by `tandem train --output`?)")
            }
        }
        let manifest = try readManifest(dir)
        guard manifest.format == ModelManifest.currentFormat else {
            throw DataError(file: dir + "/manifest.json", "format '\(manifest.format)' is not \(ModelManifest.currentFormat) (written by Tandem \(manifest.tandemVersion), this is \(tandemVersion))")
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
        guard manifest.model == config.model.rawValue else {
            throw DataError(file: dir, "manifest.json says model '\(manifest.model)' but config.json says '\(config.model.rawValue)'")
        }
        let model = try ModelRegistry.make(config, dataset: dataset)
        let raw = try read("weights.safetensors")
        guard raw.count == manifest.weightsBytes, ModelManifest.fnv1a64(raw) == manifest.weightsChecksum else {
            throw DataError(file: dir + "/weights.safetensors",
                            "damaged: \(raw.count) bytes with checksum \(ModelManifest.fnv1a64(raw)), the manifest says \(manifest.weightsBytes) bytes with \(manifest.weightsChecksum)")
        }
        let weights = try SafeTensors.decode(raw, file: dir + "/weights.safetensors")
        for p in model.parameters {
            guard let t = weights[p.name] else { throw DataError(file: dir + "/weights.safetensors", "missing tensor '\(p.name)'") }
            guard t.shape == p.value.shape else {
                throw DataError(file: dir + "/weights.safetensors", "tensor '\(p.name)' has shape \(t.shape), the model expects \(p.value.shape)")
            }
            p.value = t
        }
        return (config, dataset, model)
    }
}
