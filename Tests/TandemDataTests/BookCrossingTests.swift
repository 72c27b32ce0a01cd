import Testing
import Foundation
import TandemData
import TandemTestSupport

/// Book-Crossing's raw files with every quirk the real ones have, written byte by byte: Latin-1 text, CRLF line ends,
/// `\"` escapes inside quoted fields, a line break inside a quoted field, NULL and impossible ages, ISBNs that differ
/// only in case or punctuation, a repeated book, a book with no row, a row with a field too few.
@Suite struct BookCrossingTests {
    static func writeRawFiles(to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func write(_ name: String, _ lines: [String]) throws {
            // Latin-1 bytes, as the real files are: é is the single byte 0xE9.
            let bytes = (lines.joined(separator: "\r\n") + "\r\n").unicodeScalars.map { UInt8($0.value) }
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        try write(BookCrossing.ratingsFile, [
            #""User-ID";"ISBN";"Book-Rating""#,
            #""1";"034545104X";"0""#,
            #""1";"0155061224";"5""#,
            #""2";"034545104x";"8""#,             // the same book, lower-case x: normalised, repeats nothing
            #""2";"\"0155061224";"7""#,           // an escaped quote before the ISBN (four such rows in the real file)
            #""3";"0-15-506122-4";"9""#,           // dashes
            #""3";"0155061224";"9""#,              // user 3 rated it twice once normalised
            #""3";"9999999999";"4""#,              // no row in BX-Books
            #""4";"0155061224""#,                  // a field too few: skipped, with its line
            #""4";"034545104X";"11""#,             // not a rating: skipped
            #""4";"034545104X";"3""#,
        ])
        try write(BookCrossing.usersFile, [
            #""User-ID";"Location";"Age""#,
            #""1";"nyc, new york, usa";NULL"#,
            #""2";"cernusco s"#,                    // a line break inside the quoted location
            #", milan, italy";"34""#,
            "\"3\";\"m\u{E9}rida, yucat\u{E1}n, mexico\";\"230\"",
            #""4";"groningen, \"n/a, netherlands";"17""#,
        ])
        try write(BookCrossing.booksFile, [
            #""ISBN";"Book-Title";"Book-Author";"Year-Of-Publication";"Publisher";"Image-URL-S";"Image-URL-M";"Image-URL-L""#,
            #""034545104X";"Flesh Tones: A Novel";"M. J. Rose";"2002";"Ballantine Books";"s";"m";"l""#,
            #""0155061224";"Rites of Passage \"Vol. 1\"";"Judith Rae";"0";"Heinle";"s";"m";"l""#,
            #""034545104x";"Flesh Tones (again)";"Someone Else";"2003";"Other";"s";"m";"l""#,
        ])
    }

    @Test func convertsTheRawFilesCountingEveryAnomaly() throws {
        let dir = Fixtures.temporaryPath("bx")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeRawFiles(to: dir)
        #expect(!BookCrossing.isConverted(directory: dir))
        let report = try BookCrossing.convert(directory: dir)
        #expect(BookCrossing.isConverted(directory: dir))
        #expect(report.ratings == 8 && report.ratingsSkipped == 1 && report.ratingsBadValue == 1)
        #expect(report.ratingsISBNRepaired == 3 && report.ratingsRepeated == 1 && report.ratedISBNsWithoutBook == 1)
        #expect(report.firstSkippedLines[BookCrossing.ratingsFile] == [9])
        #expect(report.users == 4 && report.usersJoinedLines == 1 && report.usersAgeMissing == 1 && report.usersAgeOutOfRange == 1)
        #expect(report.books == 2 && report.booksDuplicateISBN == 1 && report.booksISBNRepaired == 1 && report.booksYearMissing == 1)
        #expect(report.lines.contains { $0.contains("1 rows rejoined") })

        let ds = try Dataset.loadAtomic(directory: dir, name: "book-crossing", feedback: FeedbackOptions(),
                                        split: .randomRatio([0.8, 0.1, 0.1]), seed: 1,
                                        userColumns: KnownDataset.bookCrossing.userColumns, itemColumns: KnownDataset.bookCrossing.itemColumns)
        // Three books once normalised; user 3's repeat is loaded once.
        #expect(ds.itemIds.tokens.sorted() == ["0155061224", "034545104X", "9999999999"])
        #expect(ds.split.train.count + ds.split.valid.count + ds.split.test.count == 7)
        let user = try #require(ds.userFeatures).fields, item = try #require(ds.itemFeatures).fields
        #expect(user.map(\.name) == ["age", "country"] && item.map(\.name) == ["author", "publisher", "year"])
        func userValue(_ field: FeatureField, _ token: String) -> String? {
            let c = Int(field.categories[Int(ds.userIds.lookup(token)!)])
            return c == 0 ? nil : field.vocabulary.token(Int32(c - 1))
        }
        #expect(userValue(user[0], "1") == nil && userValue(user[0], "2") == "25-34" && userValue(user[0], "3") == nil)
        #expect(userValue(user[0], "4") == "under-18")
        #expect(userValue(user[1], "2") == "italy" && userValue(user[1], "3") == "mexico" && userValue(user[1], "4") == "netherlands")
        func itemValue(_ field: FeatureField, _ token: String) -> String? {
            let c = Int(field.categories[Int(ds.itemIds.lookup(token)!)])
            return c == 0 ? nil : field.vocabulary.token(Int32(c - 1))
        }
        #expect(itemValue(item[0], "034545104X") == "m._j._rose")  // the first of the two rows
        #expect(itemValue(item[2], "0155061224") == nil && itemValue(item[2], "034545104X") == "2002")
        #expect(itemValue(item[0], "9999999999") == nil)
    }

    @Test func latin1TextIsDecodedByteForByte() throws {
        var joined = 0
        let records = BookCrossing.records([0x22, 0x6D, 0xE9, 0x22, 0x3B, 0x22, 0x5C, 0x22, 0x78, 0x22, 0x0D, 0x0A], joined: &joined)
        #expect(records.count == 1 && records[0].fields == ["m\u{E9}", "\"x"] && joined == 0)
    }

    @Test func aMissingFileIsNamed() throws {
        let dir = Fixtures.temporaryPath("bx")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let error = #expect(throws: DataError.self) { try BookCrossing.convert(directory: dir) }
        #expect(error?.file.hasSuffix(BookCrossing.ratingsFile) == true)
    }
}

/// The real Book-Crossing files, as `tandem data fetch book-crossing` (run by scripts/test.sh) leaves them.
let bookCrossingDirectory = URL(fileURLWithPath: movieLensDirectory).deletingLastPathComponent().path + "/book-crossing"

@Suite(.enabled(if: BookCrossing.isConverted(directory: bookCrossingDirectory),
                "run `tandem data fetch book-crossing` (scripts/test.sh does) to enable"))
struct BookCrossingFileTests {
    /// The default view (every rating a positive, 10-core) has the counts scripts/reference/independent_bookcrossing.py computes
    /// from the raw files with Python's csv module.
    @Test func theDefaultViewMatchesTheIndependentScript() throws {
        let ds = try Dataset.loadAtomic(directory: bookCrossingDirectory, name: "book-crossing",
                                        feedback: FeedbackOptions(userCore: 10, itemCore: 10), split: .randomRatio([0.8, 0.1, 0.1]),
                                        seed: 2020, userColumns: KnownDataset.bookCrossing.userColumns,
                                        itemColumns: KnownDataset.bookCrossing.itemColumns)
        #expect(ds.numUsers == 6763 && ds.numItems == 13680)
        #expect(ds.split.train.count + ds.split.valid.count + ds.split.test.count == 374_734)
        #expect(ds.itemFeatures?.fields.map(\.name) == ["author", "publisher", "year"])
    }
}
