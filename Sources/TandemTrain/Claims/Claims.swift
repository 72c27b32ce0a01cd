import TandemReport

/// One part of the claims report: the labelled runs it needs on a dataset, its row in the Budget table, and its page
/// sections with their verdicts, drawn from those runs (and any other part's). `ClaimsReport.claims` lists the parts in
/// page order; the plan, the page and the budget iterate over it, so a new claim is one entry there (its runs in
/// `ClaimSweeps.swift`, its section in `ClaimsPage.swift`).
struct Claim: Sendable {
    /// Its row name in the Budget table.
    let budgetName: String
    /// The runs it needs on a dataset of `items` items.
    let runs: @Sendable (ClaimSettings, _ items: Int) -> [(label: String, settings: RunSettings)]
    /// Its sections and verdicts, from the planned runs.
    let sections: @Sendable (ClaimsReport, [ClaimsReport.Planned]) -> (sections: [ReportPage.Section], findings: [ClaimFinding])
    /// Test metrics its runs must hold: a cached run without one (made before the metric existed) runs again.
    var needs: [MetricKey] = []
}

extension ClaimsReport {
    /// The report's parts, in page order (cheap MF runs first).
    static let claims: [Claim] = [
        Claim(budgetName: "C1 negatives", runs: { s, items in s.negativeRuns(items: items).map { ($0.label, $0.settings) } },
              sections: { $0.negativesSection($1) }),
        Claim(budgetName: "C2 + C3 temperature, cosine vs dot, mining", runs: { s, _ in
            s.temperatureRuns().map { ($0.label, $0.settings) } + s.miningRuns().map { ($0.label, $0.settings) }
        }, sections: { $0.temperatureSections($1) }),
        Claim(budgetName: "C4 SSL", runs: { s, _ in s.sslRuns().map { ($0.label, $0.settings) } }, sections: { $0.sslSection($1) },
              needs: [.withinTailRecall20]),
        Claim(budgetName: "C5 graph views", runs: { s, _ in s.graphRuns() }, sections: { $0.graphSection($1) }),
        // C6 trains one setting of its own (no negatives) and also reads C1's and C2's runs.
        Claim(budgetName: "C6 no negatives", runs: { s, _ in s.noNegativeRuns() }, sections: { $0.uniformitySection($1) }),
        // A measurement, no verdict.
        Claim(budgetName: "item cold start", runs: { s, _ in s.coldRuns() }, sections: { $0.coldStartSection($1) }),
    ]
}

/// A metric a claim reads from a run: a key of its test metrics or geometry, or item uniformity at the last epoch.
public struct MetricKey: Hashable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ key: String) { description = key }

    public static let ndcg20 = MetricKey("ndcg@20")
    /// Recall@20 on the 80% least popular items, in the ranking of every item.
    public static let tailRecall20 = MetricKey("recall@20/tail")
    /// Recall@20 on the 80% least popular items, ranked among those items only (head items left out of the ranking).
    public static let withinTailRecall20 = MetricKey("recall@20/within_tail")
    /// NDCG@20 of the third of users with the fewest training interactions.
    public static let sparseUsersNDCG20 = MetricKey("ndcg@20/sparse_users")
    /// Item uniformity at the restored best epoch (lower: more uniform).
    public static let uniformityItems = MetricKey("uniformity_items")
    /// Item uniformity where training left the embeddings (its last evaluated epoch), not at the restored best epoch:
    /// a run without negatives collapses as it trains, but early stopping would hand back its nearly random start.
    public static let finalUniformity = MetricKey("uniformity_items at the last epoch")
    /// The softmax share of each user's 10 highest-scoring negatives at the run's τ.
    public static let hardNegativeShare10 = MetricKey("hard_negative_share@10")
    /// Recall@20 on head or tail items.
    public static func recall20(_ part: String) -> MetricKey { MetricKey("recall@20/\(part)") }
    /// NDCG@20 of one user-activity group.
    public static func ndcg20(group key: String) -> MetricKey { MetricKey("ndcg@20/\(key)") }

    /// How an effect on this metric is judged. Uniformity is the log of a mean Gaussian potential: its zero is arbitrary,
    /// so its effects are read in its own units, and ±0.01 of it is a ±1% change of the potential. Ranking metrics: ±1%
    /// of the control's mean.
    public var scale: EffectScale {
        self == .uniformityItems || self == .finalUniformity ? .absolute(0.01) : .onePercent
    }
}
