import Foundation
import TandemData

/// One finished run of the claims report, as a line of `runs.jsonl`.
public struct RunRecord: Codable, Sendable {
    /// Identifies the run: a hash of its full config and of the code that ran it.
    public var key: String
    public var dataset: String
    /// The run's name within the report (e.g. "in-batch B 1024"), shared by its seeds.
    public var label: String
    public var seed: UInt64
    public var report: RunReport

    public init(key: String, dataset: String, label: String, seed: UInt64, report: RunReport) {
        self.key = key; self.dataset = dataset; self.label = label; self.seed = seed; self.report = report
    }
}

/// The runs of a report directory, read from and appended to `runs.jsonl`: a rerun reuses every run whose config and
/// code are unchanged, so an interrupted report resumes where it stopped.
public final class RunCache {
    public let path: String
    public private(set) var records: [String: RunRecord] = [:]
    /// Every readable record in file order, later lines last (a run redone for a metric its first record lacked has
    /// two records with one config).
    public private(set) var inOrder: [RunRecord] = []
    /// Lines that could not be read back (a run cut off while being written): counted, skipped, rerun.
    public private(set) var unreadableLines = 0

    public init(path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { return }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for line in text.split(separator: "\n") where !line.isEmpty {
            if let r = try? RunCache.decoder.decode(RunRecord.self, from: Data(line.utf8)) {
                records[r.key] = r; inOrder.append(r)
            } else {
                unreadableLines += 1
            }
        }
    }

    /// Appends one record as one line, flushed before returning.
    public func append(_ record: RunRecord) throws {
        var line = try RunCache.encoder.encode(record)
        line.append(UInt8(ascii: "\n"))
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw DataError(file: path, "cannot create (disk full or no permission?)")
            }
        }
        guard let handle = FileHandle(forUpdatingAtPath: path) else { throw DataError(file: path, "cannot open for appending") }
        defer { try? handle.close() }
        do {
            // After a line cut off mid-write (a killed run), start a new line, or this record would join the broken one.
            let end = try handle.seekToEnd()
            if end > 0 {
                try handle.seek(toOffset: end - 1)
                if try handle.read(upToCount: 1) != Data([UInt8(ascii: "\n")]) { line.insert(UInt8(ascii: "\n"), at: 0) }
                try handle.seekToEnd()
            }
            try handle.write(contentsOf: line)
            try handle.synchronize()
        } catch {
            throw DataError(file: path, "cannot append a run: \(error.localizedDescription) (disk full?)")
        }
        records[record.key] = record; inOrder.append(record)
    }

    /// The cache key of a config run by `code` (a fingerprint of the executable): FNV-1a over the config's JSON.
    public static func key(_ config: TrainConfig, code: String) throws -> String {
        let json = try encoder.encode(config)
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in json + Array(code.utf8) { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return String(format: "%016llx", h)
    }

    // No key conversion: metric and geometry keys ("uniformity_items") must read back exactly as written.
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }()
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }()
}
