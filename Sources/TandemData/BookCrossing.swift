import Foundation

/// Book-Crossing (Ziegler et al. 2005) as shipped: three semicolon-separated, double-quoted, Latin-1, CRLF files
/// (`BX-Book-Ratings.csv`, `BX-Users.csv`, `BX-Books.csv`). `convert` reads them and writes RecBole atomic files
/// (`book-crossing.inter`, `.user`, `.item`) that the ordinary loader reads, counting every anomaly it meets and what it
/// did about it: nothing is dropped or repaired silently.
public enum BookCrossing {
    public static let ratingsFile = "BX-Book-Ratings.csv"
    public static let usersFile = "BX-Users.csv"
    public static let booksFile = "BX-Books.csv"
    /// Written last by `convert`: the conversion's version and its anomaly counts. A directory without it (or with an
    /// older version) is converted again.
    public static let reportFile = "book-crossing.conversion.txt"
    /// Bumped whenever the conversion's output would change.
    static let version = "book-crossing-conversion 2"

    /// What the conversion met, as counts (and, for skipped rows, the first line numbers).
    public struct Report: Equatable, Sendable {
        public var ratings = 0, ratingsRepeated = 0, ratingsSkipped = 0, ratingsEmptyISBN = 0, ratingsISBNRepaired = 0, ratingsBadValue = 0
        public var users = 0, usersSkipped = 0, usersJoinedLines = 0, usersAgeMissing = 0, usersAgeOutOfRange = 0
        public var books = 0, booksSkipped = 0, booksEmptyISBN = 0, booksISBNRepaired = 0, booksDuplicateISBN = 0
        public var booksYearMissing = 0, booksJoinedLines = 0
        public var ratedISBNsWithoutBook = 0
        public var firstSkippedLines: [String: [Int]] = [:]

        /// One line per anomaly, with what was done about it.
        public var lines: [String] {
            var out = [
                "\(BookCrossing.ratingsFile): \(ratings) ratings kept; \(ratingsSkipped) rows skipped (wrong field count); "
                    + "\(ratingsBadValue) skipped (rating not 0–10); \(ratingsEmptyISBN) skipped (no ISBN left after normalising); "
                    + "\(ratingsISBNRepaired) ISBNs normalised (case, quotes, dashes, spaces); \(ratingsRepeated) repeated (user, ISBN) "
                    + "pairs after normalising (loading keeps the first)",
                "\(BookCrossing.usersFile): \(users) users kept; \(usersSkipped) rows skipped; \(usersJoinedLines) rows rejoined "
                    + "(a line break inside a quoted field); age: \(usersAgeMissing) NULL, \(usersAgeOutOfRange) outside 5–100 (both read as missing)",
                "\(BookCrossing.booksFile): \(books) books kept; \(booksSkipped) rows skipped; \(booksJoinedLines) rows rejoined; "
                    + "\(booksEmptyISBN) without an ISBN; \(booksISBNRepaired) ISBNs normalised; \(booksDuplicateISBN) duplicate ISBNs after "
                    + "normalising (first row kept); \(booksYearMissing) years 0 or after 2006 (read as missing)",
                "\(ratedISBNsWithoutBook) rated ISBNs have no row in \(BookCrossing.booksFile) (their item features are missing)",
            ]
            for (file, skipped) in firstSkippedLines.sorted(by: { $0.key < $1.key }) where !skipped.isEmpty {
                out.append("\(file): first skipped lines \(skipped.map(String.init).joined(separator: ", "))")
            }
            return out
        }
    }

    /// One record of a semicolon-separated file: its fields and the line it starts on (1-based).
    public struct Record: Equatable, Sendable { public var line: Int; public var fields: [String] }

    /// Splits Book-Crossing's CSV dialect into records: fields separated by `;`, optionally double-quoted; inside quotes
    /// `\"` is a literal quote (the files escape quotes that way, unlike RFC 4180) and a line break continues the field;
    /// bytes are Latin-1; lines end in CRLF or LF. `joined` counts records that spanned a line break.
    public static func records(_ bytes: [UInt8], joined: inout Int) -> [Record] {
        var out: [Record] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false, line = 1, start = 1, spans = false
        var i = 0
        func latin1(_ b: [UInt8]) -> String { String(decoding: b.map { UInt16($0) }, as: UTF16.self) }
        func endRecord() {
            fields.append(latin1(field)); field.removeAll(keepingCapacity: true)
            if !(fields.count == 1 && fields[0].isEmpty) { out.append(Record(line: start, fields: fields)) }
            if spans { joined += 1 }
            fields.removeAll(keepingCapacity: true); spans = false
        }
        while i < bytes.count {
            let c = bytes[i]
            if quoted {
                if c == UInt8(ascii: "\\") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                    field.append(UInt8(ascii: "\"")); i += 2; continue
                }
                if c == UInt8(ascii: "\"") {
                    quoted = false
                } else if c == UInt8(ascii: "\r") || c == UInt8(ascii: "\n") {
                    // A line break inside quotes: the record goes on; the break itself becomes a space.
                    if c == UInt8(ascii: "\r") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n") { i += 1 }
                    line += 1; spans = true
                    if field.last != UInt8(ascii: " ") { field.append(UInt8(ascii: " ")) }
                } else {
                    field.append(c)
                }
            } else if c == UInt8(ascii: "\"") {
                quoted = true
            } else if c == UInt8(ascii: ";") {
                fields.append(latin1(field)); field.removeAll(keepingCapacity: true)
            } else if c == UInt8(ascii: "\r") || c == UInt8(ascii: "\n") {
                if c == UInt8(ascii: "\r") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n") { i += 1 }
                endRecord(); line += 1; start = line
            } else {
                field.append(c)
            }
            i += 1
        }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        return out
    }

    /// An ISBN as an item id: upper case, letters and digits only (drops the quotes, dashes, dots and spaces some
    /// rows carry; keeps Amazon's B-prefixed ids whole).
    public static func normalizedISBN(_ raw: String) -> String {
        String(raw.uppercased().unicodeScalars.filter { ("0"..."9").contains($0) || ("A"..."Z").contains($0) }.map(Character.init))
    }

    /// MovieLens-1M's age buckets, so the two datasets' user features read alike.
    static func ageBucket(_ age: Int) -> String {
        switch age {
        case ..<18: return "under-18"
        case 18..<25: return "18-24"
        case 25..<35: return "25-34"
        case 35..<45: return "35-44"
        case 45..<50: return "45-49"
        case 50..<56: return "50-55"
        default: return "56+"
        }
    }

    /// A free-text token for an atomic file: lower case, every whitespace character (tabs, no-break spaces) `_`, since a
    /// token holds no space; "n/a" and similar placeholders are empty (missing).
    static func token(_ s: String) -> String {
        let t = s.trimmingCharacters(in: .whitespaces).lowercased()
        if t.isEmpty || t == "n/a" || t == "null" || t == "unknown" || t == "," || t == "." { return "" }
        return String(t.map { $0.isWhitespace ? "_" : $0 })
    }

    /// Reads the three raw files in `directory` and writes `book-crossing.{inter,user,item}` beside them (each
    /// atomically, the report last). Throws when a file is missing or has no header; anomalies are counted, not thrown.
    @discardableResult
    public static func convert(directory: String) throws -> Report {
        var report = Report()
        func read(_ name: String, fieldCount: Int) throws -> (records: [Record], joined: Int) {
            let path = directory + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else { throw DataError(file: path, "cannot read file") }
            var joined = 0
            var records = records([UInt8](data), joined: &joined)
            guard let header = records.first, header.fields.count == fieldCount else {
                throw DataError(file: path, line: 1, "expected a header of \(fieldCount) fields")
            }
            records.removeFirst()
            var skipped: [Int] = []
            let kept = records.filter { r in
                if r.fields.count == fieldCount { return true }
                skipped.append(r.line); return false
            }
            report.firstSkippedLines[name] = Array(skipped.prefix(5))
            switch name {
            case ratingsFile: report.ratingsSkipped = skipped.count
            case usersFile: report.usersSkipped = skipped.count
            default: report.booksSkipped = skipped.count
            }
            return (kept, joined)
        }
        // Ratings: user, ISBN, rating (0 = implicit, 1–10 explicit).
        var inter = "user_id:token\titem_id:token\trating:float\n"
        var rated = Set<String>(), pairs = Set<String>()
        for r in try read(ratingsFile, fieldCount: 3).records {
            let isbn = normalizedISBN(r.fields[1])
            guard !isbn.isEmpty else { report.ratingsEmptyISBN += 1; continue }
            guard let rating = Int(r.fields[2].trimmingCharacters(in: .whitespaces)), (0...10).contains(rating) else {
                report.ratingsBadValue += 1; continue
            }
            if isbn != r.fields[1] { report.ratingsISBNRepaired += 1 }
            let user = token(r.fields[0])
            inter += "\(user)\t\(isbn)\t\(rating)\n"
            if !pairs.insert(user + "\t" + isbn).inserted { report.ratingsRepeated += 1 }
            rated.insert(isbn); report.ratings += 1
        }
        // Users: id, "city, state, country", age (NULL when unknown).
        var users = "user_id:token\tage:token\tcountry:token\tregion:token\n"
        let userRows = try read(usersFile, fieldCount: 3)
        report.usersJoinedLines = userRows.joined
        for r in userRows.records {
            let place = r.fields[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            var age = ""
            if r.fields[2] == "NULL" || r.fields[2].isEmpty {
                report.usersAgeMissing += 1
            } else if let a = Int(r.fields[2]), (5...100).contains(a) {
                age = ageBucket(a)
            } else {
                report.usersAgeOutOfRange += 1
            }
            let country = token(place.last ?? ""), region = place.count >= 2 ? token(place[place.count - 2]) : ""
            users += "\(token(r.fields[0]))\t\(age)\t\(country)\t\(region.isEmpty ? "" : country + "/" + region)\n"
            report.users += 1
        }
        // Books: ISBN, title, author, year, publisher, three image URLs (title and URLs are not features).
        var items = "item_id:token\tauthor:token\tpublisher:token\tyear:token\n"
        var books = Set<String>()
        let bookRows = try read(booksFile, fieldCount: 8)
        report.booksJoinedLines = bookRows.joined
        for r in bookRows.records {
            let isbn = normalizedISBN(r.fields[0])
            guard !isbn.isEmpty else { report.booksEmptyISBN += 1; continue }
            if isbn != r.fields[0] { report.booksISBNRepaired += 1 }
            guard books.insert(isbn).inserted else { report.booksDuplicateISBN += 1; continue }
            var year = ""
            if let y = Int(r.fields[3]), (1...2006).contains(y) { year = String(y) } else { report.booksYearMissing += 1 }
            items += "\(isbn)\t\(token(r.fields[2]))\t\(token(r.fields[4]))\t\(year)\n"
            report.books += 1
        }
        report.ratedISBNsWithoutBook = rated.subtracting(books).count
        for (suffix, text) in [("inter", inter), ("user", users), ("item", items)] {
            try AtomicFile.write(Data(text.utf8), to: directory + "/book-crossing." + suffix)
        }
        try AtomicFile.write(Data(([version] + report.lines).joined(separator: "\n").appending("\n").utf8), to: directory + "/" + reportFile)
        return report
    }

    /// True when `directory` holds converted files from this version of the conversion.
    public static func isConverted(directory: String) -> Bool {
        guard let text = try? String(contentsOfFile: directory + "/" + reportFile, encoding: .utf8) else { return false }
        return text.split(separator: "\n").first.map(String.init) == version
            && ["inter", "user", "item"].allSatisfy { FileManager.default.fileExists(atPath: directory + "/book-crossing." + $0) }
    }
}
