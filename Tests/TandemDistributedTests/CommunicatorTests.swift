import Testing
import TandemDistributed

/// The single-process communicator, the split of work across ranks, and the α–β fit. (Several ranks over MPI are
/// tested by scripts/checks/check_mpi.sh, which runs the MPI build under mpirun.)
@Suite struct CommunicatorTests {
    @Test func localCollectivesAreTheIdentity() throws {
        let c = LocalCommunicator()
        var x: [Float] = [1, 2, 3]
        try c.allreduceSum(&x)
        #expect(x == [1, 2, 3] && c.rank == 0 && c.size == 1 && c.isRoot)
        let (values, counts) = try c.allgatherv([Int32(4), 5])
        #expect(values == [4, 5] && counts == [2])
        try c.requireSame("anything", "config")
        #expect(c.share(of: 7) == 0..<7)
    }

    /// Shares tile 0..<n in rank order, each within one of n / size (none empty while n ≥ size).
    @Test(arguments: [1, 2, 3, 5, 8]) func sharesTileTheRange(size: Int) {
        for n in [0, 1, size, 7, 1000, 1001] {
            let parts = (0..<size).map { LocalCommunicator.share(of: n, rank: $0, size: size) }
            #expect(parts.first?.lowerBound == 0 && parts.last?.upperBound == n)
            for (a, b) in zip(parts, parts.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
            let counts = parts.map(\.count)
            #expect(counts.max()! - counts.min()! <= 1)
            if n >= size { #expect(counts.min()! >= 1) }
        }
    }

    /// Timings made from α = 5 µs and β = 0.5 ns/byte, with ±2% noise, give those back within a few percent.
    @Test func alphaBetaFitRecoversTheModel() {
        let alpha = 5e-6, beta = 0.5e-9
        let samples = [256, 1024, 4096, 16384, 65536, 262_144, 1_048_576].enumerated().map { k, n in
            CommunicationBenchmark.Sample(operation: "allreduce", floats: n, seconds: (alpha + beta * Double(n * 4)) * (k % 2 == 0 ? 1.02 : 0.98))
        }
        let (a, b) = CommunicationBenchmark.fit(samples)
        #expect(abs(a - alpha) / alpha < 0.05 && abs(b - beta) / beta < 0.05)
    }
}

