import Testing
import Foundation
import TandemData

/// The real MovieLens-100k files, as `tandem data fetch ml-100k` (run by scripts/test.sh) leaves them.
let movieLensDirectory: String = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    return (ProcessInfo.processInfo.environment["TANDEM_DATA"] ?? root + "/data") + "/ml-100k"
}()

@Suite(.enabled(if: FileManager.default.fileExists(atPath: movieLensDirectory + "/ml-100k.inter"),
                "run `tandem data fetch ml-100k` (scripts/test.sh does) to enable"))
struct MovieLensTests {
    @Test func readsAndSplitsAsExpected() throws {
        let ds = try Dataset.loadAtomic(directory: movieLensDirectory, name: "ml-100k", feedback: FeedbackOptions(),
                                        split: .randomRatio([0.8, 0.1, 0.1]), seed: 2020,
                                        userColumns: KnownDataset.ml100k.userColumns, itemColumns: KnownDataset.ml100k.itemColumns)
        #expect(ds.numUsers == 943 && ds.numItems == 1682)
        let s = ds.split
        #expect(s.train.count + s.valid.count + s.test.count == 100_000)
        #expect(s.valid.count == s.test.count && s.train.count > 80_000)
        let user = ds.userFeatures!.fields, item = ds.itemFeatures!.fields
        #expect(user.map(\.name) == ["age", "gender", "occupation", "zip_code"])
        #expect(user[1].vocabulary.count == 2 && user[2].vocabulary.count == 21)
        #expect(user[3].vocabulary.tokens.allSatisfy { $0.count <= 2 })
        #expect(item.map(\.name) == ["release_year", "class"])
        #expect(item[1].kind == .multiHot && item[1].vocabulary.count == 19)
        #expect(item[1].categories.isEmpty && item[1].offsets.count == 1683)
        let stats = DataStats(users: ds.numUsers, items: ds.numItems, interactions: s.train + s.valid + s.test)
        #expect(abs(stats.density - 0.063) < 0.001)
    }
}

/// MovieLens-1M as `tandem data fetch ml-1m` (run by scripts/test.sh) leaves it: CRLF files, titles as item ids.
let movieLens1MDirectory = (movieLensDirectory as NSString).deletingLastPathComponent + "/ml-1m"

@Suite(.enabled(if: FileManager.default.fileExists(atPath: movieLens1MDirectory + "/ml-1m.inter"),
                "run `tandem data fetch ml-1m` (scripts/test.sh does) to enable"))
struct MovieLens1MTests {
    @Test func readsCRLFFilesWithTitleIds() throws {
        let ds = try Dataset.loadAtomic(directory: movieLens1MDirectory, name: "ml-1m", feedback: FeedbackOptions(),
                                        split: .randomRatio([0.8, 0.1, 0.1]), seed: 2020,
                                        userColumns: KnownDataset.ml1m.userColumns, itemColumns: KnownDataset.ml1m.itemColumns)
        #expect(ds.numUsers == 6040 && ds.numItems == 3706)
        #expect(ds.split.train.count + ds.split.valid.count + ds.split.test.count == 1_000_209)
        #expect(ds.itemIds.lookup("One Flew Over the Cuckoo's Nest (1975)") != nil)
        #expect(ds.itemIds.tokens.allSatisfy { !$0.hasSuffix("\r") } && ds.userIds.tokens.allSatisfy { !$0.hasSuffix("\r") })
        let genre = try #require(ds.itemFeatures?.fields.first { $0.name == "genre" })
        #expect(genre.kind == .multiHot && genre.vocabulary.count == 18 && genre.vocabulary.lookup("Children's") != nil)
        #expect(ds.userFeatures!.fields.map(\.name) == ["age", "gender", "occupation", "zip_code"])
    }
}
