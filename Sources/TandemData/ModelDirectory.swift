import Foundation
import TandemTensor

/// Tandem's version, written into every model manifest (and printed by `tandem --version`).
public let tandemVersion = "0.4.0"

/// The files of a model directory (`tandem train --output`). Training writes all of them; serving reads the manifest,
/// the id maps, `serving.safetensors` and (for cold start and new items) `user_tower.json` and `item_tower.json` with
/// the towers' weights, and nothing else:
/// a directory copied alone to another machine serves there.
public enum ModelFile {
    public static let manifest = "manifest.json"
    /// The resolved settings (they rebuild the model and, for `tandem eval`, the split).
    public static let config = "config.json"
    /// Every parameter by name.
    public static let weights = "weights.safetensors"
    public static let userIds = "user_ids.json"
    public static let itemIds = "item_ids.json"
    /// `ServingBundle`: embeddings as scored, item popularity, each user's known items.
    public static let serving = "serving.safetensors"
    /// The user tower's shape and feature vocabularies, for cold-start users (models with a user tower only).
    public static let userTower = "user_tower.json"
    /// The item tower's spec, when it reads item features: serving embeds items never trained on from their features.
    public static let itemTower = "item_tower.json"
    /// An HNSW index of the item embeddings, written by `tandem index build` (and loaded by serving).
    public static let hnswIndex = "index.hnsw"
    /// An exact (flat) index of the item embeddings, written by `tandem index build --factory Flat`.
    public static let flatIndex = "index.flat"
    /// The index files: built from one set of weights, removed when new weights are saved.
    public static let indexes = [hnswIndex, flatIndex]
}

/// `manifest.json` of a model directory: what wrote it, what it is, how well it did, and checksums of the weights and
/// the serving bundle, so that a damaged or swapped file is caught at load time.
public struct ModelManifest: Codable, Equatable, Sendable {
    /// Format 2 adds the serving bundle; format 1 directories still load for `tandem eval` (which rebuilds from the
    /// data) but cannot be served.
    public static let currentFormat = "tandem-model-2"
    public static let readableFormats: Set<String> = ["tandem-model-1", currentFormat]
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
    /// `dot` or `cosine`: how cold-start user embeddings are scored (the bundle's embeddings are already as scored).
    public var similarity: String?
    /// Byte count and checksum of `serving.safetensors`.
    public var servingBytes: Int?
    public var servingChecksum: String?
    /// Why the directory has no serving bundle, when training left it out (a sparse model too wide to embed).
    public var servingOmitted: String?
    /// Test and validation metrics of the best epoch, once training has finished.
    public var test: [String: Double]?
    public var valid: [String: Double]?
    public var bestEpoch: Int?
    /// Items added after training by `tandem index add-items` (embedded from their features; the weights and config
    /// describe the catalogue as trained).
    public var addedItems: Int?

    public init(model: String, dataset: String, users: Int, items: Int, weights: Data, similarity: String, serving: Data?,
                servingOmitted: String? = nil) {
        format = Self.currentFormat; tandemVersion = TandemData.tandemVersion; self.model = model; self.dataset = dataset
        created = ISO8601DateFormatter().string(from: Date())
        self.users = users; self.items = items
        weightsBytes = weights.count; weightsChecksum = Self.fnv1a64(weights)
        self.similarity = similarity
        servingBytes = serving?.count; servingChecksum = serving.map(Self.fnv1a64)
        self.servingOmitted = servingOmitted
    }

    /// FNV-1a 64 of `data`: cheap, dependency-free damage detection (not a cryptographic digest).
    public static func fnv1a64(_ data: Data) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        data.withUnsafeBytes { for b in $0 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 } }
        return String(h, radix: 16)
    }

    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }

    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The manifest of `dir`, checked to be one this version reads.
    public static func read(_ dir: String) throws -> ModelManifest {
        let path = dir + "/" + ModelFile.manifest
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, "missing (is \(dir) a model directory written by `tandem train --output`?)")
        }
        let m: ModelManifest
        do { m = try decoder.decode(ModelManifest.self, from: data) } catch { throw DataError(file: path, "damaged manifest: \(error)") }
        guard readableFormats.contains(m.format) else {
            throw DataError(file: path, "format '\(m.format)' is not one this Tandem reads (\(readableFormats.sorted().joined(separator: ", ")); written by Tandem \(m.tandemVersion), this is \(TandemData.tandemVersion))")
        }
        return m
    }

    /// The bytes of `name` in `dir`, checked against this manifest's size and checksum.
    public func readChecked(_ dir: String, _ name: String, bytes: Int, checksum: String) throws -> Data {
        let path = dir + "/" + name
        guard let raw = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, "cannot read (is \(dir) a model directory written by `tandem train --output`?)")
        }
        guard raw.count == bytes, Self.fnv1a64(raw) == checksum else {
            throw DataError(file: path, "damaged: \(raw.count) bytes with checksum \(Self.fnv1a64(raw)), the manifest says \(bytes) bytes with \(checksum)")
        }
        return raw
    }
}

/// What serving needs beyond the id maps, in one file: user and item embeddings exactly as scored (normalised for
/// cosine models; Pop's ones and counts), each item's training count (the popularity fallback), and every known
/// interaction of each user (train, valid and test: `exclude_seen`).
public struct ServingBundle {
    public var users: Tensor
    public var items: Tensor
    public var itemCounts: [Int]
    public var seen: CSRMatrix

    public init(users: Tensor, items: Tensor, itemCounts: [Int], seen: CSRMatrix) {
        self.users = users; self.items = items; self.itemCounts = itemCounts; self.seen = seen
    }

    public func encode() throws -> Data {
        try SafeTensors.encode([("users", users), ("items", items)],
                               ints: [("item_counts", itemCounts.map { Int32(clamping: $0) }),
                                      ("seen_row_pointers", seen.rowPointers.map { Int32(clamping: $0) }),
                                      ("seen_items", seen.columnIndices)],
                               metadata: ["format": ModelManifest.currentFormat])
    }

    public static func decode(_ data: Data, file: String) throws -> ServingBundle {
        let floats = try SafeTensors.decode(data, file: file), ints = try SafeTensors.decodeInts(data, file: file)
        func need<T>(_ v: T?, _ name: String) throws -> T {
            guard let v else { throw DataError(file: file, "missing tensor '\(name)'") }
            return v
        }
        let users = try need(floats["users"], "users"), items = try need(floats["items"], "items")
        let counts = try need(ints["item_counts"], "item_counts"), pointers = try need(ints["seen_row_pointers"], "seen_row_pointers")
        let seenItems = try need(ints["seen_items"], "seen_items")
        guard users.shape.count == 2, items.shape.count == 2, users.cols == items.cols, counts.count == items.rows,
              pointers.count == users.rows + 1, pointers.first == 0, Int(pointers.last ?? -1) == seenItems.count,
              zip(pointers, pointers.dropFirst()).allSatisfy({ $0 <= $1 }),
              seenItems.allSatisfy({ $0 >= 0 && Int($0) < items.rows }) else {
            throw DataError(file: file, "inconsistent serving bundle: users \(users.shape), items \(items.shape), \(counts.count) counts, \(pointers.count) row pointers, \(seenItems.count) seen items")
        }
        let seen = CSRMatrix(rows: users.rows, cols: items.rows, rowPointers: pointers.map(Int.init), columnIndices: seenItems,
                             values: [Float](repeating: 1, count: seenItems.count))
        return ServingBundle(users: users, items: items, itemCounts: counts.map(Int.init), seen: seen)
    }
}
