/// How interactions are divided into train, validation and test sets.
public enum SplitMethod: Sendable, Equatable, CustomStringConvertible {
    /// Each user's interactions shuffled, then cut by ratio (RecBole's `RS` with order `RO`).
    case randomRatio([Double])
    /// Each user's interactions in time order, then cut by ratio (oldest go to train).
    case temporalRatio([Double])
    /// Each user's last interaction is test, the one before it validation (time order, or random without timestamps).
    case leaveOneOut

    public var description: String {
        switch self {
        case .randomRatio(let r): return "random \(r.map { "\($0)" }.joined(separator: "/"))"
        case .temporalRatio(let r): return "temporal \(r.map { "\($0)" }.joined(separator: "/"))"
        case .leaveOneOut: return "leave-one-out"
        }
    }

    /// Parses `random:0.8,0.1,0.1`, `temporal:0.8,0.1,0.1`, `loo` (ratios optional: 80/10/10 by default).
    public init?(parsing s: String) {
        let parts = s.split(separator: ":", maxSplits: 1).map(String.init)
        let ratios = parts.count > 1 ? parts[1].split(separator: ",").compactMap { Double($0) } : [0.8, 0.1, 0.1]
        guard ratios.count == 3, ratios.allSatisfy({ $0 >= 0 }), abs(ratios.reduce(0, +) - 1) < 1e-6 else { return nil }
        switch parts[0] {
        case "random": self = .randomRatio(ratios)
        case "temporal": self = .temporalRatio(ratios)
        case "loo", "leave-one-out": self = .leaveOneOut
        default: return nil
        }
    }
}

extension SplitMethod: Codable {
    /// The text `init(parsing:)` reads back: `random:0.8,0.1,0.1`, `temporal:…` or `loo`.
    public var spec: String {
        func ratios(_ r: [Double]) -> String { r.map { "\($0)" }.joined(separator: ",") }
        switch self {
        case .randomRatio(let r): return "random:" + ratios(r)
        case .temporalRatio(let r): return "temporal:" + ratios(r)
        case .leaveOneOut: return "loo"
        }
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let method = SplitMethod(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "'\(text)' is not random[:a,b,c], temporal[:a,b,c] or loo (ratios ≥ 0 summing to 1)"))
        }
        self = method
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(spec)
    }
}

/// Train, validation and test interactions over one shared user and item indexing.
public struct Split: Sendable {
    public var train: Interactions
    public var valid: Interactions
    public var test: Interactions

    public init(train: Interactions, valid: Interactions, test: Interactions) {
        self.train = train; self.valid = valid; self.test = test
    }

    /// Per-group counts for `total` interactions, as RecBole computes them: `floor(ratio · total)` for the
    /// later parts, the rest to train, and an empty later part takes one from train while train keeps more than one.
    public static func counts(total: Int, ratios: [Double]) -> [Int] {
        let sum = ratios.reduce(0, +)
        var cnt = ratios.map { Int($0 / sum * Double(total)) }
        cnt[0] = total - cnt.dropFirst().reduce(0, +)
        for i in stride(from: cnt.count - 1, through: 1, by: -1) where cnt[i] == 0 && cnt[0] > 1 {
            cnt[i] += 1; cnt[0] -= 1
        }
        return cnt
    }

    /// Splits `log` per user; `seed` drives the random order (same seed ⇒ same split). Each part lists users in
    /// index order and, within a user, the shuffled (or time) order; the parts are written straight from the log,
    /// so the split holds one copy of the interactions besides the log and a 4-byte index per interaction.
    public static func make(_ log: InteractionLog, method: SplitMethod, seed: UInt64) -> Split {
        var rng = RNG(seed: seed)
        let inter = log.interactions
        let (start, byUser) = inter.positionsByUser(users: log.numUsers)
        func cut(_ n: Int) -> [Int] {
            switch method {
            case .randomRatio(let ratios), .temporalRatio(let ratios): return Split.counts(total: n, ratios: ratios)
            case .leaveOneOut:
                let held = n >= 3 ? 2 : n - 1
                return [n - held, held >= 2 ? 1 : 0, held >= 1 ? 1 : 0]
            }
        }
        var sizes = [0, 0, 0]
        for u in 0..<log.numUsers where start[u + 1] > start[u] {
            for (k, c) in cut(start[u + 1] - start[u]).enumerated() { sizes[k] += c }
        }
        var parts = sizes.map { Interactions(reservingCapacity: $0, like: inter) }
        for u in 0..<log.numUsers where start[u + 1] > start[u] {
            var positions = byUser[start[u]..<start[u + 1]].map(Int.init)
            switch method {
            case .randomRatio: rng.shuffle(&positions)
            case .temporalRatio: sortByTime(&positions, inter)
            case .leaveOneOut: if inter.timestamps != nil { sortByTime(&positions, inter) } else { rng.shuffle(&positions) }
            }
            var next = 0
            for (k, c) in cut(positions.count).enumerated() {
                for p in positions[next..<(next + c)] { parts[k].append(p, of: inter) }
                next += c
            }
        }
        return Split(train: parts[0], valid: parts[1], test: parts[2])
    }

    private static func sortByTime(_ positions: inout [Int], _ inter: Interactions) {
        guard let t = inter.timestamps else { return }
        positions.sort { t[$0] < t[$1] || (t[$0] == t[$1] && $0 < $1) }
    }
}

import TandemTensor
