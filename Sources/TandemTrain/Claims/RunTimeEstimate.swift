/// How long the runs left in a claims report will take, for its progress line.
///
/// A report's runs differ a hundredfold in cost (an MF run on ml-100k takes seconds, a graph run on Book-Crossing
/// minutes) and run in a fixed order, cheap datasets and cheap models first, so the mean time of the runs done so far
/// would promise far too little. Each run left is estimated instead from, in order of preference:
/// 1. the timed runs of the same dataset and label (its other seeds);
/// 2. the timed runs of the same label on other datasets, scaled by how much slower this dataset was than each of them
///    on the labels timed on both (before any is, by the ratio of their sizes);
/// 3. the time per unit of size over every timed run, times its dataset's size.
/// A dataset's size is the work its epoch budget asks for: training interactions × epochs. It misses the full-ranking
/// evaluation (users × items per epoch), which is why measured ratios take over as soon as there are any.
struct RunTimeEstimate {
    /// What a run's time is assumed to depend on besides its seed.
    struct Kind: Hashable { var dataset: String; var label: String }

    /// Work units per dataset (training interactions × epoch budget).
    let size: [String: Double]
    private var seconds: [Kind: [Double]] = [:]

    init(size: [String: Double]) { self.size = size }

    /// Records one run's time (a run just made, or a cached one's training time).
    mutating func record(_ kind: Kind, seconds s: Double) { seconds[kind, default: []].append(s) }

    /// The expected seconds of one run of `kind`, or nil while no run of a dataset with a known size is timed.
    func estimate(_ kind: Kind) -> Double? {
        if let same = seconds[kind] { return mean(same) }
        guard let target = size[kind.dataset], target > 0 else { return nil }
        let scaled = seconds.compactMap { k, times in
            k.label == kind.label ? slowdown(from: k.dataset, to: kind.dataset).map { mean(times) * $0 } : nil
        }
        if !scaled.isEmpty { return mean(scaled) }
        let perUnit = seconds.flatMap { k, times in (size[k.dataset] ?? 0) > 0 ? times.map { $0 / size[k.dataset]! } : [] }
        return perUnit.isEmpty ? nil : mean(perUnit) * target
    }

    /// How many times longer a run takes on dataset `b` than on `a`: the mean ratio over the labels timed on both, else
    /// the ratio of their sizes (nil when a size is unknown).
    private func slowdown(from a: String, to b: String) -> Double? {
        let ratios = seconds.compactMap { k, times in
            k.dataset == a ? seconds[Kind(dataset: b, label: k.label)].map { mean($0) / mean(times) } : nil
        }
        if !ratios.isEmpty { return mean(ratios) }
        guard let sa = size[a], let sb = size[b], sa > 0 else { return nil }
        return sb / sa
    }

    /// The expected seconds of all of `kinds` (nil if any cannot be estimated yet).
    func remaining(_ kinds: [Kind]) -> Double? {
        var total = 0.0
        for k in kinds {
            guard let e = estimate(k) else { return nil }
            total += e
        }
        return total
    }

    private func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(xs.count) }
}
