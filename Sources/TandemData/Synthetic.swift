import TandemTensor

/// A synthetic interaction log with known structure, for tests and scale benchmarks.
///
/// Users and items belong to planted clusters. An interaction picks a user (activity is heavy-tailed), then with
/// probability `affinity` an item from the user's cluster, else any item; within either pool items are drawn by a
/// power law (Zipf exponent `popularityExponent`), so a few items dominate as in real catalogues.
/// Side features are noisy copies of the clusters: a user "segment", an item "genre" and a multi-hot "tags" field.
public struct SyntheticConfig: Sendable {
    public var users: Int = 1000
    public var items: Int = 500
    public var interactions: Int = 20_000
    public var clusters: Int = 10
    public var affinity: Double = 0.8
    public var popularityExponent: Double = 0.8
    /// Probability that a side feature shows the true cluster (else a random one).
    public var featureFidelity: Double = 0.8
    public var seed: UInt64 = 42

    public init(users: Int = 1000, items: Int = 500, interactions: Int = 20_000, clusters: Int = 10, seed: UInt64 = 42) {
        self.users = users; self.items = items; self.interactions = interactions; self.clusters = clusters; self.seed = seed
    }
}

extension SyntheticConfig {
    /// Parses `synthetic[:users=N,items=N,interactions=N,clusters=N,seed=N]` (the `dataset` setting); nil if malformed.
    public init?(parsing s: String) {
        self.init()
        let parts = s.split(separator: ":", maxSplits: 1)
        guard parts.first == "synthetic" else { return nil }
        guard parts.count == 2 else { return }
        for kv in parts[1].split(separator: ",") {
            let pair = kv.split(separator: "=")
            guard pair.count == 2, let v = Int(pair[1]), v > 0 else { return nil }
            switch pair[0] {
            case "users": users = v
            case "items": items = v
            case "interactions": interactions = v
            case "clusters": clusters = v
            case "seed": seed = UInt64(v)
            default: return nil
            }
        }
    }
}

public struct SyntheticData: Sendable {
    public let log: InteractionLog
    public let userCluster: [Int]
    public let itemCluster: [Int]
    public let userFeatures: FeatureSet
    public let itemFeatures: FeatureSet

    public init(_ c: SyntheticConfig) {
        precondition(c.users > 0 && c.items > 0 && c.clusters > 0)
        var rng = RNG(seed: c.seed)
        let userCluster = (0..<c.users).map { _ in rng.int(below: c.clusters) }
        let itemCluster = (0..<c.items).map { _ in rng.int(below: c.clusters) }
        // Popularity ranks are random, so popularity is independent of the cluster.
        var rank = Array(0..<c.items)
        rng.shuffle(&rank)
        let weight = rank.map { 1 / Double($0 + 1).pow(c.popularityExponent) }
        let global = AliasTable(weight)
        var members = [[Int]](repeating: [], count: c.clusters)
        for (i, k) in itemCluster.enumerated() { members[k].append(i) }
        let perCluster = members.map { AliasTable($0.isEmpty ? [1] : $0.map { weight[$0] }) }
        let activity = AliasTable((0..<c.users).map { _ in Double(rng.normal()).exp() })  // log-normal activity
        var users: [Int32] = [], items: [Int32] = []
        users.reserveCapacity(c.interactions); items.reserveCapacity(c.interactions)
        var seen = Set<Int64>(minimumCapacity: c.interactions)  // sized once: no transient second table while growing
        var attempts = 0
        while users.count < c.interactions && attempts < c.interactions * 20 {
            attempts += 1
            let u = activity.sample(&rng)
            let k = userCluster[u]
            let i: Int
            if rng.uniformDouble() < c.affinity && !members[k].isEmpty { i = members[k][perCluster[k].sample(&rng)] } else { i = global.sample(&rng) }
            if seen.insert(Int64(u) << 32 | Int64(i)).inserted { users.append(Int32(u)); items.append(Int32(i)) }
        }
        let userIds = IdMap(tokens: (0..<c.users).map { "u\($0)" })
        let itemIds = IdMap(tokens: (0..<c.items).map { "i\($0)" })
        log = InteractionLog(interactions: Interactions(users: users, items: items), userIds: userIds, itemIds: itemIds)
        self.userCluster = userCluster
        self.itemCluster = itemCluster
        func noisy(_ k: Int) -> Int { rng.uniformDouble() < c.featureFidelity ? k : rng.int(below: c.clusters) }
        let clusterVocab = IdMap(tokens: (0..<c.clusters).map { "c\($0)" })
        userFeatures = FeatureSet(fields: [.categorical("segment", vocabulary: clusterVocab, categories: userCluster.map { Int32(noisy($0) + 1) })],
                                  entityCount: c.users)
        var offsets = [0], tags: [Int32] = []
        for k in itemCluster {
            let a = noisy(k), b = noisy(k)
            tags.append(Int32(a + 1)); if b != a { tags.append(Int32(b + 1)) }
            offsets.append(tags.count)
        }
        itemFeatures = FeatureSet(fields: [.categorical("genre", vocabulary: clusterVocab, categories: itemCluster.map { Int32(noisy($0) + 1) }),
                                           .multiHot("tags", vocabulary: clusterVocab, offsets: offsets, values: tags)],
                                  entityCount: c.items)
    }

    /// A dataset over this log, split per user.
    public func dataset(split method: SplitMethod = .randomRatio([0.8, 0.1, 0.1]), seed: UInt64 = 2020) -> Dataset {
        Dataset(name: "synthetic", userIds: log.userIds, itemIds: log.itemIds, split: Split.make(log, method: method, seed: seed),
                userFeatures: userFeatures, itemFeatures: itemFeatures)
    }
}

/// Walker's alias method: O(1) draws from a fixed discrete distribution.
public struct AliasTable: Sendable {
    private var probability: [Double]
    private var alias: [Int]

    public init(_ weights: [Double]) {
        let n = weights.count
        precondition(n > 0, "alias table needs at least one weight")
        let total = weights.reduce(0, +)
        precondition(total > 0, "alias table weights sum to zero")
        var scaled = weights.map { $0 * Double(n) / total }
        probability = [Double](repeating: 1, count: n)
        alias = Array(0..<n)
        var small = [Int](), large = [Int]()
        for (i, p) in scaled.enumerated() { if p < 1 { small.append(i) } else { large.append(i) } }
        while let s = small.popLast(), let l = large.popLast() {
            probability[s] = scaled[s]; alias[s] = l
            scaled[l] -= 1 - scaled[s]
            if scaled[l] < 1 { small.append(l) } else { large.append(l) }
        }
    }

    public func sample(_ rng: inout RNG) -> Int {
        let i = rng.int(below: probability.count)
        return rng.uniformDouble() < probability[i] ? i : alias[i]
    }
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
extension Double {
    func pow(_ e: Double) -> Double { Glibc.pow(self, e) }
    func exp() -> Double { Glibc.exp(self) }
}
