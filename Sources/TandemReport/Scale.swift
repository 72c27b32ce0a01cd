import Foundation

/// A map from data values to pixels along one axis, linear or base-10 logarithmic, with the "nice" ticks a reader
/// expects (1, 2, 5 × 10ᵏ steps; powers of ten, with 2 and 5 between them on short log axes).
public struct Scale: Equatable, Sendable {
    public enum Kind: String, Sendable { case linear, log }
    public let kind: Kind
    /// The data interval shown (after widening to nice ticks for linear scales).
    public let lower: Double, upper: Double
    /// The pixel interval it maps onto (`start` is where `lower` lands; it may be greater than `end`, as for y axes).
    public let start: Double, end: Double

    /// A scale covering `values` (non-finite values are ignored; a log scale ignores values ≤ 0), widened to nice ticks.
    public init(_ kind: Kind, covering values: [Double], pixels: (start: Double, end: Double)) {
        self.kind = kind; start = pixels.start; end = pixels.end
        let usable = values.filter { $0.isFinite && (kind == .linear || $0 > 0) }
        var lo = usable.min() ?? (kind == .log ? 1 : 0), hi = usable.max() ?? (kind == .log ? 10 : 1)
        switch kind {
        case .linear:
            if lo == hi { lo -= lo == 0 ? 1 : abs(lo) * 0.1; hi += hi == 0 ? 1 : abs(hi) * 0.1 }
            let step = Scale.niceStep((hi - lo) / 5)
            lower = Scale.clean((lo / step).rounded(.down) * step); upper = Scale.clean((hi / step).rounded(.up) * step)
        case .log:
            if lo == hi { lo /= 2; hi *= 2 }
            lower = lo; upper = hi
        }
    }

    /// The pixel position of `value`.
    public func position(_ value: Double) -> Double {
        let t: Double
        switch kind {
        case .linear: t = (value - lower) / (upper - lower)
        case .log: t = (log10(value) - log10(lower)) / (log10(upper) - log10(lower))
        }
        return start + t * (end - start)
    }

    /// Tick values inside [lower, upper].
    public var ticks: [Double] {
        switch kind {
        case .linear:
            let step = Scale.niceStep((upper - lower) / 5)
            // A hair of tolerance: 0.35 / 0.05 is 6.999… in binary and must still give the tick at 0.35.
            let first = (lower / step - 1e-9).rounded(.up), last = (upper / step + 1e-9).rounded(.down)
            return stride(from: first, through: last, by: 1).map { Scale.clean($0 * step) }
        case .log:
            let decades = log10(upper) - log10(lower)
            let mantissas: [Double] = decades < 2 ? [1, 2, 5] : [1]
            var out: [Double] = []
            for e in Int(log10(lower).rounded(.down))...Int(log10(upper).rounded(.up)) {
                for m in mantissas {
                    let v = Scale.clean(m * pow(10, Double(e)))
                    if v >= lower * (1 - 1e-9) && v <= upper * (1 + 1e-9) { out.append(v) }
                }
            }
            return out
        }
    }

    /// The tick's label: as few digits as tell the ticks apart.
    public func label(_ value: Double) -> String {
        let step = kind == .linear ? Scale.niceStep((upper - lower) / 5) : value
        let digits = max(0, min(6, -Int(log10(abs(step)).rounded(.down))))
        return String(format: "%.\(digits)f", abs(value) < 1e-12 ? 0 : value)  // never "-0.0"
    }

    /// 1, 2 or 5 × 10ᵏ, the nice step nearest above `rough`.
    static func niceStep(_ rough: Double) -> Double {
        guard rough > 0, rough.isFinite else { return 1 }
        let power = pow(10, log10(rough).rounded(.down))
        let m = rough / power
        return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power
    }

    /// Removes binary noise (0.30000000000000004 → 0.3) so labels and tests see the decimal value.
    static func clean(_ v: Double) -> Double { Double(String(format: "%.12g", v)) ?? v }
}
