import Foundation

/// A problem with an input file, located as precisely as possible (`file:line:column`, 1-based).
public struct DataError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int?
    public let column: Int?
    public let message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, _ message: String) {
        self.file = file; self.line = line; self.column = column; self.message = message
    }

    public var description: String {
        var loc = file
        if let line { loc += ":\(line)" }
        if let column { loc += ":\(column)" }
        return "\(loc): \(message)"
    }
}

/// Settings that cannot be used (a bad value, a combination that cannot work, or settings that do not fit the data),
/// with what would be valid.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ d: String) { description = d }
}

/// The value types of RecBole atomic files (`name:type` in the header).
public enum FieldType: String, Sendable, CaseIterable {
    case token
    case tokenSeq = "token_seq"
    case float
    case floatSeq = "float_seq"
}

/// A delimited text file read into named string columns, remembering where each cell came from.
///
/// Readers validate typed columns on load (a `float` cell that is not a number fails with file:line:column);
/// later conversions (`floats(_:)`) report positions the same way.
public struct Table: Sendable {
    public let file: String
    public let names: [String]
    public let types: [FieldType]
    /// `columns[c][r]`: the raw text of row `r` (data line `r + 2`, after the header) in column `c`.
    public let columns: [[String]]

    public var rowCount: Int { columns.first?.count ?? 0 }

    /// Index of a column, or an error listing the columns there are.
    public func column(_ name: String) throws -> Int {
        guard let c = names.firstIndex(of: name) else {
            throw DataError(file: file, line: 1, "no column '\(name)'; the header has: \(names.joined(separator: ", "))")
        }
        return c
    }

    public func has(_ name: String) -> Bool { names.contains(name) }

    /// A column's values as numbers; a cell that is not one fails with its position.
    public func floats(_ name: String) throws -> [Float] {
        let c = try column(name)
        return try columns[c].enumerated().map { r, s in
            guard let v = Float(s), v.isFinite else {
                throw DataError(file: file, line: r + 2, column: c + 1, "expected a number in column '\(name)', found '\(s)'")
            }
            return v
        }
    }

    /// A column's values split on spaces (RecBole's token_seq / float_seq convention).
    public func sequences(_ name: String) throws -> [[String]] {
        let c = try column(name)
        return columns[c].map { $0.split(separator: " ").map(String.init) }
    }

    /// Reads a RecBole atomic file (`.inter`, `.user`, `.item`): tab-separated, header `name:type`.
    public static func readAtomic(_ path: String) throws -> Table {
        try read(path, delimiter: "\t", typedHeader: true)
    }

    /// Reads CSV (`.csv`, comma) or TSV (anything else, tab) with a header of column names.
    /// A header in atomic form (`name:type`) is accepted too, and its types are checked.
    public static func readDelimited(_ path: String) throws -> Table {
        let delimiter: Character = path.lowercased().hasSuffix(".csv") ? "," : "\t"
        return try read(path, delimiter: delimiter, typedHeader: false)
    }

    static func read(_ path: String, delimiter: Character, typedHeader: Bool) throws -> Table {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw DataError(file: path, "cannot read file (\(FileManager.default.fileExists(atPath: path) ? "not UTF-8 text or unreadable" : "no such file"))")
        }
        return try parse(text, file: path, delimiter: delimiter, typedHeader: typedHeader)
    }

    /// Parses text already in memory (tests, and files read by `read`).
    public static func parse(_ text: String, file: String, delimiter: Character, typedHeader: Bool) throws -> Table {
        // "\r\n" is one Character in Swift, so CRLF files (Windows, ml-1m, Book-Crossing) need both separators.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let headerLine = lines.first, !headerLine.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw DataError(file: file, line: 1, "empty file: expected a header line")
        }
        var names: [String] = []
        var types: [FieldType] = []
        for (c, raw) in headerLine.split(separator: delimiter, omittingEmptySubsequences: false).enumerated() {
            let field = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            let parts = field.split(separator: ":", maxSplits: 1).map(String.init)
            if parts.count == 2 {
                guard let t = FieldType(rawValue: parts[1]) else {
                    throw DataError(file: file, line: 1, column: c + 1,
                                    "unknown field type '\(parts[1])' in '\(field)'; expected one of \(FieldType.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                names.append(parts[0]); types.append(t)
            } else {
                if typedHeader {
                    throw DataError(file: file, line: 1, column: c + 1, "header field '\(field)' is not of the form name:type (e.g. user_id:token)")
                }
                guard !field.isEmpty else { throw DataError(file: file, line: 1, column: c + 1, "empty column name in header") }
                names.append(field); types.append(.token)
            }
        }
        if let dup = Dictionary(grouping: names, by: { $0 }).first(where: { $0.value.count > 1 }) {
            throw DataError(file: file, line: 1, "column '\(dup.key)' appears twice in the header")
        }
        var columns = [[String]](repeating: [], count: names.count)
        for c in columns.indices { columns[c].reserveCapacity(lines.count) }
        for (k, line) in lines.dropFirst().enumerated() {
            let lineNo = k + 2
            var l = Substring(line)
            if l.last == "\r" { l = l.dropLast() }
            if l.isEmpty { continue }
            let cells = l.split(separator: delimiter, omittingEmptySubsequences: false)
            guard cells.count == names.count else {
                throw DataError(file: file, line: lineNo, column: min(cells.count, names.count) + 1,
                                "expected \(names.count) fields (\(names.joined(separator: ", "))), found \(cells.count)")
            }
            for (c, cell) in cells.enumerated() {
                let s = String(cell)
                switch types[c] {
                case .float:
                    guard let v = Float(s.trimmingCharacters(in: .whitespaces)), v.isFinite else {
                        throw DataError(file: file, line: lineNo, column: c + 1, "field '\(names[c])' is float, found '\(s)'")
                    }
                case .floatSeq:
                    for part in s.split(separator: " ") where Float(part) == nil {
                        throw DataError(file: file, line: lineNo, column: c + 1, "field '\(names[c])' is float_seq, found '\(part)'")
                    }
                case .token, .tokenSeq:
                    break
                }
                columns[c].append(s)
            }
        }
        return Table(file: file, names: names, types: types, columns: columns)
    }
}
