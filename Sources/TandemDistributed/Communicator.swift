import Foundation

/// A failed collective call, or ranks that disagree: the message names the rank and the cause.
public struct CommunicationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The collective operations data-parallel training needs, over a group of `size` processes numbered `rank` 0..<size.
/// Every rank must make the same calls in the same order (as with MPI); a call returns once every rank has made it.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Replaces `values` by their elementwise sum over ranks.
    func allreduceSum(_ values: inout [Float]) throws
    func allreduceSum(_ values: inout [Double]) throws
    /// Every rank's `values` concatenated in rank order, and how many came from each rank (counts may differ).
    func allgatherv(_ values: [Int32]) throws -> (values: [Int32], counts: [Int])
    func allgatherv(_ values: [Float]) throws -> (values: [Float], counts: [Int])
    /// Replaces `bytes` on every rank by rank `root`'s (sizes may differ before the call).
    func broadcast(_ bytes: inout [UInt8], root: Int) throws
    func barrier() throws
    /// Stops every rank with `code` after printing `message` (a failed rank must not leave the others waiting).
    func abort(_ message: String, code: Int32) -> Never
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }

    /// This rank's part of `n` things (a batch's rows, the users to evaluate): contiguous, in rank order, sizes differing
    /// by at most one.
    public func share(of n: Int) -> Range<Int> { Self.share(of: n, rank: rank, size: size) }

    public static func share(of n: Int, rank: Int, size: Int) -> Range<Int> {
        let base = n / size, extra = n % size
        let start = rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }

    /// Refuses to go on unless every rank holds the same `value` (a config, a data checksum): the error names the
    /// first rank that differs from rank 0 and what `what` is.
    public func requireSame(_ value: String, _ what: String) throws {
        let hash = Self.fnv1a(Array(value.utf8))
        let words = [Int32(truncatingIfNeeded: hash & 0xFFFF_FFFF), Int32(truncatingIfNeeded: hash >> 32)]
        let all = try allgatherv(words).values
        for r in 1..<size where all[2 * r] != all[0] || all[2 * r + 1] != all[1] {
            throw CommunicationError("rank \(r) has a different \(what) from rank 0; every rank must run the same settings on the same data")
        }
    }

    /// 64-bit FNV-1a of `bytes`.
    public static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}

/// One process alone: every collective is the identity.
public final class LocalCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allreduceSum(_ values: inout [Float]) {}
    public func allreduceSum(_ values: inout [Double]) {}
    public func allgatherv(_ values: [Int32]) -> (values: [Int32], counts: [Int]) { (values, [values.count]) }
    public func allgatherv(_ values: [Float]) -> (values: [Float], counts: [Int]) { (values, [values.count]) }
    public func broadcast(_ bytes: inout [UInt8], root: Int) {}
    public func barrier() {}
    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(code)
    }
}

/// How this process was started: alone, or as one rank of an MPI job.
public enum Launch {
    /// True when an MPI launcher (mpirun/mpiexec of OpenMPI, MPICH or a PMIx scheduler) started this process.
    public static var underMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"].contains { env[$0] != nil }
    }

    /// Whether this build can talk MPI (built with `--traits MPI`).
    public static var mpiBuilt: Bool {
        #if MPI
        return true
        #else
        return false
        #endif
    }

    /// The communicator for this process: MPI's world when built with MPI and started by an MPI launcher (or when
    /// `forceMPI`), else a local one. Throws when MPI is asked for in a build without it.
    public static func communicator(forceMPI: Bool = false) throws -> Communicator {
        #if MPI
        if forceMPI || underMPI { return try MPICommunicator.world() }
        #else
        if forceMPI {
            throw CommunicationError("this tandem was built without MPI: build it with `swift build -c release --traits MPI` (needs libopenmpi-dev)")
        }
        if underMPI, let size = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"], size != "1" {
            throw CommunicationError("started by mpirun with \(size) ranks, but this tandem was built without MPI: every rank would train alone. Build it with `swift build -c release --traits MPI`")
        }
        #endif
        return LocalCommunicator()
    }
}
