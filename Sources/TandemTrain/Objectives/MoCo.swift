import TandemTensor
import TandemAutograd
import TandemModels

/// A FIFO queue of item embeddings from past batches (MoCo, He et al. 2020), used as extra negatives so their number
/// is not bound by the batch size. Rows are constants: no gradient flows into the queue.
public struct EmbeddingQueue: Sendable {
    public let capacity: Int
    public let dimension: Int
    private var rows: [Float]
    private var ids: [Int32]
    /// Slot the next row goes into; the oldest row when the queue is full.
    private var head = 0
    public private(set) var count = 0

    public init(capacity: Int, dimension: Int) {
        precondition(capacity > 0 && dimension > 0)
        self.capacity = capacity; self.dimension = dimension
        rows = [Float](repeating: 0, count: capacity * dimension)
        ids = [Int32](repeating: -1, count: capacity)
    }

    /// Adds the rows of `embeddings` (with their item ids), overwriting the oldest once full.
    public mutating func enqueue(_ embeddings: Tensor, ids newIds: [Int32]) {
        precondition(embeddings.rows == newIds.count && embeddings.cols == dimension)
        for (r, id) in newIds.enumerated() {
            for j in 0..<dimension { rows[head * dimension + j] = embeddings.data[r * dimension + j] }
            ids[head] = id
            head = (head + 1) % capacity
            count = min(capacity, count + 1)
        }
    }

    /// The queued rows, oldest first, and their item ids.
    public var contents: (embeddings: Tensor, ids: [Int32]) {
        let start = count < capacity ? 0 : head
        var out = [Float](); out.reserveCapacity(count * dimension)
        var outIds = [Int32](); outIds.reserveCapacity(count)
        for k in 0..<count {
            let slot = (start + k) % capacity
            out.append(contentsOf: rows[(slot * dimension)..<((slot + 1) * dimension)])
            outIds.append(ids[slot])
        }
        return (Tensor(shape: [count, dimension], data: out), outIds)
    }
}

/// A momentum copy of a model's item-side parameters: `key ← m·key + (1 − m)·θ` after every step, and item
/// embeddings computed with the copy (for the queue) by swapping it in for the duration of one forward pass.
public final class MomentumEncoder {
    public let momentum: Float
    let parameters: [Parameter]
    private var keys: [Tensor]

    public init(model: RetrievalModel, momentum: Float) {
        self.momentum = momentum
        parameters = model.itemParameters
        keys = parameters.map(\.value)
    }

    /// The copy's values, by the parameter's position.
    func save(_ state: inout TrainingState, prefix: String) {
        for (i, k) in keys.enumerated() { state.tensors["\(prefix)\(i)"] = k }
    }

    func restore(_ state: TrainingState, prefix: String) throws {
        keys = try keys.indices.map { try state.tensor("\(prefix)\($0)", shape: keys[$0].shape) }
    }

    /// Moves the copy towards the current parameters.
    public func update() {
        let m = momentum
        for (k, p) in zip(keys.indices, parameters) {
            p.value.data.withUnsafeBufferPointer { theta in
                keys[k].data.withUnsafeMutableBufferPointer { key in
                    for i in key.indices { key[i] = m * key[i] + (1 - m) * theta[i] }
                }
            }
        }
    }

    /// Item embeddings from the momentum copy (normalised when `normalize`), as plain values.
    public func itemEmbeddings(_ model: RetrievalModel, _ ids: [Int32], normalize: Bool) -> Tensor {
        let live = parameters.map(\.value)
        for (p, k) in zip(parameters, keys) { p.value = k }
        defer { for (p, v) in zip(parameters, live) { p.value = v } }
        let tape = Tape(training: false)
        let e = model.itemEmbeddings(tape, ids)
        return (normalize ? tape.l2Normalize(e) : e).value
    }
}
