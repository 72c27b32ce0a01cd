import Foundation

/// Times the collective calls data-parallel training makes, over message sizes, and fits the α–β (latency–bandwidth)
/// model `t = α + β · bytes` to each: the figures a cost model of training on more ranks starts from.
public enum CommunicationBenchmark {
    public struct Sample: Sendable {
        public let operation: String
        /// Floats each rank contributes (allreduce: the whole buffer; allgatherv: this rank's part).
        public let floats: Int
        /// Median seconds per call on rank 0, over the repeats.
        public let seconds: Double
        public var bytes: Int { floats * 4 }
        public init(operation: String, floats: Int, seconds: Double) { self.operation = operation; self.floats = floats; self.seconds = seconds }
    }

    /// Medians of `repeats` timed calls of allreduce (sum, in place) and allgatherv per size, after two warm-up calls;
    /// every rank must call this with the same arguments.
    public static func run(_ comm: Communicator, floats sizes: [Int], repeats: Int) throws -> [Sample] {
        var samples: [Sample] = []
        for n in sizes {
            var buffer = [Float](repeating: 1, count: n)
            let part = [Float](repeating: Float(comm.rank), count: n)
            func median(_ call: () throws -> Void) throws -> Double {
                for _ in 0..<2 { try call() }
                var times: [Double] = []
                for _ in 0..<repeats {
                    try comm.barrier()
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    try call()
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                }
                return times.sorted()[times.count / 2]
            }
            samples.append(Sample(operation: "allreduce", floats: n, seconds: try median { try comm.allreduceSum(&buffer) }))
            samples.append(Sample(operation: "allgatherv", floats: n, seconds: try median { _ = try comm.allgatherv(part) }))
        }
        return samples
    }

    /// `seconds = α + β · bytes` over `samples` (one operation's), by least squares on relative error (weights 1/t²),
    /// so the microsecond calls fix α as much as the millisecond ones fix β: α in seconds, β in seconds per byte.
    public static func fit(_ samples: [Sample]) -> (alpha: Double, beta: Double) {
        var sw = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
        for s in samples {
            let w = 1 / max(s.seconds * s.seconds, 1e-18), x = Double(s.bytes), y = s.seconds
            sw += w; sx += w * x; sy += w * y; sxx += w * x * x; sxy += w * x * y
        }
        let det = sw * sxx - sx * sx
        guard det > 0 else { return (sy / max(sw, 1e-300), 0) }
        return ((sxx * sy - sx * sxy) / det, (sw * sxy - sx * sy) / det)
    }
}
