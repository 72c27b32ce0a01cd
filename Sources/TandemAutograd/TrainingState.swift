import TandemTensor

/// State a training component carries from one step to the next besides its parameters' values — optimiser moments, a
/// random generator, a queue of past embeddings — as named tensors and integer vectors: what a checkpoint saves and a
/// resumed run puts back, so that the resumed run continues exactly as the uninterrupted one would have.
public struct TrainingState: Sendable {
    public var tensors: [String: Tensor] = [:]
    public var ints: [String: [Int32]] = [:]

    public init(tensors: [String: Tensor] = [:], ints: [String: [Int32]] = [:]) {
        self.tensors = tensors; self.ints = ints
    }

    /// A generator's exact position (its four 64-bit words, as eight 32-bit halves).
    public mutating func set(_ name: String, _ rng: RNG) {
        ints[name] = rng.words.flatMap { [Int32(bitPattern: UInt32(truncatingIfNeeded: $0)), Int32(bitPattern: UInt32(truncatingIfNeeded: $0 >> 32))] }
    }

    /// A 64-bit integer, as two 32-bit halves.
    public mutating func set(_ name: String, _ value: Int) {
        let v = UInt64(bitPattern: Int64(value))
        ints[name] = [Int32(bitPattern: UInt32(truncatingIfNeeded: v)), Int32(bitPattern: UInt32(truncatingIfNeeded: v >> 32))]
    }

    public func rng(_ name: String) throws -> RNG {
        let h = try ints(name, count: 8)
        return RNG(words: (0..<4).map { UInt64(UInt32(bitPattern: h[2 * $0])) | UInt64(UInt32(bitPattern: h[2 * $0 + 1])) << 32 })
    }

    public func int(_ name: String) throws -> Int {
        let h = try ints(name, count: 2)
        return Int(Int64(bitPattern: UInt64(UInt32(bitPattern: h[0])) | UInt64(UInt32(bitPattern: h[1])) << 32))
    }

    /// The tensor `name`, which must have `shape` when one is given.
    public func tensor(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        guard let t = tensors[name] else { throw StateError("the checkpoint has no '\(name)'") }
        if let shape, t.shape != shape {
            throw StateError("the checkpoint's '\(name)' has shape \(t.shape), this run's has \(shape): was it written by another configuration?")
        }
        return t
    }

    private func ints(_ name: String, count: Int) throws -> [Int32] {
        guard let v = ints[name], v.count == count else { throw StateError("the checkpoint has no '\(name)' (or it is malformed)") }
        return v
    }
}

/// A checkpoint that does not fit the run restoring it.
public struct StateError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

extension Optimizer {
    /// The step count and every parameter's moments, by the parameter's position in `parameters`.
    public func save(_ state: inout TrainingState, prefix: String) {
        state.set(prefix + "step", step)
        for (i, p) in parameters.enumerated() {
            let key = ObjectIdentifier(p)
            if let m = first[key] { state.tensors["\(prefix)m.\(i)"] = Tensor(shape: [m.count], data: m) }
            if let v = second[key] { state.tensors["\(prefix)v.\(i)"] = Tensor(shape: [v.count], data: v) }
        }
    }

    /// Puts back what `save` wrote; the parameters must be the same, in the same order.
    public func restore(_ state: TrainingState, prefix: String) throws {
        step = try state.int(prefix + "step")
        first = [:]; second = [:]
        for (i, p) in parameters.enumerated() {
            let key = ObjectIdentifier(p)
            if state.tensors["\(prefix)m.\(i)"] != nil { first[key] = try state.tensor("\(prefix)m.\(i)", shape: [p.value.count]).data }
            if state.tensors["\(prefix)v.\(i)"] != nil { second[key] = try state.tensor("\(prefix)v.\(i)", shape: [p.value.count]).data }
        }
    }
}
