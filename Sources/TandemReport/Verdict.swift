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

    /// Paired by position: `treatment[i]` and `control[i]` share a seed. With one pair the interval is unbounded.
    public init(treatment: [Double], control: [Double]) {
        precondition(treatment.count == control.count && !treatment.isEmpty, "an effect needs one control per treatment run")
        let d = zip(treatment, control).map { $0 - $1 }
        let count = d.count, m = d.reduce(0, +) / Double(d.count)
        n = count; mean = m
        baseline = control.reduce(0, +) / Double(count)
        if count < 2 {
            lower = -.infinity; upper = .infinity
        } else {
            let sd = (d.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(count - 1)).squareRoot()
            let half = Effect.t975(degreesOfFreedom: count - 1) * sd / Double(count).squareRoot()
            lower = m - half; upper = m + half
        }
    }

    /// The effect relative to the size of the control's mean (0.02 = +2%; a negated lower-is-better metric keeps the sign
    /// of its effect).
    public var relative: Double { baseline == 0 ? 0 : mean / abs(baseline) }

    /// The 97.5% quantile of Student's t (two-sided 95%), exact to 3 decimals from the table; 1.96 beyond 30.
    static func t975(degreesOfFreedom k: Int) -> Double {
        let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
                               2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
                               2.045, 2.042]
        return k >= 1 && k <= table.count ? table[k - 1] : 1.96
    }
}

/// What the numbers say about a claim that a change helps (a positive effect).
public enum Verdict: String, Sendable {
    /// The whole 95% interval is above zero.
    case supported
    /// The whole interval is below zero, or inside ± the equivalence margin (no effect worth the name).
    case notSupported = "not supported"
    /// The interval spans zero and reaches past the margin: more seeds are needed.
    case inconclusive

    /// `margin`: the relative effect (of the control's mean) below which a change counts as no change, 1% by default.
    public init(_ e: Effect, margin: Double = 0.01) {
        let m = abs(e.baseline) * margin
        if e.lower > 0 {
            self = .supported
        } else if e.upper < 0 || (e.lower > -m && e.upper < m) {
            self = .notSupported
        } else {
            self = .inconclusive
        }
    }
}
