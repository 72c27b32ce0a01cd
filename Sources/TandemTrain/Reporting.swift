import Foundation
import TandemData

extension RunReport {
    /// The results JSON: `{"test": {"recall@20": …}, "valid": {…}, "model": …, …}` with lower-case `name@K` keys.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    public func writeJSON(to path: String) throws { try AtomicFile.write(jsonData(), to: path) }
}

/// Mean and sample standard deviation of a metric over several runs.
public struct MeanStd {
    public let mean: Double, std: Double
    public init(_ xs: [Double]) {
        let m = xs.reduce(0, +) / Double(max(1, xs.count))
        mean = m
        std = xs.count > 1 ? (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1)).squareRoot() : 0
    }
    public var formatted: String { std > 0 ? String(format: "%.4f±%.4f", mean, std) : String(format: "%.4f", mean) }
}

/// The table's metric columns for cut-offs `ks`: recall and NDCG at the two smallest, MRR and tail recall at the
/// larger of the two (`[10, 20, 50]`: recall@10, recall@20, ndcg@10, ndcg@20, mrr@20, recall@20/tail).
public func tableColumns(ks: [Int]) -> [String] {
    let shown = Array(ks.sorted().prefix(2))
    guard let last = shown.last else { return [] }
    return shown.map { "recall@\($0)" } + shown.map { "ndcg@\($0)" } + ["mrr@\(last)", "recall@\(last)/tail"]
}

/// A plain-text table of test metrics, one row per label, each cell the mean (± std) over that label's runs.
public func resultTable(_ rows: [(label: String, reports: [RunReport])], ks: [Int] = [10, 20, 50]) -> String {
    let columns = tableColumns(ks: ks)
    let extra = ["alignment", "uniformity_items", "epoch_s"]
    var lines = [(["model", "runs"] + columns + extra)]
    for (label, reports) in rows {
        var cells = [label, "\(reports.count)"]
        for c in columns { cells.append(MeanStd(reports.map { $0.test[c] ?? .nan }).formatted) }
        // A model too wide to embed has no geometry: "-", not "nan".
        for g in ["alignment", "uniformity_items"] {
            cells.append(reports.allSatisfy { $0.geometry[g] == nil } ? "-" : MeanStd(reports.map { $0.geometry[g] ?? .nan }).formatted)
        }
        let epochTimes = reports.flatMap { $0.epochs.map(\.seconds) }
        cells.append(epochTimes.isEmpty ? "-" : String(format: "%.2f", epochTimes.reduce(0, +) / Double(epochTimes.count)))
        lines.append(cells)
    }
    let widths = (0..<lines[0].count).map { c in lines.map { $0[c].count }.max()! }
    return lines.map { row in row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ") }
        .joined(separator: "\n")
}

/// For metrics from a user sample (`eval_users`): how many users were scored of how many, and the 95% intervals of the
/// table's recall and NDCG columns (e.g. `sampled 10000 of 604853 users; 95% interval ± ndcg@20 0.0012, …`); nil for
/// metrics over every user.
public func sampleSummary(_ metrics: [String: Double], ks: [Int] = [10, 20, 50]) -> String? {
    guard let population = metrics["users_population"], let users = metrics["users"] else { return nil }
    let shown = tableColumns(ks: ks).filter { metrics[$0 + "/ci95"] != nil }
    return String(format: "sampled %.0f of %.0f users; 95%% interval ± ", users, population)
        + shown.map { String(format: "%@ %.4f", $0, metrics[$0 + "/ci95"]!) }.joined(separator: ", ")
}
