import Foundation
import TandemData
import TandemDistributed

/// What the test suites share: the planted-clusters dataset, temporary paths, and ranks run as threads.
public enum Fixtures {
    /// The package's root directory (where configs/, scripts/ and data/ are), found from this file's place in Tests/.
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// 300 users, 120 items and 6,000 interactions in 4 planted clusters (seed 3), split 80/10/10: small enough to
    /// train in seconds, structured enough that a model that learns must beat Pop on it.
    public static func plantedClusters() -> Dataset {
        SyntheticData(SyntheticConfig(users: 300, items: 120, interactions: 6000, clusters: 4, seed: 3)).dataset()
    }

    /// A fresh path under the temporary directory, `tandem-LABEL-<uuid>` (nothing is created there).
    public static func temporaryPath(_ label: String) -> String {
        NSTemporaryDirectory() + "tandem-\(label)-\(UUID().uuidString)"
    }

    /// Runs `body` once per rank of a `size`-rank group, each on its own thread with its own communicator
    /// (`ThreadCommunicator`), and returns the results in rank order; the first error any rank threw is rethrown.
    public static func onRanks<T>(_ size: Int, _ body: @escaping @Sendable (Communicator) throws -> T) throws -> [T] {
        let group = ThreadCommunicator.group(size: size)
        let results = Results<T>(size)
        let done = DispatchSemaphore(value: 0)
        for comm in group {
            let thread = Thread {
                results.set(comm.rank, Result { try body(comm) })
                done.signal()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        for _ in 0..<size { done.wait() }
        return try results.values.map { try $0!.get() }
    }
}

/// The ranks' results, written from their threads.
private final class Results<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<T, Error>?]
    init(_ size: Int) { slots = Array(repeating: nil, count: size) }
    func set(_ rank: Int, _ r: Result<T, Error>) { lock.lock(); slots[rank] = r; lock.unlock() }
    var values: [Result<T, Error>?] { lock.lock(); defer { lock.unlock() }; return slots }
}
