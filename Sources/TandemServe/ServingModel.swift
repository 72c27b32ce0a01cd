import Foundation
import TandemTensor
import TandemAutograd
import TandemData
import TandemModels
import TandemTrain
import TandemIndex

/// A client-visible failure: an HTTP status code and a message (the router turns it into a JSON error body).
public struct ServingError: Error, CustomStringConvertible, Equatable {
    public let status: Int
    public let message: String
    public init(_ status: Int, _ message: String) { self.status = status; self.message = message }
    public var description: String { message }
}

/// One loaded model, immutable once built: embeddings, the item index, id maps, known interactions and the
/// popularity ranking. Hot reload builds a new one and swaps it in (`ServingBackend`).
public final class ServingModel: @unchecked Sendable {
    public let version: String
    public let modelKind: String
    public let userIds: IdMap
    public let itemIds: IdMap
    public let users: Tensor
    public let items: Tensor
    public let index: VectorIndex
    /// Every known interaction of each user (train, valid and test), for `exclude_seen`.
    public let seen: CSRMatrix
    /// Items by training count, most popular first (the fallback for unknown users without features).
    public let popular: [Int32]
    /// The data the model was trained on, rebuilt from its config (the split, for offline cascade evaluation).
    public let dataset: Dataset
    let model: RetrievalModel
    let normalize: Bool
    /// Each item's `{"item_id":"…","score":` prefix, written once at load for the JSON responses.
    let itemJSONHeads: ByteStrings

    /// Loads a model directory and builds its index (`factory`, e.g. `Flat` or `HNSW32`).
    public init(modelDirectory: String, factory: String = "Flat") throws {
        let spec = try IndexSpec(parsing: factory)
        let (config, dataset, model) = try ModelStore.load(from: modelDirectory)
        normalize = config.objective.similarity == .cosine
        users = model.allEmbeddings(users: true, count: dataset.numUsers, normalize: normalize)
        items = model.allEmbeddings(users: false, count: dataset.numItems, normalize: normalize)
        self.model = model
        // Embeddings are already normalised for cosine models, so the index scores inner products. An HNSW index
        // written by `tandem index build` is loaded instead of rebuilt (ModelStore deletes it when weights change).
        let saved = modelDirectory + "/index.hnsw"
        if case .hnsw = spec.kind, FileManager.default.fileExists(atPath: saved) {
            let loaded = try HNSWIndex(loading: saved, dimension: items.cols, metric: .innerProduct, efSearch: spec.efSearch)
            guard loaded.count == items.rows else {
                throw IndexError("\(saved) holds \(loaded.count) vectors but the model has \(items.rows) items; run `tandem index build` again")
            }
            index = loaded
        } else {
            index = try spec.build(items, metric: .innerProduct)
        }
        let s = dataset.split
        seen = (s.train + s.valid + s.test).matrix(users: dataset.numUsers, items: dataset.numItems)
        let counts = s.train.itemCounts(items: dataset.numItems)
        popular = counts.indices.sorted { counts[$0] > counts[$1] || (counts[$0] == counts[$1] && $0 < $1) }.map { Int32($0) }
        userIds = dataset.userIds
        itemIds = dataset.itemIds
        itemJSONHeads = ByteStrings(dataset.itemIds.tokens) { appendItemHead(id: $0, to: &$1) }
        self.dataset = dataset
        modelKind = config.model.rawValue
        let stamp = ISO8601DateFormatter().string(from: Date())
        version = "\(config.model.rawValue)@\((modelDirectory as NSString).lastPathComponent)@\(stamp)"
    }

    /// The embedding of a cold-start user from raw feature values, or nil when the model has no user tower.
    func coldStartEmbedding(_ features: [String: [String]]) -> Tensor? {
        let tape = Tape(training: false)
        guard var e = model.coldStartUserEmbedding(tape, features: features) else { return nil }
        if normalize { e = tape.l2Normalize(e) }
        return e.value
    }

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
