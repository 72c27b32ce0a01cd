import Foundation
import TandemTensor
import TandemAutograd
import TandemModels
import TandemData
import TandemEval
import TandemDistributed

/// Data-parallel training over a `Communicator` (MPI ranks): every rank holds the whole model and the whole data (a
/// graph model's graph too), walks the same shuffled order, and takes a contiguous share of each global batch. A step
/// on a rank:
///
/// 1. embeds its share's users and positives, and draws the batch's sampled negatives as every rank does;
/// 2. gathers every rank's positive item rows (allgatherv), so each row's in-batch softmax has the global batch's
///    `B − 1` negatives, as in one process at batch `B` (cross-replica negatives; `gather_negatives: false` keeps
///    each rank's rows to its own share's positives instead);
/// 3. one backward pass through its rows' loss, scaled by share/B so the ranks' losses sum to the global mean, pauses
///    at the gathered item rows: their gradient is summed over ranks (allreduce), and the pass goes on with each rank's
///    own rows' part entering its item tower;
/// 4. sums the parameter gradients over ranks: dense ones in one fused allreduce, sparse embedding rows gathered
///    (allgatherv) in rank order, so every rank's optimiser (lazy Adam) sees the same rows and stays identical.
///
/// The model's own terms (SSL, a graph model's views and regulariser) are computed on the whole batch by every rank and
/// divided by the number of ranks: exact, but not split. A MoCo queue takes the whole batch's momentum keys on every
/// rank. The result equals one process at batch `B` up to float summation order (the gathered rows' gradient and the
/// sparse rows are summed rank by rank, not row by row), except with dropout, whose masks follow the rank's rows. A
/// last batch with fewer rows than ranks is skipped.
final class DataParallel: BatchPartition {
    let comm: Communicator
    /// Every trained parameter, in the same order on every rank.
    let parameters: [Parameter]
    /// Whether each row's in-batch columns are the whole global batch's positives (cross-replica negatives).
    let gatherNegatives: Bool
    /// Seconds spent in collective calls since the last `takeCommunicationSeconds` (waiting for slower ranks included).
    private var communicationSeconds = 0.0

    init(comm: Communicator, parameters: [Parameter], gatherNegatives: Bool = true) {
        self.comm = comm; self.parameters = parameters; self.gatherNegatives = gatherNegatives
    }

    /// Runs one collective call, adding its time to `communicationSeconds`.
    func timed<T>(_ body: () throws -> T) rethrows -> T {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer { communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 }
        return try body()
    }

    /// The communication seconds since the last call.
    func takeCommunicationSeconds() -> Double {
        defer { communicationSeconds = 0 }
        return communicationSeconds
    }

    /// A config as sorted JSON: ranks compare it at start.
    static func fingerprint(_ config: TrainConfig) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return String(decoding: try e.encode(config), as: UTF8.self)
    }

    /// The training interactions' count and a hash of their users and items, in order.
    static func fingerprint(_ train: Interactions) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for a in [train.users, train.items] { for x in a { h = (h ^ UInt64(UInt32(bitPattern: x))) &* 0x100_0000_01b3 } }
        return "\(train.count) \(h)"
    }

    var ranks: Int { comm.size }

    func rows(of n: Int) -> Range<Int> { comm.share(of: n) }

    /// Every rank's positives, gathered (allgatherv) as a tape constant whose gradient `backward` sums over ranks; with
    /// `gatherNegatives` off, this rank's own positives (per-replica negatives).
    func columns(_ tape: Tape, positives: Variable, batch: TrainingBatch, rows: Range<Int>) throws -> InBatchColumns {
        guard gatherNegatives else { return InBatchColumns(embeddings: positives, ids: Array(batch.items[rows]), offset: 0) }
        let all = try timed { try comm.allgatherv(positives.value.data).values }
        return InBatchColumns(embeddings: tape.constant(Tensor(shape: [batch.items.count, positives.value.cols], data: all)),
                              ids: batch.items, offset: rows.lowerBound)
    }

    /// One backward pass that pauses at the gathered columns: their gradient is summed over ranks and this rank's own
    /// rows' part goes on through its item tower. Then the parameter gradients and the loss are summed over ranks.
    func backward(_ tape: Tape, _ loss: Variable, positives v: Variable, rows: Range<Int>,
                  columns: InBatchColumns?) throws -> (gradients: Gradients, loss: Float) {
        let gradients: Gradients
        if let gathered = columns?.embeddings, gathered.id != v.id {
            let d = v.value.cols
            gradients = try tape.backward(loss, pausingAt: gathered) { all in
                var all = all.data
                try timed { try comm.allreduceSum(&all) }
                return [(v, Tensor(shape: [rows.count, d], data: Array(all[(rows.lowerBound * d)..<(rows.upperBound * d)])))]
            }
        } else {
            gradients = tape.backward(loss)
        }
        var total = [Double(loss.value.data[0])]
        try timed { try comm.allreduceSum(&total) }
        return (try sumOverRanks(gradients), Float(total[0]))
    }

    /// The gradients summed over ranks. Dense: one fused allreduce, with a flag per parameter so one that got no
    /// gradient on any rank stays without one (Adam would otherwise move it). Sparse: each rank's coalesced rows,
    /// gathered in rank order (ids as `[count, ids…]` per table, one allgatherv for ids and one for values).
    func sumOverRanks(_ g: Gradients) throws -> Gradients {
        var out = Gradients()
        let dense = parameters.filter { !$0.isSparse }, sparse = parameters.filter(\.isSparse)
        if !dense.isEmpty {
            var buffer: [Float] = []
            buffer.reserveCapacity(dense.reduce(dense.count) { $0 + $1.value.count })
            for p in dense {
                if let t = g.dense[ObjectIdentifier(p)] { buffer += t.data } else { buffer += [Float](repeating: 0, count: p.value.count) }
            }
            for p in dense { buffer.append(g.dense[ObjectIdentifier(p)] == nil ? 0 : 1) }
            try timed { try comm.allreduceSum(&buffer) }
            var offset = 0
            for (k, p) in dense.enumerated() {
                let count = p.value.count
                if buffer[buffer.count - dense.count + k] > 0 {
                    out.setDense(p, Tensor(shape: p.value.shape, data: Array(buffer[offset..<(offset + count)])))
                }
                offset += count
            }
        }
        if !sparse.isEmpty {
            var ids: [Int32] = [], values: [Float] = []
            for p in sparse {
                let rows = g.coalescedRows(of: p)
                ids.append(Int32(rows?.indices.count ?? 0))
                if let rows { ids += rows.indices; values += rows.values.data }
            }
            let (allIds, idCounts) = try timed { try comm.allgatherv(ids) }
            let allValues = try timed { try comm.allgatherv(values).values }
            var rowsOf = [[Int32]](repeating: [], count: sparse.count), valuesOf = [[Float]](repeating: [], count: sparse.count)
            var i = 0, v = 0
            for count in idCounts {
                let end = i + count
                for (k, p) in sparse.enumerated() {
                    let m = Int(allIds[i]), d = p.value.cols
                    rowsOf[k] += allIds[(i + 1)..<(i + 1 + m)]
                    valuesOf[k] += allValues[v..<(v + m * d)]
                    i += 1 + m; v += m * d
                }
                precondition(i == end, "sparse gradient exchange: a rank's segment does not parse")
            }
            for (k, p) in sparse.enumerated() where !rowsOf[k].isEmpty {
                out.setSparse(p, SparseRows(indices: rowsOf[k], values: Tensor(shape: [rowsOf[k].count, p.value.cols], data: valuesOf[k])))
            }
        }
        return out
    }

    /// Refuses to go on when the ranks' parameters differ (a bug, or a rank that skipped a step): called every epoch.
    func checkParametersAgree(epoch: Int) throws {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for p in parameters {
            p.value.data.withUnsafeBufferPointer { b in for x in b { h = (h ^ UInt64(x.bitPattern)) &* 0x100_0000_01b3 } }
        }
        let all = try comm.allgatherv([Int32(truncatingIfNeeded: h & 0xFFFF_FFFF), Int32(truncatingIfNeeded: h >> 32)]).values
        for r in 1..<comm.size where all[2 * r] != all[0] || all[2 * r + 1] != all[1] {
            throw CommunicationError("after epoch \(epoch), rank \(r)'s parameters differ from rank 0's: the ranks have diverged; training stopped")
        }
    }

    /// Full-ranking metrics with each rank scoring its share of the users and the per-user sums added up (allreduce).
    func evaluate(_ evaluator: FullRankingEvaluator, _ scorer: UserItemScorer) throws -> [String: Double] {
        let mine = comm.share(of: evaluator.evaluatedUserCount)
        var sums = evaluator.totals(scorer, share: mine).flattened
        try comm.allreduceSum(&sums)
        return evaluator.metrics(FullRankingEvaluator.Totals(ks: evaluator.ks, flattened: sums))
    }

    /// Rank 0's value of `x` on every rank (decisions such as early stopping are rank 0's).
    func rootValue(_ x: Double) throws -> Double {
        var bytes = comm.isRoot ? withUnsafeBytes(of: x) { Array($0) } : []
        try comm.broadcast(&bytes, root: 0)
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: Double.self) }
    }
}
