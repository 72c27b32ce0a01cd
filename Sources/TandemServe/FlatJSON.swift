import Foundation

/// A strict, fast reader for the shape almost every request has: one JSON object whose values are plain ASCII
/// strings without escapes, small integers, booleans, null, or arrays of such strings.
///
/// JSONDecoder (with snake_case key conversion) is a sizeable share of a request's CPU time. This
/// reader answers nil for anything outside that shape — escapes, non-ASCII bytes, exponents, nested objects, unknown or
/// repeated keys, a wrong type — and the caller then decodes with JSONDecoder, which also writes the error messages.
/// So a body it accepts decodes to exactly what JSONDecoder gives (tested on mutated bodies), and every other body
/// behaves as before.
enum FlatJSON {
    enum Value: Equatable {
        case string(String), int(Int), bool(Bool), null, strings([String])
    }

    /// The object's members in order, or nil when the body is not of the flat shape.
    static func object(_ data: Data) -> [(key: String, value: Value)]? {
        data.withUnsafeBytes { raw in
            var reader = Reader(bytes: raw.bindMemory(to: UInt8.self))
            return reader.object()
        }
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var at = 0

        mutating func skipSpace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
        }

        mutating func take(_ c: UInt8) -> Bool {
            skipSpace()
            guard at < bytes.count, bytes[at] == c else { return false }
            at += 1
            return true
        }

        mutating func object() -> [(key: String, value: Value)]? {
            guard take(UInt8(ascii: "{")) else { return nil }
            var members: [(key: String, value: Value)] = []
            if !take(UInt8(ascii: "}")) {
                repeat {
                    guard let key = string(), take(UInt8(ascii: ":")), let value = value() else { return nil }
                    members.append((key, value))
                } while take(UInt8(ascii: ","))
                guard take(UInt8(ascii: "}")) else { return nil }
            }
            skipSpace()
            return at == bytes.count ? members : nil
        }

        /// A string of printable ASCII without escapes.
        mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = at
            while at < bytes.count {
                let b = bytes[at]
                if b == UInt8(ascii: "\"") {
                    at += 1
                    return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<(at - 1)]), as: UTF8.self)
                }
                guard b >= 0x20, b < 0x7F, b != UInt8(ascii: "\\") else { return nil }
                at += 1
            }
            return nil
        }

        mutating func value() -> Value? {
            skipSpace()
            guard at < bytes.count else { return nil }
            switch bytes[at] {
            case UInt8(ascii: "\""): return string().map(Value.string)
            case UInt8(ascii: "["):
                at += 1
                var list: [String] = []
                if take(UInt8(ascii: "]")) { return .strings(list) }
                repeat {
                    guard let s = string() else { return nil }
                    list.append(s)
                } while take(UInt8(ascii: ","))
                return take(UInt8(ascii: "]")) ? .strings(list) : nil
            case UInt8(ascii: "t"): return word("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return word("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return word("null") ? .null : nil
            default: return integer()
            }
        }

        mutating func word(_ w: StaticString) -> Bool {
            let n = w.utf8CodeUnitCount
            guard at + n <= bytes.count else { return false }
            for i in 0..<n where bytes[at + i] != w.utf8Start[i] { return false }
            at += n
            return true
        }

        /// An integer of at most 18 digits, without a sign, fraction, exponent or leading zero (anything else: nil).
        mutating func integer() -> Value? {
            let start = at
            var v = 0
            while at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") {
                guard at - start < 18 else { return nil }  // 18 digits cannot overflow; longer numbers go to JSONDecoder
                v = v * 10 + Int(bytes[at] - UInt8(ascii: "0"))
                at += 1
            }
            let digits = at - start
            guard digits >= 1, digits == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
            return .int(v)
        }
    }
}

/// A request body with a fast path: `init?(flat:)` builds it from a flat object when every member is a known
/// snake_case key, given at most once, with the right type; nil sends the body to JSONDecoder.
protocol APIRequestBody: Decodable {
    init?(flat members: [(key: String, value: FlatJSON.Value)])
}

/// The members as a dictionary when every key is in `known` and none repeats.
private func fields(_ members: [(key: String, value: FlatJSON.Value)], known: Set<String>) -> [String: FlatJSON.Value]? {
    var out: [String: FlatJSON.Value] = [:]
    for (k, v) in members {
        guard known.contains(k), out.updateValue(v, forKey: k) == nil else { return nil }
    }
    return out
}

extension FlatJSON.Value {
    var string: String? { if case .string(let s) = self { return s }; return nil }
    var int: Int? { if case .int(let v) = self { return v }; return nil }
    var bool: Bool? { if case .bool(let v) = self { return v }; return nil }
    var strings: [String]? { if case .strings(let v) = self { return v }; return nil }
}

/// Reads optional members by type; a member of another type makes the whole body fall back to JSONDecoder.
private struct Members {
    let values: [String: FlatJSON.Value]
    var ok = true

    /// The member's value as `T` (nil when absent or null); a value `extract` cannot read clears `ok`.
    mutating func read<T>(_ key: String, _ extract: (FlatJSON.Value) -> T?) -> T? {
        guard let v = values[key], v != .null else { return nil }
        guard let t = extract(v) else { ok = false; return nil }
        return t
    }
}

extension RecommendRequest: APIRequestBody {
    init?(flat members: [(key: String, value: FlatJSON.Value)]) {
        guard let values = fields(members, known: ["user_id", "user_features", "k", "exclude_seen", "exclude_items"]) else { return nil }
        var m = Members(values: values)
        _ = m.read("user_features") { _ in Never?.none }  // a present object needs JSONDecoder; only null is read here
        self.init(userId: m.read("user_id", \.string), userFeatures: nil, k: m.read("k", \.int), excludeSeen: m.read("exclude_seen", \.bool),
                  excludeItems: m.read("exclude_items", \.strings))
        guard m.ok else { return nil }
    }
}

extension SimilarItemsRequest: APIRequestBody {
    init?(flat members: [(key: String, value: FlatJSON.Value)]) {
        guard let values = fields(members, known: ["item_id", "k"]) else { return nil }
        var m = Members(values: values)
        guard let id = m.read("item_id", \.string) else { return nil }
        self.init(itemId: id, k: m.read("k", \.int))
        guard m.ok else { return nil }
    }
}

extension ScoreRequest: APIRequestBody {
    init?(flat members: [(key: String, value: FlatJSON.Value)]) {
        guard let values = fields(members, known: ["user_id", "candidates"]) else { return nil }
        var m = Members(values: values)
        guard let id = m.read("user_id", \.string), let candidates = m.read("candidates", \.strings) else { return nil }
        self.init(userId: id, candidates: candidates)
        guard m.ok else { return nil }
    }
}

extension ItemRequest: APIRequestBody {
    /// `features` is an object: always read by JSONDecoder.
    init?(flat members: [(key: String, value: FlatJSON.Value)]) { return nil }
}
