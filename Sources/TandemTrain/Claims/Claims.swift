import TandemReport

/// One part of the claims report: the labelled runs it needs on a dataset, its row in the Budget table, and its page
/// sections with their verdicts, drawn from those runs (and any other part's). `ClaimsReport.claims` lists the parts in
/// page order; the plan, the page and the budget iterate over it, so a new claim is one type and one entry there.
protocol Claim: Sendable {
    /// Its row name in the Budget table.
    var budgetName: String { get }
    /// The runs it needs on a dataset of `items` items.
    func runs(_ settings: ClaimSettings, items: Int) -> [(label: String, settings: RunSettings)]
    /// Its sections and verdicts, from the planned runs.
    func sections(_ report: ClaimsReport, _ planned: [ClaimsReport.Planned]) -> (sections: [ReportPage.Section], findings: [ClaimFinding])
}

/// A metric a claim reads from a run: a key of its test metrics or geometry, or item uniformity at the last epoch.
public struct MetricKey: Hashable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ key: String) { description = key }

    public static let ndcg20 = MetricKey("ndcg@20")
    /// Recall@20 on the 80% least popular items.
    public static let tailRecall20 = MetricKey("recall@20/tail")
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
}

/// C1: more negatives per row help.
struct NegativesClaim: Claim {
    var budgetName: String { "C1 negatives" }
    func runs(_ s: ClaimSettings, items: Int) -> [(label: String, settings: RunSettings)] {
        s.negativeRuns(items: items).map { ($0.label, $0.settings) }
    }
    func sections(_ r: ClaimsReport, _ planned: [ClaimsReport.Planned]) -> (sections: [ReportPage.Section], findings: [ClaimFinding]) {
        r.negativesSection(planned)
    }
}

/// C2, the temperature matters, and C3, L2 normalisation helps (the same runs).
struct TemperatureClaims: Claim {
    var budgetName: String { "C2 + C3 temperature, cosine vs dot" }
    func runs(_ s: ClaimSettings, items: Int) -> [(label: String, settings: RunSettings)] {
        s.temperatureRuns().map { ($0.label, $0.settings) }
    }
    func sections(_ r: ClaimsReport, _ planned: [ClaimsReport.Planned]) -> (sections: [ReportPage.Section], findings: [ClaimFinding]) {
        r.temperatureSections(planned)
    }
}

/// C4: self-supervised feature masking helps on sparse data and tail items.
struct SelfSupervisionClaim: Claim {
    var budgetName: String { "C4 SSL" }
    func runs(_ s: ClaimSettings, items: Int) -> [(label: String, settings: RunSettings)] {
        s.sslRuns().map { ($0.label, $0.settings) }
    }
    func sections(_ r: ClaimsReport, _ planned: [ClaimsReport.Planned]) -> (sections: [ReportPage.Section], findings: [ClaimFinding]) {
        r.sslSection(planned)
    }
}

/// C5: graph contrastive views help sparse users.
struct GraphViewsClaim: Claim {
    var budgetName: String { "C5 graph views" }
    func runs(_ s: ClaimSettings, items: Int) -> [(label: String, settings: RunSettings)] { s.graphRuns() }
    func sections(_ r: ClaimsReport, _ planned: [ClaimsReport.Planned]) -> (sections: [ReportPage.Section], findings: [ClaimFinding]) {
        r.graphSection(planned)
    }
}

/// C6: negatives keep embeddings uniform (its own run trains without negatives; it also reads C1's and C2's runs).
struct UniformityClaim: Claim {
    var budgetName: String { "C6 no negatives" }
    func runs(_ s: ClaimSettings, items: Int) -> [(label: String, settings: RunSettings)] { s.noNegativeRuns() }
    func sections(_ r: ClaimsReport, _ planned: [ClaimsReport.Planned]) -> (sections: [ReportPage.Section], findings: [ClaimFinding]) {
        r.uniformitySection(planned)
    }
}

/// Item cold start: a measurement, no verdict.
struct ColdStartMeasurement: Claim {
    var budgetName: String { "item cold start" }
    func runs(_ s: ClaimSettings, items: Int) -> [(label: String, settings: RunSettings)] { s.coldRuns() }
    func sections(_ r: ClaimsReport, _ planned: [ClaimsReport.Planned]) -> (sections: [ReportPage.Section], findings: [ClaimFinding]) {
        r.coldStartSection(planned)
    }
}
