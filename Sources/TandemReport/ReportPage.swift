import Foundation

/// A self-contained HTML page: inline CSS, inline SVG figures, no scripts, no external resources — readable offline.
public struct ReportPage: Sendable {
    public struct Section: Sendable {
        public var id: String
        public var title: String
        /// Paragraphs of plain text (escaped when written).
        public var paragraphs: [String] = []
        /// Inline SVG documents (each from `Plot.svg` or `BarChart.svg`).
        public var figures: [String] = []
        /// A table: header and rows of plain-text cells.
        public var table: (header: [String], rows: [[String]])?

        public init(id: String, title: String, paragraphs: [String] = [], figures: [String] = [],
                    table: (header: [String], rows: [[String]])? = nil) {
            self.id = id; self.title = title; self.paragraphs = paragraphs; self.figures = figures; self.table = table
        }
    }

    public var title: String
    /// Lines under the title (the command that made the page, its date).
    public var subtitle: [String]
    public var sections: [Section]

    public init(title: String, subtitle: [String], sections: [Section]) {
        self.title = title; self.subtitle = subtitle; self.sections = sections
    }

    public var html: String {
        var out = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(SVGText.escape(title))</title>
        <style>
        body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; line-height: 1.45; }
        table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
        th { background: #f3f3f3; } .figures { display: flex; flex-wrap: wrap; gap: 12px; } .subtitle { color: #555; }
        .supported { color: #006d2c; font-weight: bold; } .contradicted { color: #a50f15; font-weight: bold; }
        .negligible { color: #4a4a8a; font-weight: bold; }
        .inconclusive { color: #7a5c00; font-weight: bold; } code { background: #f5f5f5; padding: 0 3px; }
        </style></head><body>
        <h1>\(SVGText.escape(title))</h1>

        """
        for line in subtitle { out += "<p class=\"subtitle\">\(SVGText.escape(line))</p>\n" }
        for s in sections {
            out += "<section id=\"\(SVGText.escape(s.id))\">\n<h2>\(SVGText.escape(s.title))</h2>\n"
            for p in s.paragraphs { out += "<p>\(ReportPage.marked(p))</p>\n" }
            if let t = s.table {
                out += "<table>\n<tr>" + t.header.map { "<th>\(SVGText.escape($0))</th>" }.joined() + "</tr>\n"
                for row in t.rows { out += "<tr>" + row.map { "<td>\(ReportPage.marked($0))</td>" }.joined() + "</tr>\n" }
                out += "</table>\n"
            }
            if !s.figures.isEmpty { out += "<div class=\"figures\">\n" + s.figures.joined() + "</div>\n" }
            out += "</section>\n"
        }
        return out + "</body></html>\n"
    }

    /// Escaped text, with the verdict words coloured by their class.
    static func marked(_ text: String) -> String {
        // Placeholders first, so no word is found again inside a span already written.
        let words = Verdict.allCases.map(\.rawValue)
        var s = SVGText.escape(text)
        for (k, word) in words.enumerated() { s = s.replacingOccurrences(of: word, with: String(UnicodeScalar(UInt8(k + 1)))) }
        for (k, word) in words.enumerated() {
            s = s.replacingOccurrences(of: String(UnicodeScalar(UInt8(k + 1))), with: "<span class=\"\(word)\">\(word)</span>")
        }
        return s
    }
}
