import Foundation
import Hummingbird
import TandemTensor

/// Feeds random and mutated request bodies through the same decoding and backend calls the routes use.
/// Any crash ends the process (the point of the run); every body must end in a response or an HTTP error.
public struct RequestFuzzer {
    public struct Outcome: Sendable { public var accepted = 0, rejected = 0 }

    static let seeds: [(String, String)] = [
        ("recommend", #"{"user_id": "1", "k": 10, "exclude_seen": true, "exclude_items": ["1", "2"]}"#),
        ("recommend", #"{"user_features": {"age": "24", "gender": "M", "genres": ["a", "b"], "x": 3.5}, "k": 5}"#),
        ("similar", #"{"item_id": "1", "k": 3}"#),
        ("score", #"{"user_id": "1", "candidates": ["1", "2", "3"]}"#),
        ("items", #"{"item_id": "new", "features": {"genre": "c1", "tags": ["t1", "t2"], "year": 1999}}"#),
    ]
    static let fragments = ["{", "}", "[", "]", "\"", ":", ",", "null", "true", "-1", "1e999", "0", "999999999999999999999",
                            "\"k\"", "\"user_id\"", "\"item_id\"", "\"candidates\"", "\"user_features\"", "\\u0000", "\u{FFFD}", " ", "NaN"]

    public let backend: ServingBackend
    public init(backend: ServingBackend) { self.backend = backend }

    /// Runs `iterations` bodies drawn from `seed`; returns how many were answered and how many rejected with an error.
    public func run(iterations: Int, seed: UInt64) -> Outcome {
        var rng = RNG(seed: seed)
        var outcome = Outcome()
        for _ in 0..<iterations {
            let (endpoint, base) = RequestFuzzer.seeds[rng.int(below: RequestFuzzer.seeds.count)]
            let body = mutate(base, &rng)
            if handle(endpoint, body) { outcome.accepted += 1 } else { outcome.rejected += 1 }
        }
        return outcome
    }

    func mutate(_ base: String, _ rng: inout RNG) -> Data {
        switch rng.int(below: 4) {
        case 0:  // random bytes
            return Data((0..<rng.int(below: 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        default:  // a few edits of a valid body
            var chars = Array(base.unicodeScalars).map(String.init)
            for _ in 0..<(1 + rng.int(below: 4)) {
                let at = chars.isEmpty ? 0 : rng.int(below: chars.count)
                switch rng.int(below: 3) {
                case 0: if !chars.isEmpty { chars.remove(at: at) }
                case 1: chars.insert(RequestFuzzer.fragments[rng.int(below: RequestFuzzer.fragments.count)], at: at)
                default: if !chars.isEmpty { chars[at] = RequestFuzzer.fragments[rng.int(below: RequestFuzzer.fragments.count)] }
                }
            }
            return Data(chars.joined().utf8)
        }
    }

    /// True when the body produced a response, false when it was rejected with an error.
    func handle(_ endpoint: String, _ body: Data) -> Bool {
        do {
            switch endpoint {
            case "recommend": _ = try serving { try backend.recommend(try decodeJSON(RecommendRequest.self, body)) }
            case "similar": _ = try serving { try backend.similarItems(try decodeJSON(SimilarItemsRequest.self, body)) }
            case "items": _ = try serving { try backend.putItem(try decodeJSON(ItemRequest.self, body)) }
            default: _ = try serving { try backend.score(try decodeJSON(ScoreRequest.self, body)) }
            }
            return true
        } catch {
            return false
        }
    }
}
