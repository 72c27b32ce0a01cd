/// Summary numbers of an interaction set: size, sparsity and how skewed item popularity is.
public struct DataStats: Sendable {
    public let users: Int
    public let items: Int
    public let interactions: Int
    public var density: Double { Double(interactions) / Double(max(1, users * items)) }
    /// Gini coefficient of item popularity (0: uniform, → 1: a few items take everything).
    public let popularityGini: Double
    /// Share of interactions that go to the most popular 20% of items.
    public let top20Share: Double
    public let meanPerUser: Double
    public let meanPerItem: Double

    public init(users: Int, items: Int, interactions: Interactions) {
        self.users = users; self.items = items; self.interactions = interactions.count
        let counts = interactions.itemCounts(items: items).sorted()
        let total = Double(counts.reduce(0, +))
        var weighted = 0.0
        for (k, c) in counts.enumerated() { weighted += Double(k + 1) * Double(c) }
        let n = Double(max(1, items))
        popularityGini = total > 0 ? (2 * weighted) / (n * total) - (n + 1) / n : 0
        let head = counts.reversed().prefix(Int((0.2 * n).rounded(.up)))
        top20Share = total > 0 ? Double(head.reduce(0, +)) / total : 0
        meanPerUser = Double(interactions.count) / Double(max(1, users))
        meanPerItem = Double(interactions.count) / n
    }

    public var report: String {
        """
        users         \(users)
        items         \(items)
        interactions  \(interactions)
        density       \(String(format: "%.4f", density))
        per user      \(String(format: "%.1f", meanPerUser))
        per item      \(String(format: "%.1f", meanPerItem))
        pop. Gini     \(String(format: "%.3f", popularityGini))
        top-20% share \(String(format: "%.3f", top20Share))
        """
    }
}

import Foundation
