import ArgumentParser
import Foundation
import TandemTensor
import TandemData
import TandemTrain
import TandemModels
import TandemEval
import TandemDistributed
import TandemIndex
import TandemServe
import NIOCore
import NIOPosix

struct CommBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "comm-bench",
        abstract: "Time MPI allreduce and allgatherv over message sizes and fit t = α + β·bytes (run under mpirun, built with --traits MPI).")
    @Option(help: "Largest message, in floats per rank.") var maxFloats = 1_048_576
    @Option(help: "Timed calls per size (the median is reported).") var repeats = 20

    func run() throws {
        let comm = reportingErrors { try Launch.communicator(forceMPI: true) }
        ranks = comm
        guard comm.size > 1 else { fail("comm-bench needs at least 2 ranks: mpirun -np 2 tandem comm-bench") }
        var sizes: [Int] = [], n = 256
        while n <= maxFloats { sizes.append(n); n *= 4 }
        let samples = reportingErrors { try CommunicationBenchmark.run(comm, floats: sizes, repeats: repeats) }
        guard comm.isRoot else { return }
        print("\(comm.size) ranks; median of \(repeats) calls")
        print("operation   floats/rank  bytes/rank   µs/call   GB/s per rank")
        for s in samples {
            print(String(format: "%-10@ %12d %11d %9.1f %9.2f", s.operation, s.floats, s.bytes, s.seconds * 1e6, Double(s.bytes) / s.seconds / 1e9))
        }
        for op in ["allreduce", "allgatherv"] {
            let (a, b) = CommunicationBenchmark.fit(samples.filter { $0.operation == op })
            print(String(format: "%@: α %.1f µs, β %.3f ns/byte (%.2f GB/s)", op, a * 1e6, b * 1e9, b > 0 ? 1 / b / 1e9 : .infinity))
        }
    }
}
