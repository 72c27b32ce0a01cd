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

/// The serving logic behind the HTTP routes, independent of HTTP; safe to call from many requests at once.
/// `reload()` swaps in a freshly loaded model without interrupting requests in flight (they keep the old one).
public final class ServingBackend: @unchecked Sendable {
    public static let maxK = 1000
    public static let maxCandidates = 10_000

    private let lock = NSLock()
    private var current: ServingModel?
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

    /// Loads (or reloads) the model; on failure the model being served stays in place.
    @discardableResult
    public func reload() throws -> ServingModel {
        let fresh: ServingModel
        do { fresh = try load() } catch { metrics.recordReload(succeeded: false); throw error }
        lock.lock(); current = fresh; lock.unlock()
        metrics.recordReload(succeeded: true)
        return fresh
    }

    func ready() throws -> ServingModel {
        guard let m = model else { throw ServingError(503, "no model loaded yet") }
        return m
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
        let m = try ready()
        let k = try ServingBackend.checkK(r.k)
        var excluded = (r.excludeItems ?? []).compactMap { m.itemIds.lookup($0) }
        if let id = r.userId, let u = m.userIds.lookup(id) {
            if r.excludeSeen ?? true { excluded += m.seen.columns(ofRow: Int(u)) }
            return RankedItems(model: m, found: m.nearest(m.users.gatherRows([u]), k: k, excluding: excluded), source: "model")
        }
        if r.userId == nil && r.userFeatures == nil {
            throw ServingError(400, "give user_id or user_features")
        }
        if let features = r.userFeatures, let e = m.coldStartEmbedding(features.mapValues(\.tokens)) {
            return RankedItems(model: m, found: m.nearest(e, k: k, excluding: excluded), source: "cold_start")
        }
        let skip = Set(excluded)
        let items = m.popular.lazy.filter { !skip.contains($0) }.prefix(k)
        return RankedItems(model: m, found: items.enumerated().map { ($0.element, Float(-$0.offset)) }, source: "popularity")
    }

    public func similarItems(_ r: SimilarItemsRequest) throws -> ItemsResponse {
        let ranked = try rankedSimilarItems(r)
        return ItemsResponse(items: ranked.scoredItems, modelVersion: ranked.modelVersion)
    }

    func rankedSimilarItems(_ r: SimilarItemsRequest) throws -> RankedItems {
        let m = try ready()
        let k = try ServingBackend.checkK(r.k)
        guard let i = m.itemIds.lookup(r.itemId) else { throw ServingError(404, "unknown item_id '\(r.itemId)'") }
        return RankedItems(model: m, found: m.nearest(m.items.gatherRows([i]), k: k, excluding: [i]), source: nil)
    }

    /// Pre-ranking: the model's scores for the given candidates, best first. Unknown candidates are an error.
    public func score(_ r: ScoreRequest) throws -> ItemsResponse {
        let m = try ready()
        guard let u = m.userIds.lookup(r.userId) else { throw ServingError(404, "unknown user_id '\(r.userId)'") }
        guard r.candidates.count <= ServingBackend.maxCandidates else {
            throw ServingError(400, "at most \(ServingBackend.maxCandidates) candidates, got \(r.candidates.count)")
        }
        let unknown = r.candidates.filter { m.itemIds.lookup($0) == nil }
        guard unknown.isEmpty else {
            throw ServingError(404, "unknown candidate item_id\(unknown.count > 1 ? "s" : "") \(unknown.prefix(5).map { "'\($0)'" }.joined(separator: ", "))")
        }
        let scores = m.scores(user: Int(u), items: r.candidates.map { m.itemIds.lookup($0)! })
        let scored = zip(r.candidates, scores).map { ScoredItem(itemId: $0, score: $1) }
        return ItemsResponse(items: scored.sorted { $0.score > $1.score }, modelVersion: m.version)
    }
}

/// Scored items as indices into `model`'s catalogue, best first, with the response's `source` (nil: none).
struct RankedItems: ItemListResponse {
    let model: ServingModel
    let found: [(Int32, Float)]
    let source: String?

    var modelVersion: String { model.version }
    var sourceField: String? { source }
    var itemCount: Int { found.count }
    func appendItemHead(_ n: Int, to out: inout [UInt8]) { model.itemJSONHeads.append(Int(found[n].0), to: &out) }
    func score(_ n: Int) -> Float { found[n].1 }
    var scoredItems: [ScoredItem] { found.map { ScoredItem(itemId: model.itemIds.token($0.0), score: $0.1) } }
}
