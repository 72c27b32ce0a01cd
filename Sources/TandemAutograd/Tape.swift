import TandemTensor

/// A trainable tensor. Embedding tables are `sparse`: their gradient arrives as the rows a batch touched,
/// so an optimizer step costs O(batch), not O(catalogue).
public final class Parameter {
    public let name: String
    public var value: Tensor
    public let isSparse: Bool

    public init(_ name: String, _ value: Tensor, sparse: Bool = false) {
        self.name = name
        self.value = value
        self.isSparse = sparse
    }

    /// Sets rows `rows` of a 2-D parameter to zero.
    public func zeroRows(_ rows: [Int32]) {
        let d = value.cols
        for r in rows { for j in 0..<d { value.data[Int(r) * d + j] = 0 } }
    }
}

/// A node recorded on a `Tape`: a handle, cheap to copy.
public struct Variable {
    public let id: Int
    public let tape: Tape
    public var value: Tensor { tape.values[id] }
    public var shape: [Int] { tape.values[id].shape }
}

/// Reverse-mode automatic differentiation with an explicit tape.
///
/// Every operation appends its output value and an `Op` naming its inputs; `backward` walks the tape in reverse
/// (recording order is a topological order) and applies each op's pullback in one exhaustive `switch`.
/// A tape is used for one forward/backward pass and then dropped.
public final class Tape {
    public internal(set) var values: [Tensor] = []
    var ops: [Op] = []
    /// When false, dropout is the identity.
    public var isTraining: Bool
    /// Source of randomness for dropout masks.
    public var rng: RNG

    /// Constants whose gradient `gradients(of:withRespectTo:)` was asked for; every other constant gets none computed.
    var wantedConstants: Set<Int> = []

    /// False for a constant nobody asked the gradient of: pullbacks skip the work (e.g. the logQ shift, a MoCo queue).
    func needsGradient(_ id: Int) -> Bool {
        if case .leaf = ops[id] { return wantedConstants.contains(id) }
        return true
    }

    public init(training: Bool = true, seed: UInt64 = 0) {
        self.isTraining = training
        self.rng = RNG(seed: seed)
    }

    /// Results computed once per tape (a graph model's propagated embeddings, shared by every call in one step), by
    /// owner and name. Only node ids are stored, so the memo holds no reference to the tape and is freed with it.
    private var memo: [MemoKey: [Int]] = [:]
    private struct MemoKey: Hashable { let owner: ObjectIdentifier; let name: String }

    /// The variables `make` records, computed on the first call for `(owner, name)` on this tape and reused after.
    public func memoized(_ owner: AnyObject, _ name: String, _ make: () -> [Variable]) -> [Variable] {
        let key = MemoKey(owner: ObjectIdentifier(owner), name: name)
        if let ids = memo[key] { return ids.map { Variable(id: $0, tape: self) } }
        let made = make()
        precondition(made.allSatisfy { $0.tape === self }, "memoized variables must belong to this tape")
        memo[key] = made.map(\.id)
        return made
    }

    /// One memoized variable (see `memoized(_:_:_:) -> [Variable]`).
    public func memoized(_ owner: AnyObject, _ name: String, _ make: () -> Variable) -> Variable {
        memoized(owner, name) { [make()] }[0]
    }

    /// A variable memoized by an earlier call, or nil.
    public func memoized(_ owner: AnyObject, _ name: String) -> Variable? {
        memo[MemoKey(owner: ObjectIdentifier(owner), name: name)].map { Variable(id: $0[0], tape: self) }
    }

    @discardableResult
    func record(_ value: Tensor, _ op: Op) -> Variable {
        values.append(value)
        ops.append(op)
        return Variable(id: values.count - 1, tape: self)
    }

    /// A constant input: it receives no gradient.
    public func constant(_ t: Tensor) -> Variable { record(t, .leaf) }

    /// A dense parameter's current value as a node; its gradient is collected by `backward`.
    public func parameter(_ p: Parameter) -> Variable {
        precondition(!p.isSparse, "parameter \(p.name) is sparse: use embedding(_:rows:)")
        return record(p.value, .parameter(p))
    }

    /// Computes gradients of `Σ seed ⊙ output` (the seed defaults to ones, i.e. d output / d parameters for a scalar).
    public func backward(_ output: Variable, seed: Tensor? = nil) -> Gradients {
        backward(output, seed: seed, alsoFor: []).parameters
    }

    /// Gradients of `output` with respect to recorded variables (for tests of ops on inputs, not parameters).
    public func gradients(of output: Variable, withRespectTo inputs: [Variable], seed: Tensor? = nil) -> [Tensor] {
        backward(output, seed: seed, alsoFor: inputs).inputs
    }

    /// One backward pass giving both the parameters' gradients and those of `inputs` (constants included).
    private func backward(_ output: Variable, seed: Tensor? = nil, alsoFor inputs: [Variable]) -> (parameters: Gradients, inputs: [Tensor]) {
        precondition(output.tape === self, "variable belongs to another tape")
        var grads = [Tensor?](repeating: nil, count: values.count)
        let s = seed ?? Tensor(repeating: 1, shape: values[output.id].shape)
        precondition(s.shape == values[output.id].shape, "seed shape \(s.shape) ≠ output shape \(values[output.id].shape)")
        grads[output.id] = s
        var result = Gradients()
        let wanted = Set(inputs.map(\.id))
        wantedConstants = wanted
        defer { wantedConstants = [] }
        var kept: [Int: Tensor] = [:]
        for id in stride(from: output.id, through: 0, by: -1) {
            guard let g = grads[id] else { continue }
            if wanted.contains(id) { kept[id] = g }
            grads[id] = nil
            pullback(id, g, &grads, &result)
        }
        return (result, inputs.map { kept[$0.id] ?? Tensor(zeros: values[$0.id].shape) })
    }

    /// One backward pass from the scalar `output` that pauses at the constant `pause` once every node recorded after it
    /// has passed its gradient back, hands `pause`'s gradient to `resume`, adds the gradients `resume` returns to
    /// earlier nodes, and goes on to the parameters. Data-parallel training pauses at the gathered item rows: their
    /// gradient is summed over ranks, and each rank's own rows go back through its item tower in the same pass.
    public func backward(_ output: Variable, pausingAt pause: Variable,
                         resume: (Tensor) throws -> [(Variable, Tensor)]) rethrows -> Gradients {
        precondition(output.tape === self && pause.tape === self, "variable belongs to another tape")
        precondition(pause.id < output.id, "backward: the pause must be recorded before the output")
        if case .leaf = ops[pause.id] {} else { preconditionFailure("backward: the pause must be a constant") }
        var grads = [Tensor?](repeating: nil, count: values.count)
        grads[output.id] = Tensor(repeating: 1, shape: values[output.id].shape)
        var result = Gradients()
        wantedConstants = [pause.id]
        defer { wantedConstants = [] }
        for id in stride(from: output.id, to: pause.id, by: -1) {
            guard let g = grads[id] else { continue }
            grads[id] = nil
            pullback(id, g, &grads, &result)
        }
        for (v, g) in try resume(grads[pause.id] ?? Tensor(zeros: values[pause.id].shape)) {
            precondition(v.tape === self && v.id < pause.id, "backward: a resumed gradient must be for a node recorded before the pause")
            precondition(g.shape == values[v.id].shape, "backward: gradient shape \(g.shape) ≠ \(values[v.id].shape)")
            if var existing = grads[v.id] { grads[v.id] = nil; Kernels.addInPlace(&existing, g); grads[v.id] = existing } else { grads[v.id] = g }
        }
        grads[pause.id] = nil
        for id in stride(from: pause.id - 1, through: 0, by: -1) {
            guard let g = grads[id] else { continue }
            grads[id] = nil
            pullback(id, g, &grads, &result)
        }
        return result
    }
}

/// Rows of a sparse gradient: `values.row(k)` is the gradient for table row `indices[k]` (indices may repeat).
public struct SparseRows {
    public var indices: [Int32]
    public var values: Tensor
    public init(indices: [Int32], values: Tensor) { self.indices = indices; self.values = values }
}

/// The gradients a backward pass produced, keyed by parameter.
public struct Gradients {
    public internal(set) var dense: [ObjectIdentifier: Tensor] = [:]
    public internal(set) var sparse: [ObjectIdentifier: [SparseRows]] = [:]

    public init() {}

    mutating func accumulate(_ p: Parameter, _ g: Tensor) {
        let key = ObjectIdentifier(p)
        if var existing = dense[key] {
            dense[key] = nil
            Kernels.addInPlace(&existing, g)
            dense[key] = existing
        } else {
            dense[key] = g
        }
    }

    /// Adds row `k` of `g` to row `rows[k]` of the dense parameter `p`'s gradient, in place when it has one.
    mutating func accumulate(_ p: Parameter, rows: [Int32], of g: Tensor) {
        let key = ObjectIdentifier(p)
        if var existing = dense[key] {
            dense[key] = nil
            Kernels.scatterAddRows(g, indices: rows, into: &existing)
            dense[key] = existing
        } else {
            dense[key] = Kernels.scatterRows(g, indices: rows, shape: p.value.shape)
        }
    }

    mutating func accumulate(_ p: Parameter, rows: SparseRows) {
        sparse[ObjectIdentifier(p), default: []].append(rows)
    }

    /// Sets `p`'s dense gradient (data-parallel training writes back the sum over ranks).
    public mutating func setDense(_ p: Parameter, _ g: Tensor) { dense[ObjectIdentifier(p)] = g }

    /// Sets `p`'s sparse gradient to `rows` alone (indices may repeat; the optimiser sums them).
    public mutating func setSparse(_ p: Parameter, _ rows: SparseRows) { sparse[ObjectIdentifier(p)] = [rows] }

    /// The sparse gradient of `p` with duplicate rows summed, indices ascending; nil when `p` got none.
    public func coalescedRows(of p: Parameter) -> SparseRows? {
        guard let parts = sparse[ObjectIdentifier(p)], !parts.isEmpty else { return nil }
        let d = p.value.cols
        // Every gradient row, in part order, keyed `row << 32 | position`: a plain integer sort groups the rows and
        // keeps each row's contributions in their original order, so the sums are those of a stable sort by row, without
        // a comparison closure or growing arrays.
        var keys = [UInt64](), partOf = [Int](), rowInPart = [Int]()
        for (pi, part) in parts.enumerated() {
            for (k, r) in part.indices.enumerated() {
                keys.append(UInt64(UInt32(bitPattern: r)) << 32 | UInt64(keys.count))
                partOf.append(pi); rowInPart.append(k)
            }
        }
        keys.sort()
        var indices: [Int32] = []
        for key in keys where indices.last != Int32(bitPattern: UInt32(key >> 32)) { indices.append(Int32(bitPattern: UInt32(key >> 32))) }
        var values = Tensor(zeros: [indices.count, d])
        guard d > 0 else { return SparseRows(indices: indices, values: values) }
        values.data.withUnsafeMutableBufferPointer { out in
            var slot = -1, last: UInt64 = .max
            for key in keys {
                if key >> 32 != last { slot += 1; last = key >> 32 }
                let position = Int(key & 0xFFFF_FFFF), k = rowInPart[position]
                parts[partOf[position]].values.data.withUnsafeBufferPointer { g in
                    let dst = out.baseAddress! + slot * d, row = g.baseAddress! + k * d
                    for j in 0..<d { dst[j] += row[j] }
                }
            }
        }
        return SparseRows(indices: indices, values: values)
    }

    /// The full gradient of `p` as a dense tensor (sparse rows scattered); nil when `p` got none.
    public func denseGradient(of p: Parameter) -> Tensor? {
        if let g = dense[ObjectIdentifier(p)] { return g }
        guard let rows = coalescedRows(of: p) else { return nil }
        var g = Tensor(zeros: p.value.shape)
        let d = p.value.cols
        for (k, r) in rows.indices.enumerated() { for j in 0..<d { g.data[Int(r) * d + j] += rows.values.data[k * d + j] } }
        return g
    }
}
