import Foundation

/// Ranks that are threads of one process, with the collectives of MPI: lets `swift test` check data-parallel training
/// against one process without mpirun. `ThreadCommunicator.group(size:)` makes one communicator per rank; hand each to
/// its own thread. Sums add the ranks' values in rank order.
public final class ThreadCommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public var size: Int { rendezvous.size }
    private let rendezvous: Rendezvous

    private init(rank: Int, rendezvous: Rendezvous) { self.rank = rank; self.rendezvous = rendezvous }

    /// `size` communicators sharing one group, rank 0 first.
    public static func group(size: Int) -> [ThreadCommunicator] {
        precondition(size >= 1, "a group needs at least one rank")
        let r = Rendezvous(size: size)
        return (0..<size).map { ThreadCommunicator(rank: $0, rendezvous: r) }
    }

    public func allreduceSum(_ values: inout [Float]) { values = sum(rendezvous.exchange(values, rank: rank) as! [[Float]]) }
    public func allreduceSum(_ values: inout [Double]) { values = sum(rendezvous.exchange(values, rank: rank) as! [[Double]]) }

    public func allgatherv(_ values: [Int32]) -> (values: [Int32], counts: [Int]) {
        let all = rendezvous.exchange(values, rank: rank) as! [[Int32]]
        return (all.flatMap { $0 }, all.map(\.count))
    }

    public func allgatherv(_ values: [Float]) -> (values: [Float], counts: [Int]) {
        let all = rendezvous.exchange(values, rank: rank) as! [[Float]]
        return (all.flatMap { $0 }, all.map(\.count))
    }

    public func broadcast(_ bytes: inout [UInt8], root: Int) { bytes = (rendezvous.exchange(bytes, rank: rank) as! [[UInt8]])[root] }
    public func barrier() { _ = rendezvous.exchange(0, rank: rank) }
    public func abort(_ message: String, code: Int32) -> Never { fatalError("rank \(rank): \(message) (code \(code))") }

    private func sum<T: AdditiveArithmetic>(_ all: [[T]]) -> [T] {
        var out = all[0]
        for other in all.dropFirst() {
            precondition(other.count == out.count, "allreduce: ranks sent \(out.count) and \(other.count) values")
            for i in out.indices { out[i] += other[i] }
        }
        return out
    }
}

/// Where the threads of a group meet: each hands a value and gets every rank's, in rank order, once all have.
private final class Rendezvous: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var pending: [Any?]
    private var arrived = 0
    private var generation = 0
    private var completed: [Any] = []

    init(size: Int) { self.size = size; pending = Array(repeating: nil, count: size) }

    func exchange(_ value: Any, rank: Int) -> [Any] {
        condition.lock()
        defer { condition.unlock() }
        let mine = generation
        pending[rank] = value
        arrived += 1
        if arrived == size {
            // The last to arrive publishes the round; no rank can start the next one before every waiter has read it.
            completed = pending.map { $0! }
            pending = Array(repeating: nil, count: size)
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == mine { condition.wait() }
        }
        return completed
    }
}
