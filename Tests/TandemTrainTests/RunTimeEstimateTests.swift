import Testing
@testable import TandemTrain

/// The claims report's time-left estimate, against hand-computed sums.
struct RunTimeEstimateTests {
    typealias Kind = RunTimeEstimate.Kind

    @Test func runsLeftAreTimedByTheirOwnSeedsElseScaledFromOtherDatasets() {
        // Dataset "small" is 100 work units (interactions × epochs), "big" 1,000; "unsized" has no size.
        var e = RunTimeEstimate(size: ["small": 100, "big": 1_000])
        #expect(e.estimate(Kind(dataset: "small", label: "mf")) == nil)  // nothing timed yet
        e.record(Kind(dataset: "small", label: "mf"), seconds: 2)
        e.record(Kind(dataset: "small", label: "mf"), seconds: 4)
        // Same dataset and label: the mean of its seeds.
        #expect(e.estimate(Kind(dataset: "small", label: "mf")) == 3)
        // Same label, bigger dataset: 0.03 s per unit × 1,000 units.
        #expect(abs(e.estimate(Kind(dataset: "big", label: "mf"))! - 30) < 1e-9)
        // A label not timed anywhere: every timed run's time per unit (only MF so far) × 1,000.
        #expect(abs(e.estimate(Kind(dataset: "big", label: "graph"))! - 30) < 1e-9)
        e.record(Kind(dataset: "small", label: "graph"), seconds: 10)
        // Once timed on the small dataset, the graph label scales from its own time: 0.1 s per unit × 1,000.
        #expect(abs(e.estimate(Kind(dataset: "big", label: "graph"))! - 100) < 1e-9)
        #expect(e.estimate(Kind(dataset: "unsized", label: "mf")) == nil)
        // Once MF is timed on the big dataset at 20× the small one (not the 10× of their sizes), the graph label scales
        // by the measured 20×.
        e.record(Kind(dataset: "big", label: "mf"), seconds: 60)
        #expect(abs(e.estimate(Kind(dataset: "big", label: "graph"))! - 200) < 1e-9)

        let left = [Kind(dataset: "small", label: "mf"), Kind(dataset: "big", label: "mf"), Kind(dataset: "big", label: "graph")]
        #expect(abs(e.remaining(left)! - 263) < 1e-9)  // 3 + 60 + 200
        #expect(e.remaining(left + [Kind(dataset: "unsized", label: "mf")]) == nil)
        #expect(e.remaining([]) == 0)
    }
}
