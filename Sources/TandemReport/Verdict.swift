import Foundation

/// The effect of a change measured over seeds: the mean paired difference (treatment − control, one pair per seed)
/// and its 95% confidence interval from Student's t.
public struct Effect: Equatable, Sendable {
    public let mean: Double
    public let lower: Double, upper: Double
    /// Pairs the interval rests on.
    public let n: Int
    /// The control's mean, for relative effects.
    public let baseline: Double
    /// The sample standard deviation of the paired differences (0 with one pair).
    public let sd: Double

    /// Paired by position: `treatment[i]` and `control[i]` share a seed. With one pair the interval is unbounded.
    public init(treatment: [Double], control: [Double]) {
        precondition(treatment.count == control.count && !treatment.isEmpty, "an effect needs one control per treatment run")
        let d = zip(treatment, control).map { $0 - $1 }
        let count = d.count, m = d.reduce(0, +) / Double(d.count)
        n = count; mean = m
        baseline = control.reduce(0, +) / Double(count)
        if count < 2 {
            lower = -.infinity; upper = .infinity; sd = 0
        } else {
            sd = (d.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(count - 1)).squareRoot()
            let half = Effect.t975(degreesOfFreedom: count - 1) * sd / Double(count).squareRoot()
            lower = m - half; upper = m + half
        }
    }

    /// The effect relative to the size of the control's mean (0.02 = +2%; a negated lower-is-better metric keeps the sign
    /// of its effect).
    public var relative: Double { baseline == 0 ? 0 : mean / abs(baseline) }

    /// The seeds this comparison needs for a 95% interval that resolves it against the equivalence margin `margin` (in
    /// the metric's units) with probability `power` (80%), if the pilot's mean and spread hold: to tell its sign when
    /// |mean| ≥ margin (the interval's half-width below |mean|), else to show it negligible (half-width below margin −
    /// |mean|). Student-t quantiles at each n: n ≥ ((t₀.₉₇₅ + t₀.₈) · sd / distance)². nil when more than `cap` seeds
    /// would be needed (or the pilot has one pair, so no spread); the pilot's own n when it is already enough.
    /// Fixed from the pilot before any extra run: adding seeds until an interval happens to clear would inflate false
    /// verdicts.
    public func seedsToResolve(margin: Double, cap: Int = 10) -> Int? {
        guard n >= 2 else { return nil }
        let distance = abs(mean) >= margin ? abs(mean) : margin - abs(mean)
        guard sd > 0 else { return n }
        for k in max(n, 2)...max(n, cap) {
            let half = (Effect.t975(degreesOfFreedom: k - 1) + Effect.t80(degreesOfFreedom: k - 1)) * sd / Double(k).squareRoot()
            if half < distance { return k }
        }
        return nil
    }

    /// The 80% quantile of Student's t (one-sided: 80% power), to 3 decimals from the table; 0.842 beyond 30.
    static func t80(degreesOfFreedom k: Int) -> Double {
        let table: [Double] = [1.376, 1.061, 0.978, 0.941, 0.920, 0.906, 0.896, 0.889, 0.883, 0.879, 0.876, 0.873, 0.870, 0.868,
                               0.866, 0.865, 0.863, 0.862, 0.861, 0.860, 0.859, 0.858, 0.858, 0.857, 0.856, 0.856, 0.855, 0.855,
                               0.854, 0.854]
        return k >= 1 && k <= table.count ? table[k - 1] : 0.842
    }

    /// The 97.5% quantile of Student's t (two-sided 95%), exact to 3 decimals from the table; 1.96 beyond 30.
    static func t975(degreesOfFreedom k: Int) -> Double {
        let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
                               2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
                               2.045, 2.042]
        return k >= 1 && k <= table.count ? table[k - 1] : 1.96
    }
}

/// How an effect's size is judged: as a share of the control's mean (NDCG, recall: ratios of a quantity with a true
/// zero), or in the metric's own units (log-scale or signed quantities such as uniformity, whose zero is arbitrary, so a
/// percentage of it means nothing).
public enum EffectScale: Sendable, Equatable {
    /// The equivalence margin is this share of |control mean| (0.01: ±1%).
    case relative(Double)
    /// The equivalence margin is this many units of the metric.
    case absolute(Double)

    /// ±1% of the control: the report's margin for ranking metrics.
    public static let onePercent = EffectScale.relative(0.01)

    /// The margin in the metric's units for an effect.
    public func margin(_ e: Effect) -> Double {
        switch self {
        case .relative(let share): return abs(e.baseline) * share
        case .absolute(let units): return units
        }
    }
}

/// What the numbers say about a claim that a change helps (a positive effect), read from the 95% interval against an
/// equivalence margin ±m, in this order: negligible, supported, contradicted, inconclusive.
public enum Verdict: String, Sendable, CaseIterable {
    /// The whole interval lies inside ±m: whatever the sign, no effect worth the name (an equivalence test).
    case negligible
    /// The whole interval is above zero and not inside ±m.
    case supported
    /// The whole interval is below zero and not inside ±m: the change hurts.
    case contradicted
    /// The interval spans zero and reaches past the margin: more seeds are needed.
    case inconclusive

    public init(_ e: Effect, scale: EffectScale = .onePercent) {
        let m = scale.margin(e)
        if e.lower > -m && e.upper < m {
            self = .negligible
        } else if e.lower > 0 {
            self = .supported
        } else if e.upper < 0 {
            self = .contradicted
        } else {
            self = .inconclusive
        }
    }
}
