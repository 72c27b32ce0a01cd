#if MPI
import Foundation
import CMPI

/// MPI's world communicator (OpenMPI through pkg-config `ompi-c`). Errors come back as return codes
/// (MPI_ERRORS_RETURN) and are thrown with MPI's own message and this rank's number.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    let comm: MPI_Comm
    nonisolated(unsafe) private static var shared: MPICommunicator?

    /// Initialises MPI once per process and returns the world communicator.
    public static func world() throws -> MPICommunicator {
        if let c = shared { return c }
        var initialised: Int32 = 0
        MPI_Initialized(&initialised)
        if initialised == 0 {
            let rc = MPI_Init(nil, nil)
            guard rc == tandem_mpi_success() else { throw CommunicationError("MPI_Init failed (code \(rc))") }
        }
        let comm = tandem_mpi_comm_world()!
        MPI_Comm_set_errhandler(comm, tandem_mpi_errors_return())
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(comm, &r); MPI_Comm_size(comm, &s)
        let c = MPICommunicator(rank: Int(r), size: Int(s), comm: comm)
        shared = c
        atexit { MPICommunicator.finalize() }
        return c
    }

    private init(rank: Int, size: Int, comm: MPI_Comm) { self.rank = rank; self.size = size; self.comm = comm }

    /// Ends MPI (at exit): mpirun reports a rank that exits without it as failed.
    static func finalize() {
        var finalised: Int32 = 0
        MPI_Finalized(&finalised)
        if finalised == 0 { MPI_Finalize() }
    }

    func check(_ rc: Int32, _ call: String) throws {
        guard rc != tandem_mpi_success() else { return }
        var text = [CChar](repeating: 0, count: Int(tandem_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(rc, &text, &length)
        throw CommunicationError("rank \(rank): \(call) failed: \(String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))")
    }

    public func allreduceSum(_ values: inout [Float]) throws {
        let n = Int32(values.count)
        try values.withUnsafeMutableBytes { b in
            try check(MPI_Allreduce(tandem_mpi_in_place(), b.baseAddress, n, tandem_mpi_float(), tandem_mpi_sum(), comm), "MPI_Allreduce")
        }
    }

    public func allreduceSum(_ values: inout [Double]) throws {
        let n = Int32(values.count)
        try values.withUnsafeMutableBytes { b in
            try check(MPI_Allreduce(tandem_mpi_in_place(), b.baseAddress, n, tandem_mpi_double(), tandem_mpi_sum(), comm), "MPI_Allreduce")
        }
    }

    /// Each rank's count first (MPI_Allgather), then the values (MPI_Allgatherv).
    func gatherCounts(_ n: Int) throws -> (counts: [Int32], offsets: [Int32]) {
        var mine = Int32(n)
        var counts = [Int32](repeating: 0, count: size)
        try counts.withUnsafeMutableBytes { c in
            try check(MPI_Allgather(&mine, 1, tandem_mpi_int32(), c.baseAddress, 1, tandem_mpi_int32(), comm), "MPI_Allgather")
        }
        var offsets = [Int32](repeating: 0, count: size)
        for r in 1..<max(1, size) { offsets[r] = offsets[r - 1] + counts[r - 1] }
        return (counts, offsets)
    }

    func allgatherv<T: Numeric>(_ values: [T], type: MPI_Datatype) throws -> (values: [T], counts: [Int]) {
        let (counts, offsets) = try gatherCounts(values.count)
        var out = [T](repeating: 0, count: Int(counts.reduce(0, +)))
        try values.withUnsafeBytes { s in
            try out.withUnsafeMutableBytes { o in
                try check(MPI_Allgatherv(s.baseAddress, Int32(values.count), type, o.baseAddress, counts, offsets, type, comm),
                          "MPI_Allgatherv")
            }
        }
        return (out, counts.map(Int.init))
    }

    public func allgatherv(_ values: [Int32]) throws -> (values: [Int32], counts: [Int]) { try allgatherv(values, type: tandem_mpi_int32()) }
    public func allgatherv(_ values: [Float]) throws -> (values: [Float], counts: [Int]) { try allgatherv(values, type: tandem_mpi_float()) }

    public func broadcast(_ bytes: inout [UInt8], root: Int) throws {
        var n = Int32(bytes.count)
        try check(MPI_Bcast(&n, 1, tandem_mpi_int32(), Int32(root), comm), "MPI_Bcast")
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(n)) }
        try bytes.withUnsafeMutableBytes { b in
            try check(MPI_Bcast(b.baseAddress, n, tandem_mpi_uint8(), Int32(root), comm), "MPI_Bcast")
        }
    }

    public func barrier() throws { try check(MPI_Barrier(comm), "MPI_Barrier") }

    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data(("rank \(rank): " + message + "\n").utf8))
        MPI_Abort(comm, code)
        exit(code)
    }
}
#endif
