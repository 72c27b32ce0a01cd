import Foundation

/// One data series of a `Plot`.
public struct Series: Sendable {
    public enum Style: Sendable {
        /// Points joined in x order.
        case line
        /// Unjoined markers; with `colourValues`, each marker is coloured by its value (a continuous colour scale).
        case points
        /// A shaded region between `lower` and `upper` (e.g. mean ± std), drawn under lines.
        case band
    }
    public var name: String
    public var style: Style
    public var x: [Double]
    public var y: [Double]
    /// For `.band`: the region's lower edge (`y` is the upper edge).
    public var lower: [Double]
    /// For `.points`: one value per point, mapped to colour.
    public var colourValues: [Double]?
    /// The series' colour (a CSS colour); nil: the palette's next one. A line and its band share one.
    public var colour: String?

    /// Colour-blind-safe colours (Okabe–Ito), in the order series get them.
    public static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

    public init(_ name: String, style: Style, x: [Double], y: [Double], lower: [Double] = [], colourValues: [Double]? = nil,
                colour: String? = nil) {
        precondition(x.count == y.count, "series \(name): \(x.count) x values, \(y.count) y values")
        precondition(style != .band || lower.count == y.count, "band \(name) needs one lower value per point")
        self.name = name; self.style = style; self.x = x; self.y = y; self.lower = lower; self.colourValues = colourValues
        self.colour = colour
    }
}

/// An x–y chart (lines, bands, points) written as standalone SVG: axes with ticks and labels, linear or log scales, a
/// legend. No scripts and no external resources, so a page embedding it reads offline.
public struct Plot: Sendable {
    public var title: String
    public var xLabel: String, yLabel: String
    public var xScale: Scale.Kind = .linear, yScale: Scale.Kind = .linear
    public var series: [Series] = []
    public var width = 520.0, height = 320.0

    public init(title: String, xLabel: String, yLabel: String, xScale: Scale.Kind = .linear, yScale: Scale.Kind = .linear,
                series: [Series] = []) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.xScale = xScale; self.yScale = yScale; self.series = series
    }

    static let margin = (left: 64.0, right: 150.0, top: 30.0, bottom: 46.0)

    /// The scales the chart draws with (exposed for tests: where a value lands).
    public var scales: (x: Scale, y: Scale) {
        let m = Plot.margin
        let xs = series.flatMap(\.x), ys = series.flatMap { $0.y + $0.lower }
        return (Scale(xScale, covering: xs, pixels: (m.left, width - m.right)),
                Scale(yScale, covering: ys, pixels: (height - m.bottom, m.top)))
    }

    public var svg: String {
        let (sx, sy) = scales
        var out = SVGText.open(width: width, height: height, title: title)
        out += SVGText.axes(x: sx, y: sy, xLabel: xLabel, yLabel: yLabel, width: width, height: height, margin: Plot.margin)
        let colourRange = series.compactMap(\.colourValues).flatMap { $0 }.filter(\.isFinite)
        let colours = series.enumerated().map { $0.element.colour ?? SVGText.palette[$0.offset % SVGText.palette.count] }
        for (k, s) in series.enumerated() {
            let colour = colours[k]
            let order = s.x.indices.filter { s.x[$0].isFinite && s.y[$0].isFinite && (xScale == .linear || s.x[$0] > 0) }
                .sorted { s.x[$0] < s.x[$1] }
            switch s.style {
            case .line:
                let pts = order.map { "\(SVGText.f(sx.position(s.x[$0]))),\(SVGText.f(sy.position(s.y[$0])))" }
                out += "<polyline class=\"series line\" data-series=\"\(SVGText.escape(s.name))\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(pts.joined(separator: " "))\"/>\n"
                for i in order {
                    out += "<circle cx=\"\(SVGText.f(sx.position(s.x[i])))\" cy=\"\(SVGText.f(sy.position(s.y[i])))\" r=\"2.5\" fill=\"\(colour)\"><title>\(SVGText.escape(s.name)): \(SVGText.g(s.x[i])), \(SVGText.g(s.y[i]))</title></circle>\n"
                }
            case .band:
                let upper = order.map { "\(SVGText.f(sx.position(s.x[$0]))),\(SVGText.f(sy.position(s.y[$0])))" }
                let lower = order.reversed().map { "\(SVGText.f(sx.position(s.x[$0]))),\(SVGText.f(sy.position(s.lower[$0])))" }
                out += "<polygon class=\"series band\" data-series=\"\(SVGText.escape(s.name))\" fill=\"\(colour)\" fill-opacity=\"0.18\" stroke=\"none\" points=\"\((upper + lower).joined(separator: " "))\"/>\n"
            case .points:
                for i in order {
                    let fill = s.colourValues.map { SVGText.colour($0[i], range: colourRange) } ?? colour
                    out += "<circle class=\"series point\" data-series=\"\(SVGText.escape(s.name))\" cx=\"\(SVGText.f(sx.position(s.x[i])))\" cy=\"\(SVGText.f(sy.position(s.y[i])))\" r=\"4\" fill=\"\(fill)\" stroke=\"#333\" stroke-width=\"0.5\"><title>\(SVGText.escape(s.name)): \(SVGText.g(s.x[i])), \(SVGText.g(s.y[i]))\(s.colourValues.map { " (\(SVGText.g($0[i])))" } ?? "")</title></circle>\n"
                }
            }
        }
        out += SVGText.legend(zip(colours, series.map(\.name)).map { ($0, $1) }, x: width - Plot.margin.right + 12, y: Plot.margin.top)
        if !colourRange.isEmpty, let lo = colourRange.min(), let hi = colourRange.max() {
            out += "<text x=\"\(SVGText.f(width - Plot.margin.right + 12))\" y=\"\(SVGText.f(height - Plot.margin.bottom))\" font-size=\"10\">colour: \(SVGText.g(lo)) "
                + "<tspan fill=\"\(SVGText.colour(lo, range: colourRange))\">■</tspan> → <tspan fill=\"\(SVGText.colour(hi, range: colourRange))\">■</tspan> \(SVGText.g(hi))</text>\n"
        }
        return out + "</svg>\n"
    }
}

/// Grouped bars: one group per category, one bar per series in each group, optional error bars (± value).
public struct BarChart: Sendable {
    public var title: String
    public var yLabel: String
    public var categories: [String]
    /// Each series: a name and one value (and optionally one ± error) per category.
    public var series: [(name: String, values: [Double], errors: [Double]?)]
    public var width = 520.0, height = 320.0

    public init(title: String, yLabel: String, categories: [String], series: [(name: String, values: [Double], errors: [Double]?)]) {
        for s in series { precondition(s.values.count == categories.count, "bar series \(s.name): one value per category") }
        self.title = title; self.yLabel = yLabel; self.categories = categories; self.series = series
    }

    public var scale: Scale {
        let tops = series.flatMap { s in s.values.indices.map { s.values[$0] + (s.errors?[$0] ?? 0) } }
        let lows = series.flatMap { s in s.values.indices.map { s.values[$0] - (s.errors?[$0] ?? 0) } }
        return Scale(.linear, covering: tops + lows + [0], pixels: (height - Plot.margin.bottom, Plot.margin.top))
    }

    public var svg: String {
        let m = Plot.margin, sy = scale
        var out = SVGText.open(width: width, height: height, title: title)
        out += SVGText.yAxis(sy, label: yLabel, left: m.left, right: width - m.right, height: height)
        let groupWidth = (width - m.left - m.right) / Double(max(1, categories.count))
        let barWidth = groupWidth * 0.8 / Double(max(1, series.count))
        for (c, category) in categories.enumerated() {
            let x0 = m.left + Double(c) * groupWidth + groupWidth * 0.1
            out += "<text x=\"\(SVGText.f(x0 + groupWidth * 0.4))\" y=\"\(SVGText.f(height - m.bottom + 16))\" font-size=\"11\" text-anchor=\"middle\">\(SVGText.escape(category))</text>\n"
            for (k, s) in series.enumerated() where s.values[c].isFinite {
                let x = x0 + Double(k) * barWidth, top = sy.position(max(s.values[c], 0)), base = sy.position(min(s.values[c], 0))
                out += "<rect class=\"series bar\" data-series=\"\(SVGText.escape(s.name))\" x=\"\(SVGText.f(x))\" y=\"\(SVGText.f(top))\" width=\"\(SVGText.f(barWidth * 0.92))\" height=\"\(SVGText.f(base - top))\" fill=\"\(SVGText.palette[k % SVGText.palette.count])\"><title>\(SVGText.escape(s.name)), \(SVGText.escape(category)): \(SVGText.g(s.values[c]))</title></rect>\n"
                if let e = s.errors?[c], e > 0 {
                    let cx = SVGText.f(x + barWidth * 0.46)
                    out += "<line class=\"error\" x1=\"\(cx)\" x2=\"\(cx)\" y1=\"\(SVGText.f(sy.position(s.values[c] - e)))\" y2=\"\(SVGText.f(sy.position(s.values[c] + e)))\" stroke=\"#222\"/>\n"
                }
            }
        }
        out += SVGText.legend(series.enumerated().map { (SVGText.palette[$0.offset % SVGText.palette.count], $0.element.name) },
                              x: width - m.right + 12, y: m.top)
        return out + "</svg>\n"
    }
}

/// The SVG text both chart kinds share.
enum SVGText {
    static let palette = Series.palette

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }
    static func g(_ v: Double) -> String { String(format: "%.4g", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func open(width: Double, height: Double, title: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"sans-serif\">\n"
            + "<title>\(escape(title))</title>\n"
            + "<text x=\"\(f(width / 2))\" y=\"18\" font-size=\"13\" text-anchor=\"middle\" font-weight=\"bold\">\(escape(title))</text>\n"
    }

    static func axes(x: Scale, y: Scale, xLabel: String, yLabel: String, width: Double, height: Double,
                     margin: (left: Double, right: Double, top: Double, bottom: Double)) -> String {
        var out = yAxis(y, label: yLabel, left: margin.left, right: width - margin.right, height: height)
        let base = height - margin.bottom
        out += "<line class=\"axis x\" x1=\"\(f(margin.left))\" x2=\"\(f(width - margin.right))\" y1=\"\(f(base))\" y2=\"\(f(base))\" stroke=\"#333\"/>\n"
        for t in x.ticks {
            let px = f(x.position(t))
            out += "<line class=\"tick x\" x1=\"\(px)\" x2=\"\(px)\" y1=\"\(f(base))\" y2=\"\(f(base + 5))\" stroke=\"#333\"/>"
                + "<text class=\"tick-label x\" x=\"\(px)\" y=\"\(f(base + 17))\" font-size=\"10\" text-anchor=\"middle\">\(x.label(t))</text>\n"
        }
        out += "<text x=\"\(f((margin.left + width - margin.right) / 2))\" y=\"\(f(height - 8))\" font-size=\"11\" text-anchor=\"middle\">\(escape(xLabel))\(x.kind == .log ? " (log scale)" : "")</text>\n"
        return out
    }

    static func yAxis(_ y: Scale, label: String, left: Double, right: Double, height: Double) -> String {
        var out = "<line class=\"axis y\" x1=\"\(f(left))\" x2=\"\(f(left))\" y1=\"\(f(y.start))\" y2=\"\(f(y.end))\" stroke=\"#333\"/>\n"
        for t in y.ticks {
            let py = f(y.position(t))
            out += "<line class=\"tick y\" x1=\"\(f(left - 5))\" x2=\"\(f(left))\" y1=\"\(py)\" y2=\"\(py)\" stroke=\"#333\"/>"
                + "<line class=\"grid\" x1=\"\(f(left))\" x2=\"\(f(right))\" y1=\"\(py)\" y2=\"\(py)\" stroke=\"#ddd\"/>"
                + "<text class=\"tick-label y\" x=\"\(f(left - 8))\" y=\"\(f(y.position(t) + 3.5))\" font-size=\"10\" text-anchor=\"end\">\(y.label(t))</text>\n"
        }
        out += "<text x=\"14\" y=\"\(f((y.start + y.end) / 2))\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(f((y.start + y.end) / 2)))\">\(escape(label))\(y.kind == .log ? " (log scale)" : "")</text>\n"
        return out
    }

    static func legend(_ entries: [(colour: String, name: String)], x: Double, y: Double) -> String {
        var out = "<g class=\"legend\">\n"
        for (k, e) in entries.enumerated() {
            let row = y + Double(k) * 16
            out += "<rect x=\"\(f(x))\" y=\"\(f(row))\" width=\"10\" height=\"10\" fill=\"\(e.colour)\"/>"
                + "<text x=\"\(f(x + 14))\" y=\"\(f(row + 9))\" font-size=\"11\">\(escape(e.name))</text>\n"
        }
        return out + "</g>\n"
    }

    /// A value's colour on a blue → yellow scale over `range` (viridis' ends).
    static func colour(_ v: Double, range: [Double]) -> String {
        guard let lo = range.min(), let hi = range.max(), hi > lo, v.isFinite else { return "#440154" }
        let t = (v - lo) / (hi - lo)
        let a = (0x44, 0x01, 0x54), b = (0xFD, 0xE7, 0x25), mid = (0x21, 0x91, 0x8C)
        func mix(_ p: (Int, Int, Int), _ q: (Int, Int, Int), _ s: Double) -> String {
            String(format: "#%02X%02X%02X", Int(Double(p.0) + (Double(q.0 - p.0)) * s), Int(Double(p.1) + Double(q.1 - p.1) * s),
                   Int(Double(p.2) + Double(q.2 - p.2) * s))
        }
        return t < 0.5 ? mix(a, mid, t * 2) : mix(mid, b, (t - 0.5) * 2)
    }
}
