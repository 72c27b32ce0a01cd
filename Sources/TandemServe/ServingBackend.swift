import Foundation
import TandemTensor

/// Request and response bodies of the HTTP API (snake_case JSON).
public struct RecommendRequest: Codable, Sendable, Equatable {
    public var userId: String?
    /// Raw feature values of an unknown user (cold start): a string or a list of strings per field.
    public var userFeatures: [String: FeatureValue]?
    public var k: Int?
    public var excludeSeen: Bool?
    public var excludeItems: [String]?
}

/// A feature value in a request: one token or number as a string, or a list of tokens.
public enum FeatureValue: Codable, Sendable, Equatable {
    case one(String)
    case many([String])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .one(s); return }
        if let d = try? c.decode(Double.self) {
            // Whole numbers print without ".0" ("24", as feature files write them); huge ones stay in Double form.
            self = .one(d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d))
            return
        }
        self = .many(try c.decode([String].self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self { case .one(let s): try c.encode(s); case .many(let l): try c.encode(l) }
    }

    var tokens: [String] { switch self { case .one(let s): return [s]; case .many(let l): return l } }
}

public struct ScoredItem: Codable, Sendable, Equatable {
    public var itemId: String
    public var score: Float
}

public struct RecommendResponse: Codable, Sendable {
    public var items: [ScoredItem]
    /// `model` (known user), `cold_start` (user tower over the given features) or `popularity` (fallback).
    public var source: String
    public var modelVersion: String
}

public struct SimilarItemsRequest: Codable, Sendable, Equatable {
    public var itemId: String
    public var k: Int?
}

public struct ScoreRequest: Codable, Sendable, Equatable {
    public var userId: String
    public var candidates: [String]
}

public struct ItemsResponse: Codable, Sendable {
    public var items: [ScoredItem]
    public var modelVersion: String
}

/// `PUT /v1/items`: an item embedded from its raw feature values through the model's item tower.
public struct ItemRequest: Codable, Sendable, Equatable {
    public var itemId: String
    public var features: [String: FeatureValue]
}

/// The answer to an item change: `status` is `added`, `replaced` or `deleted`; `items` the catalogue's size after it.
public struct ItemChangeResponse: Codable, Sendable, Equatable {
    public var itemId: String
    public var status: String
    public var items: Int
    public var modelVersion: String
}

/// The serving logic behind the HTTP routes, independent of HTTP; safe to call from many requests at once.
/// `reload()` swaps in a freshly loaded model without interrupting requests in flight (they keep the old one).
public final class ServingBackend: @unchecked Sendable {
    public static let maxK = 1000
    public static let maxCandidates = 10_000

    private let lock = NSLock()
    private var current: ServingModel?
    /// Items added and hidden while serving, kept across reloads.
    private var overlay = ItemOverlay()
    /// `current` with `overlay`, remade whenever either changes: what requests read.
    private var catalogue: ServedCatalogue?
    private let load: () throws -> ServingModel
    /// Request counts, latencies and reloads, for `GET /metrics`.
    public let metrics = ServingMetrics()

    public init(load: @escaping () throws -> ServingModel) {
        self.load = load
    }

    /// A backend over a model directory.
    public convenience init(modelDirectory: String, factory: String = "Flat") {
        self.init { try ServingModel(modelDirectory: modelDirectory, factory: factory) }
    }

    public var model: ServingModel? { lock.lock(); defer { lock.unlock() }; return current }

    /// Loads (or reloads) the model; on failure the model being served stays in place. Items added while serving are
    /// embedded again by the new model (dropped if it has no item tower); hidden items stay hidden.
    @discardableResult
    public func reload() throws -> ServingModel {
        let fresh: ServingModel
        do { fresh = try load() } catch { metrics.recordReload(succeeded: false); throw error }
        lock.lock()
        current = fresh
        overlay = overlay.reembedded { fresh.embedItem($0) }
        catalogue = ServedCatalogue(model: fresh, overlay: overlay)
        lock.unlock()
        metrics.recordReload(succeeded: true)
        return fresh
    }

    /// The model and the items changed while serving, as one consistent catalogue.
    func ready() throws -> ServedCatalogue {
        lock.lock(); defer { lock.unlock() }
        guard let c = catalogue else { throw ServingError(503, "no model loaded yet") }
        return c
    }

    /// Changes the overlay under the lock (held by the caller) and remakes the catalogue requests read. The old
    /// catalogue is let go first, so the overlay's arrays change in place unless a request still holds them.
    private func changeOverlay(_ m: ServingModel, _ change: (inout ItemOverlay) -> Void) -> ServedCatalogue {
        catalogue = nil
        change(&overlay)
        let c = ServedCatalogue(model: m, overlay: overlay)
        catalogue = c
        return c
    }

    /// Adds an item (or replaces one with the same id) embedded from its features; the next request can return it.
    public func putItem(_ r: ItemRequest) throws -> ItemChangeResponse {
        guard !r.itemId.isEmpty else { throw ServingError(400, "item_id must not be empty") }
        lock.lock(); defer { lock.unlock() }
        guard let m = current else { throw ServingError(503, "no model loaded yet") }
        let fields = Set(m.itemFeatureFields)
        guard !fields.isEmpty else {
            throw ServingError(409, "model \(m.modelKind) has no item tower over features, so it cannot embed new items (train two-tower with item features)")
        }
        let unknown = r.features.keys.filter { !fields.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw ServingError(400, "unknown item feature\(unknown.count > 1 ? "s" : "") \(unknown.map { "'\($0)'" }.joined(separator: ", ")); "
                               + "the model's are \(fields.sorted().joined(separator: ", "))")
        }
        let features = r.features.mapValues(\.tokens)
        guard let vector = m.embedItem(features) else { throw ServingError(409, "the model cannot embed items") }
        let existed = catalogue?.lookup(r.itemId) != nil
        let c = changeOverlay(m) {
            $0.put(.init(id: r.itemId, features: features), vector: vector, hidingCatalogueItem: m.itemIds.lookup(r.itemId) != nil)
        }
        return ItemChangeResponse(itemId: r.itemId, status: existed ? "replaced" : "added", items: c.count, modelVersion: m.version)
    }

    /// Hides an item from every answer (an added item is removed).
    public func deleteItem(_ id: String) throws -> ItemChangeResponse {
        lock.lock(); defer { lock.unlock() }
        guard let m = current else { throw ServingError(503, "no model loaded yet") }
        guard catalogue?.lookup(id) != nil else { throw ServingError(404, "unknown item_id '\(id)'") }
        let c = changeOverlay(m) { $0.delete(id, inCatalogue: m.itemIds.lookup(id) != nil) }
        return ItemChangeResponse(itemId: id, status: "deleted", items: c.count, modelVersion: m.version)
    }

    static func checkK(_ k: Int?) throws -> Int {
        let k = k ?? 10
        guard k >= 1 && k <= maxK else { throw ServingError(400, "k must be between 1 and \(maxK), got \(k)") }
        return k
    }

    public func recommend(_ r: RecommendRequest) throws -> RecommendResponse {
        let ranked = try rankedRecommendation(r)
        return RecommendResponse(items: ranked.scoredItems, source: ranked.source ?? "model", modelVersion: ranked.modelVersion)
    }

    /// `recommend` as item indices of the model that answered: the route writes its JSON without making id strings.
    func rankedRecommendation(_ r: RecommendRequest) throws -> RankedItems {
        let c = try ready(), m = c.model
        let k = try ServingBackend.checkK(r.k)
        var excluded = (r.excludeItems ?? []).compactMap { c.lookup($0) }
        if let id = r.userId, let u = m.userIds.lookup(id) {
            if r.excludeSeen ?? true { excluded += m.seen.columns(ofRow: Int(u)) }
            return RankedItems(catalogue: c, found: c.nearest(m.users.gatherRows([u]), k: k, excluding: excluded), source: "model")
        }
        if r.userId == nil && r.userFeatures == nil {
            throw ServingError(400, "give user_id or user_features")
        }
        if let features = r.userFeatures, let e = m.coldStartEmbedding(features.mapValues(\.tokens)) {
            return RankedItems(catalogue: c, found: c.nearest(e, k: k, excluding: excluded), source: "cold_start")
        }
        let skip = Set(excluded + c.hidden)
        let items = m.popular.lazy.filter { !skip.contains($0) }.prefix(k)
        return RankedItems(catalogue: c, found: items.enumerated().map { ($0.element, Float(-$0.offset)) }, source: "popularity")
    }

    public func similarItems(_ r: SimilarItemsRequest) throws -> ItemsResponse {
        let ranked = try rankedSimilarItems(r)
        return ItemsResponse(items: ranked.scoredItems, modelVersion: ranked.modelVersion)
    }

    func rankedSimilarItems(_ r: SimilarItemsRequest) throws -> RankedItems {
        let c = try ready()
        let k = try ServingBackend.checkK(r.k)
        guard let i = c.lookup(r.itemId) else { throw ServingError(404, "unknown item_id '\(r.itemId)'") }
        let v = c.vector(i)
        return RankedItems(catalogue: c, found: c.nearest(Tensor(shape: [1, v.count], data: v), k: k, excluding: [i]), source: nil)
    }

    /// Pre-ranking: the model's scores for the given candidates, best first. Unknown candidates are an error.
    public func score(_ r: ScoreRequest) throws -> ItemsResponse {
        let c = try ready(), m = c.model
        guard let u = m.userIds.lookup(r.userId) else { throw ServingError(404, "unknown user_id '\(r.userId)'") }
        guard r.candidates.count <= ServingBackend.maxCandidates else {
            throw ServingError(400, "at most \(ServingBackend.maxCandidates) candidates, got \(r.candidates.count)")
        }
        let found = r.candidates.map { c.lookup($0) }
        let unknown = zip(r.candidates, found).filter { $0.1 == nil }.map(\.0)
        guard unknown.isEmpty else {
            throw ServingError(404, "unknown candidate item_id\(unknown.count > 1 ? "s" : "") \(unknown.prefix(5).map { "'\($0)'" }.joined(separator: ", "))")
        }
        let ids = found.map { $0! }
        let scores = ids.allSatisfy({ Int($0) < c.base }) ? m.scores(user: Int(u), items: ids) : ids.map { i in
            let d = m.users.cols
            return zip(m.users.data[(Int(u) * d)..<(Int(u) * d + d)], c.vector(i)).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        }
        let scored = zip(r.candidates, scores).map { ScoredItem(itemId: $0, score: $1) }
        return ItemsResponse(items: scored.sorted { $0.score > $1.score }, modelVersion: m.version)
    }
}

/// Scored items as indices into a served catalogue, best first, with the response's `source` (nil: none).
struct RankedItems: ItemListResponse {
    let catalogue: ServedCatalogue
    let found: [(Int32, Float)]
    let source: String?

    var modelVersion: String { catalogue.model.version }
    var sourceField: String? { source }
    var itemCount: Int { found.count }
    func appendItemHead(_ n: Int, to out: inout [UInt8]) { catalogue.appendItemHead(found[n].0, to: &out) }
    func score(_ n: Int) -> Float { found[n].1 }
    var scoredItems: [ScoredItem] { found.map { ScoredItem(itemId: catalogue.token($0.0), score: $0.1) } }
}
