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

    /// Splits `log` per user; `seed` drives the random order (same seed ⇒ same split).
    public static func make(_ log: InteractionLog, method: SplitMethod, seed: UInt64) -> Split {
        var rng = RNG(seed: seed)
        var parts: [[Int]] = [[], [], []]
        let inter = log.interactions
        for var positions in inter.positionsByUser(users: log.numUsers) where !positions.isEmpty {
            switch method {
            case .randomRatio(let ratios):
                rng.shuffle(&positions)
                append(positions, Split.counts(total: positions.count, ratios: ratios), &parts)
            case .temporalRatio(let ratios):
                sortByTime(&positions, inter)
                append(positions, Split.counts(total: positions.count, ratios: ratios), &parts)
            case .leaveOneOut:
                if inter.timestamps != nil { sortByTime(&positions, inter) } else { rng.shuffle(&positions) }
                let n = positions.count
                let held = n >= 3 ? 2 : n - 1
                append(positions, [n - held, held >= 2 ? 1 : 0, held >= 1 ? 1 : 0], &parts)
            }
        }
        return Split(train: inter.subset(parts[0]), valid: inter.subset(parts[1]), test: inter.subset(parts[2]))
    }

    private static func sortByTime(_ positions: inout [Int], _ inter: Interactions) {
        guard let t = inter.timestamps else { return }
        positions.sort { t[$0] < t[$1] || (t[$0] == t[$1] && $0 < $1) }
    }

    private static func append(_ positions: [Int], _ counts: [Int], _ parts: inout [[Int]]) {
        var start = 0
        for k in 0..<3 {
            parts[k].append(contentsOf: positions[start..<(start + counts[k])])
            start += counts[k]
        }
    }
}

import TandemTensor
