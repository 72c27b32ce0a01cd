import Testing
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import TandemReport

/// Parses `text` as XML, collecting each element's name and attributes: fails the test if it is not well-formed.
final class Elements: NSObject, XMLParserDelegate {
    var found: [(name: String, attributes: [String: String])] = []
    var text = ""
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String]) { found.append((name, attributes)) }
    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    static func parse(_ svg: String) throws -> Elements {
        let parser = XMLParser(data: Data(svg.utf8)), elements = Elements()
        parser.delegate = elements
        try #require(parser.parse(), "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")")
        return elements
    }
    func count(_ name: String, class cls: String? = nil) -> Int {
        found.filter { $0.name == name && (cls == nil || $0.attributes["class"] == cls) }.count
    }
}

@Suite struct ScaleTests {
    /// Linear scales widen to nice ticks (1, 2, 5 × 10ᵏ) and map their ends to the pixel ends.
    @Test func linearTicksAreNiceAndCoverTheData() {
        let s = Scale(.linear, covering: [0.213, 0.348], pixels: (300, 30))
        #expect(s.lower == 0.2 && s.upper == 0.35 && s.ticks == [0.2, 0.25, 0.3, 0.35])
        #expect(s.label(0.25) == "0.25")
        #expect(s.ticks.first! >= s.lower && s.ticks.last! <= s.upper)
        #expect(abs(s.position(s.lower) - 300) < 1e-9 && abs(s.position(s.upper) - 30) < 1e-9)
        let unit = Scale(.linear, covering: [0, 10], pixels: (0, 100))
        #expect(unit.ticks == [0, 2, 4, 6, 8, 10])
        #expect(unit.position(5) == 50 && unit.label(4) == "4")
        #expect(Scale(.linear, covering: [0, 0.5], pixels: (0, 1)).ticks == [0, 0.1, 0.2, 0.3, 0.4, 0.5])
        #expect(Scale(.linear, covering: [0, 0.5], pixels: (0, 1)).label(0.3) == "0.3")
    }

    /// Log scales place each decade the same distance apart; short ranges get 2 and 5 ticks too.
    @Test func logScalesSpaceDecadesEvenly() {
        let s = Scale(.log, covering: [0.01, 1], pixels: (0, 200))
        #expect(abs(s.position(0.1) - 100) < 1e-9 && abs(s.position(1) - 200) < 1e-9)
        #expect(s.ticks == [0.01, 0.1, 1])
        let short = Scale(.log, covering: [0.05, 1], pixels: (0, 1))
        #expect(short.ticks == [0.05, 0.1, 0.2, 0.5, 1])
        #expect(Scale(.log, covering: [0, -1, 2, 20], pixels: (0, 1)).lower == 2)  // non-positive values are not on a log axis
    }

    @Test func degenerateDataStillGivesAnAxis() {
        let s = Scale(.linear, covering: [3, 3], pixels: (0, 1))
        #expect(s.lower < 3 && s.upper > 3 && !s.ticks.isEmpty)
        #expect(!Scale(.linear, covering: [], pixels: (0, 1)).ticks.isEmpty)
    }
}

@Suite struct SVGTests {
    /// A plot with every series style is well-formed XML with its ticks, one polyline per line, one polygon per band,
    /// a marker per point, a legend entry per series, and escaped text.
    @Test func plotsAreWellFormedWithEverySeries() throws {
        let plot = Plot(title: "NDCG@20 vs τ <C2> & \"more\"", xLabel: "τ", yLabel: "NDCG@20", xScale: .log, series: [
            Series("band", style: .band, x: [0.05, 0.1, 0.5], y: [0.31, 0.33, 0.30], lower: [0.29, 0.32, 0.28]),
            Series("mean", style: .line, x: [0.5, 0.05, 0.1], y: [0.29, 0.30, 0.325]),
            Series("runs", style: .points, x: [0.05, 0.1], y: [0.3, 0.32], colourValues: [1, 2]),
        ])
        let e = try Elements.parse(plot.svg)
        #expect(e.found.first?.name == "svg" && e.found.first?.attributes["xmlns"] == "http://www.w3.org/2000/svg")
        #expect(e.count("polyline", class: "series line") == 1 && e.count("polygon", class: "series band") == 1)
        #expect(e.count("circle", class: "series point") == 2)
        #expect(e.count("line", class: "tick x") == plot.scales.x.ticks.count && e.count("line", class: "tick y") == plot.scales.y.ticks.count)
        #expect(plot.scales.x.ticks == [0.05, 0.1, 0.2, 0.5])
        #expect(e.text.contains("NDCG@20 vs τ <C2> & \"more\"") && e.text.contains("(log scale)"))
        #expect(["band", "mean", "runs"].allSatisfy { e.text.contains($0) })
        // The line is drawn in x order, whatever order the points came in.
        let line = try #require(e.found.first { $0.attributes["class"] == "series line" }?.attributes["points"])
        let xs = line.split(separator: " ").map { Double($0.split(separator: ",")[0])! }
        #expect(xs == xs.sorted())
    }

    /// Bars stand on zero, one per series and category, with error bars where given.
    @Test func barsStandOnZero() throws {
        let chart = BarChart(title: "tail recall", yLabel: "Recall@20", categories: ["100%", "10%"],
                             series: [("SSL off", [0.05, 0.02], [0.01, 0.005]), ("SSL on", [0.06, 0.03], nil)])
        let e = try Elements.parse(chart.svg)
        let bars = e.found.filter { $0.attributes["class"] == "series bar" }
        #expect(bars.count == 4 && e.count("line", class: "error") == 2)
        let zero = chart.scale.position(0)
        for bar in bars {
            let bottom = Double(bar.attributes["y"]!)! + Double(bar.attributes["height"]!)!
            #expect(abs(bottom - zero) < 0.11)
        }
        #expect(chart.scale.lower == 0)
    }
}

@Suite struct VerdictTests {
    /// Hand-computed: differences 0.01, 0.02, 0.02 → mean 0.016667, sd 0.005774, t(2) 4.303 → 95% CI [0.0023233, 0.0310100]
    /// (scipy's t.ppf(0.975, 2) = 4.30265 moves the ends by 5e-7).
    @Test func pairedIntervalsMatchAHandComputation() {
        let e = Effect(treatment: [0.33, 0.34, 0.35], control: [0.32, 0.32, 0.33])
        #expect(abs(e.mean - 0.0166667) < 1e-6 && abs(e.lower - 0.0023233) < 1e-6 && abs(e.upper - 0.0310100) < 1e-6)
        #expect(e.n == 3 && abs(e.baseline - 0.3233333) < 1e-6)
        #expect(Verdict(e) == .supported)
    }

    /// Negligible: differences 0.001, 0.0015, 0.002 on a 0.30 control → 95% interval [0.00026, 0.00274], above zero
    /// but inside ±0.003 (1%): an equivalence, checked before "supported" (Book-Crossing's C6 row was such a case).
    @Test func negligibleWhenTheIntervalIsInsideTheMargin() {
        let e = Effect(treatment: [0.301, 0.3015, 0.302], control: [0.30, 0.30, 0.30])
        #expect(e.lower > 0 && e.upper < 0.003)
        #expect(Verdict(e) == .negligible)
        // The same numbers against a margin of ±0.1% of the control: the interval reaches past it, so supported.
        #expect(Verdict(e, scale: .relative(0.001)) == .supported)
    }

    /// Supported: differences 0.01, 0.02, 0.02 → [0.0023, 0.0310], above zero and past ±1% of 0.3233.
    @Test func supportedWhenTheIntervalIsAboveZero() {
        #expect(Verdict(Effect(treatment: [0.33, 0.34, 0.35], control: [0.32, 0.32, 0.33])) == .supported)
    }

    /// Contradicted: differences −0.02, −0.02, −0.021 → [−0.0218, −0.0196], below zero and past ±1%.
    @Test func contradictedWhenTheIntervalIsBelowZero() {
        #expect(Verdict(Effect(treatment: [0.30, 0.305, 0.31], control: [0.32, 0.325, 0.331])) == .contradicted)
    }

    /// Inconclusive: differences 0.03, −0.02, 0.02 span zero widely; one seed has no interval at all.
    @Test func inconclusiveWhenTheIntervalSpansZeroPastTheMargin() {
        #expect(Verdict(Effect(treatment: [0.33, 0.29, 0.32], control: [0.30, 0.31, 0.30])) == .inconclusive)
        #expect(Verdict(Effect(treatment: [0.40], control: [0.30])) == .inconclusive)
    }

    /// Seeds to resolve, by hand: differences 0.01, 0.02, 0.0 (mean 0.01, sd 0.01) against ±0.003 need the half-width
    /// (t₀.₉₇₅ + t₀.₈)·0.01/√n below 0.01: n 9 gives (2.306 + 0.889)/3 = 1.065, n 10 gives (2.262 + 0.883)/√10 = 0.995.
    /// Differences 0.004, −0.001, 0.003 (mean 0.002, sd 0.00265) must show |effect| < 0.003: a half-width under 0.001
    /// needs more than 10 seeds. A pilot already tight enough keeps its n; one seed has no spread to plan from.
    @Test func seedsToResolveFollowAPowerCalculation() {
        let sign = Effect(treatment: [0.31, 0.32, 0.30], control: [0.30, 0.30, 0.30])
        #expect(Verdict(sign) == .inconclusive)
        #expect(sign.seedsToResolve(margin: 0.003) == 10)
        #expect(sign.seedsToResolve(margin: 0.003, cap: 9) == nil)
        let small = Effect(treatment: [0.304, 0.299, 0.303], control: [0.30, 0.30, 0.30])
        #expect(abs(small.sd - 0.0026458) < 1e-6)
        #expect(small.seedsToResolve(margin: 0.003) == nil)
        let tight = Effect(treatment: [0.3005, 0.2995, 0.30], control: [0.30, 0.30, 0.30])
        #expect(tight.seedsToResolve(margin: 0.003) == 3)
        #expect(Effect(treatment: [0.4], control: [0.3]).seedsToResolve(margin: 0.003) == nil)
    }

    /// A log-scale metric is judged in its own units: uniformity −3.95 vs −3.94 (negated: lower is better) differs by
    /// 0.01, interval [0.0088, 0.0112]: negligible against ±0.02, supported against ±0.005. A relative margin would be
    /// ±0.039 there (1% of 3.94), and near a control of zero no margin at all.
    @Test func absoluteScaleIgnoresTheControlsSize() {
        let e = Effect(treatment: [3.95, 3.9505, 3.9495], control: [3.94, 3.94, 3.94])
        #expect(Verdict(e, scale: .absolute(0.02)) == .negligible)
        #expect(Verdict(e, scale: .absolute(0.005)) == .supported)
        let nearZero = Effect(treatment: [0.012, 0.011, 0.013], control: [0.001, 0.0, 0.002])
        #expect(Verdict(nearZero, scale: .absolute(0.02)) == .negligible)
        #expect(Verdict(nearZero) == .supported)  // ±1% of a control of 0.001 is no margin at all
    }
}
