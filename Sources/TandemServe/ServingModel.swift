import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemIndex

/// A client-visible failure: an HTTP status code and a message (the router turns it into a JSON error body).
public struct ServingError: Error, CustomStringConvertible, Equatable {
    public let status: Int
    public let message: String
    public init(_ status: Int, _ message: String) { self.status = status; self.message = message }
    public var description: String { message }
}

/// One loaded model, immutable once built: embeddings, the item index, id maps, known interactions and the
/// popularity ranking, all read from the model directory alone (no training data, no training code). Hot reload builds
/// a new one and swaps it in (`ServingBackend`).
public final class ServingModel: @unchecked Sendable {
    public let version: String
    public let modelKind: String
    public let manifest: ModelManifest
    public let userIds: IdMap
    public let itemIds: IdMap
    public let users: Tensor
    public let items: Tensor
    public let index: VectorIndex
    /// Every known interaction of each user (train, valid and test), for `exclude_seen`.
    public let seen: CSRMatrix
    /// Items by training count, most popular first (the fallback for unknown users without features).
    public let popular: [Int32]
    /// The user tower rebuilt from `user_tower.json` and the weights, for cold-start users; nil when the model has none.
    let userTower: Tower?
    /// The item tower over features, rebuilt from `item_tower.json`, for items added while serving; nil without one.
    let itemTower: Tower?
    let normalize: Bool
    /// Each item's `{"item_id":"…","score":` prefix, written once at load for the JSON responses.
    let itemJSONHeads: ByteStrings

    /// Loads a model directory and builds its index (`factory`, e.g. `Flat` or `HNSW32`).
    public init(modelDirectory dir: String, factory: String = "Flat") throws {
        let spec = try IndexSpec(parsing: factory)
        let manifest = try ModelManifest.read(dir)
        if let reason = manifest.servingOmitted { throw DataError(file: dir + "/" + ModelFile.manifest, "no serving bundle: \(reason)") }
        guard let servingBytes = manifest.servingBytes, let servingChecksum = manifest.servingChecksum, let similarity = manifest.similarity else {
            throw DataError(file: dir + "/" + ModelFile.manifest,
                            "format '\(manifest.format)' (Tandem \(manifest.tandemVersion)) has no serving bundle; train the model again with this Tandem to serve it")
        }
        func decodeJSON<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
            let path = dir + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else { throw DataError(file: path, "missing from the model directory") }
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            do { return try decoder.decode(T.self, from: data) } catch { throw DataError(file: path, "damaged: \(error)") }
        }
        let raw = try manifest.readChecked(dir, ModelFile.serving, bytes: servingBytes, checksum: servingChecksum)
        let bundle = try ServingBundle.decode(raw, file: dir + "/" + ModelFile.serving)
        userIds = try decodeJSON(IdMap.self, ModelFile.userIds)
        itemIds = try decodeJSON(IdMap.self, ModelFile.itemIds)
        guard userIds.count == bundle.users.rows, itemIds.count == bundle.items.rows else {
            throw DataError(file: dir, "\(userIds.count) user and \(itemIds.count) item ids, but embeddings for \(bundle.users.rows) users and \(bundle.items.rows) items")
        }
        normalize = similarity == "cosine"
        users = bundle.users
        items = bundle.items
        seen = bundle.seen
        let counts = bundle.itemCounts
        popular = counts.indices.sorted { counts[$0] > counts[$1] || (counts[$0] == counts[$1] && $0 < $1) }.map { Int32($0) }
        userTower = FileManager.default.fileExists(atPath: dir + "/" + ModelFile.userTower)
            ? try Self.loadTower(dir, spec: decodeJSON(Tower.Spec.self, ModelFile.userTower), manifest: manifest) : nil
        itemTower = FileManager.default.fileExists(atPath: dir + "/" + ModelFile.itemTower)
            ? try Self.loadTower(dir, spec: decodeJSON(Tower.Spec.self, ModelFile.itemTower), manifest: manifest) : nil
        // Embeddings are already as scored (normalised for cosine models), so the index scores inner products. An HNSW
        // index written by `tandem index build` is loaded instead of rebuilt (saving new weights deletes it).
        let saved = dir + "/" + ModelFile.hnswIndex
        if case .hnsw = spec.kind, FileManager.default.fileExists(atPath: saved) {
            let loaded = try HNSWIndex(loading: saved, dimension: items.cols, metric: .innerProduct, efSearch: spec.efSearch)
            guard loaded.count == items.rows else {
                throw IndexError("\(saved) holds \(loaded.count) vectors but the model has \(items.rows) items; run `tandem index build` again")
            }
            index = loaded
        } else {
            index = try spec.build(items, metric: .innerProduct)
        }
        itemJSONHeads = ByteStrings(itemIds.tokens) { appendItemHead(id: $0, to: &$1) }
        self.manifest = manifest
        modelKind = manifest.model
        // Reloading the same directory twice in one second still gives two versions.
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        version = "\(manifest.model)@\((dir as NSString).lastPathComponent)@\(stamp)"
    }

    /// The tower of `spec` with its trained weights: every parameter but the per-entity ones (id rows, learned bias),
    /// which an entity embedded from its features never reads.
    static func loadTower(_ dir: String, spec: Tower.Spec, manifest: ModelManifest) throws -> Tower {
        var rng = RNG(seed: 0)
        let tower = Tower(spec: spec, rng: &rng)
        let raw = try manifest.readChecked(dir, ModelFile.weights, bytes: manifest.weightsBytes, checksum: manifest.weightsChecksum)
        let weights = try SafeTensors.decode(raw, file: dir + "/" + ModelFile.weights)
        for p in tower.parameters where p !== tower.idTable && p !== tower.biasTable {
            guard let t = weights[p.name], t.shape == p.value.shape else {
                throw DataError(file: dir + "/" + ModelFile.weights, "the \(spec.name) tower's tensor '\(p.name)' is missing or not of shape \(p.value.shape)")
            }
            p.value = t
        }
        return tower
    }

    /// The embedding of a cold-start user from raw feature values, or nil when the model has no user tower.
    func coldStartEmbedding(_ features: [String: [String]]) -> Tensor? {
        guard let tower = userTower else { return nil }
        let tape = Tape(training: false)
        var e = tower.coldStart(tape, features: features)
        if normalize { e = tape.l2Normalize(e) }
        return e.value
    }

    /// An item's vector as scored, from raw feature values through the item tower (nil when the model has none).
    func embedItem(_ features: [String: [String]]) -> [Float]? {
        guard let tower = itemTower else { return nil }
        let tape = Tape(training: false)
        var e = tower.coldStart(tape, features: features)
        if normalize { e = tape.l2Normalize(e) }
        return e.value.data
    }

    /// The item tower's field names (empty without a tower).
    var itemFeatureFields: [String] { itemTower?.fields.map(\.name) ?? [] }

    /// Exact scores of `items` for user index `u` (user · item, both as served): pre-ranking's scores.
    public func scores(user u: Int, items ids: [Int32]) -> [Float] {
        let d = users.cols
        return users.data.withUnsafeBufferPointer { uu in
            items.data.withUnsafeBufferPointer { vv in
                ids.map { i in
                    var s: Float = 0
                    for j in 0..<d { s += uu[u * d + j] * vv[Int(i) * d + j] }
                    return s
                }
            }
        }
    }

    /// The `k` best items for one query row, skipping `excluded` item indices: masked before selection by the exact
    /// index; asked for `k + excluded.count` and filtered after by an ANN index.
    public func nearest(_ query: Tensor, k: Int, excluding excluded: [Int32]) -> [(Int32, Float)] {
        if let exact = index as? ExactIndex {
            let found = exact.search(query.data, k: k, excluding: excluded)
            return Array(zip(found.ids, found.scores))
        }
        let skip = Set(excluded)
        let found = index.search(query, k: min(itemIds.count, k + skip.count))[0]
        return Array(zip(found.ids, found.scores).filter { !skip.contains($0.0) }.prefix(k))
    }
}

/// Many short byte strings in one buffer (one allocation, not one per string): `append(i, to:)` copies string `i`.
struct ByteStrings {
    private var bytes: [UInt8] = []
    private var ends: [Int] = []

    init<S: Sequence>(_ values: S, write: (S.Element, inout [UInt8]) -> Void) {
        for v in values {
            write(v, &bytes)
            ends.append(bytes.count)
        }
    }

    var count: Int { ends.count }

    func append(_ i: Int, to out: inout [UInt8]) {
        let start = i == 0 ? 0 : ends[i - 1]
        out.append(contentsOf: bytes[start..<ends[i]])
    }
}
