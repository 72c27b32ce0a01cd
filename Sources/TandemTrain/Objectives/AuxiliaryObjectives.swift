import Foundation
import TandemTensor
import TandemAutograd
import TandemModels

/// A term added to a batch's main loss: the one way to add a loss term. The model's own terms (the self-supervised
/// feature-masking task, graph regularisers and contrastive views) and ConCAT's prototypes are objectives alike.
public protocol AuxiliaryObjective: AnyObject {
    /// Parameters the objective trains besides the model's (empty for the model's own terms).
    var parameters: [Parameter] { get }
    /// Why this objective cannot train data-parallel (nil: it can). Each rank holds only its share of the batch rows'
    /// embeddings, and every rank adds the term divided by the number of ranks: a term computed from the whole batch's
    /// ids works; one that needs every row's embeddings together does not. `Trainer` refuses the run in one place.
    var dataParallelLimit: String? { get }
    /// The weighted term for this batch (nil: none). `users`/`items` are the batch rows' embeddings as the main loss
    /// scores them.
    func loss(_ tape: Tape, batch: TrainingBatch, users: Variable, items: Variable, negatives: BatchNegatives) -> Variable?
}

/// The model's own extra terms (`RetrievalModel.auxiliaryLoss`): SSL on two-tower, L2 and views on graph models.
public final class ModelTermsObjective: AuxiliaryObjective {
    let model: RetrievalModel
    public init(_ model: RetrievalModel) { self.model = model }
    public var parameters: [Parameter] { [] }
    public var dataParallelLimit: String? { nil }
    public func loss(_ tape: Tape, batch: TrainingBatch, users: Variable, items: Variable, negatives: BatchNegatives) -> Variable? {
        model.auxiliaryLoss(tape, users: batch.users, items: batch.items, negatives: negatives.pairwiseItems)
    }
}

/// ConCAT (SwAV-style prototypes, Caron et al. 2020): swapped prediction between each user and its positive item on
/// unit vectors, times `prototype_weight`.
public final class PrototypeObjective: AuxiliaryObjective {
    public let head: PrototypeHead
    let weight: Float
    let normalized: Bool

    /// `normalized`: the batch embeddings already are unit vectors (cosine similarity).
    public init(_ settings: ConcatSettings, dim: Int, normalized: Bool, seed: UInt64) {
        var rng = RNG(seed: seed &+ 0x5157_4156)
        head = PrototypeHead(count: settings.prototypes, dim: dim, temperature: settings.prototypeTemperature,
                             epsilon: settings.sinkhornEpsilon, iterations: settings.sinkhornIterations, rng: &rng)
        weight = settings.prototypeWeight
        self.normalized = normalized
    }

    public var parameters: [Parameter] { head.parameters }
    /// The swapped prediction reads every row's embeddings, which no rank holds whole.
    public var dataParallelLimit: String? { "ConCAT prototypes (set prototypes 0)" }

    public func loss(_ tape: Tape, batch: TrainingBatch, users: Variable, items: Variable, negatives: BatchNegatives) -> Variable? {
        let clusters = head.loss(tape, users: normalized ? users : tape.l2Normalize(users),
                                 items: normalized ? items : tape.l2Normalize(items))
        return tape.scale(clusters, weight)
    }
}

/// UltraGCN's item–item constraint (Mao et al., "UltraGCN", CIKM 2021, its L_I): each batch row's user is pulled towards
/// the K items that co-occur most with the row's positive, `−ω_ij log σ(s(u, j)/τ)`, times `item_constraint_weight`.
/// ω_ij = G_ij / (g_i − G_ii) · √(g_i / g_j) on the co-occurrence graph G = XᵀX with degrees g_i = Σ_k G_ik: the term
/// that brings an embedding model closest to EASE's item–item view (UltraGCN is the embedding model nearest EASE on
/// Amazon-Book).
public final class ItemConstraintObjective: AuxiliaryObjective {
    /// Each item's K neighbours by ω, best first (ties to the lower item), and their weights.
    public let neighbours: [[Int32]]
    public let weights: [[Float]]
    let model: RetrievalModel
    let weight: Float, temperature: Float, normalized: Bool

    public init(model: RetrievalModel, train: CSRMatrix, neighbours k: Int, weight: Float, temperature: Float, normalized: Bool) {
        (neighbours, weights) = Self.neighbours(train, k: k)
        self.model = model; self.weight = weight; self.temperature = temperature; self.normalized = normalized
    }

    public var parameters: [Parameter] { [] }
    /// Each rank holds only its rows' user embeddings.
    public var dataParallelLimit: String? { "item_constraint_weight (UltraGCN's item–item term)" }

    /// The K best neighbours of every item by UltraGCN's ω over `train` (users × items, binary).
    public static func neighbours(_ train: CSRMatrix, k: Int) -> ([[Int32]], [[Float]]) {
        let byItem = train.transposed(), items = train.cols
        let userDegree = (0..<train.rows).map { train.rowPointers[$0 + 1] - train.rowPointers[$0] }
        // g_i = Σ_k G_ik = Σ over i's users of their degree.
        let g = (0..<items).map { i in (byItem.rowPointers[i]..<byItem.rowPointers[i + 1]).reduce(0.0) { $0 + Double(userDegree[Int(byItem.columnIndices[$1])]) } }
        var outIds = [[Int32]](repeating: [], count: items), outWeights = [[Float]](repeating: [], count: items)
        let lock = NSLock()
        Parallel.forChunks(items, minPerChunk: 64) { range in
            var counts = [Int32](repeating: 0, count: items), touched: [Int32] = []
            var ids: [[Int32]] = [], ws: [[Float]] = []
            for i in range {
                for p in byItem.rowPointers[i]..<byItem.rowPointers[i + 1] {
                    let u = Int(byItem.columnIndices[p])
                    for q in train.rowPointers[u]..<train.rowPointers[u + 1] {
                        let j = Int(train.columnIndices[q])
                        if counts[j] == 0 { touched.append(Int32(j)) }
                        counts[j] += 1
                    }
                }
                let own = Double(byItem.rowPointers[i + 1] - byItem.rowPointers[i])  // G_ii: i's users
                var scored: [(Int32, Float)] = []
                for j in touched where Int(j) != i && g[i] > own {
                    scored.append((j, Float(Double(counts[Int(j)]) / (g[i] - own) * (g[i] / g[Int(j)]).squareRoot())))
                }
                for j in touched { counts[Int(j)] = 0 }
                touched.removeAll(keepingCapacity: true)
                let best = scored.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(k)
                ids.append(best.map(\.0)); ws.append(best.map(\.1))
            }
            lock.lock()
            for (o, i) in range.enumerated() { outIds[i] = ids[o]; outWeights[i] = ws[o] }
            lock.unlock()
        }
        return (outIds, outWeights)
    }

    public func loss(_ tape: Tape, batch: TrainingBatch, users: Variable, items: Variable, negatives: BatchNegatives) -> Variable? {
        var rows: [Int32] = [], ids: [Int32] = [], w: [Float] = []
        for (r, item) in batch.items.enumerated() {
            for (j, omega) in zip(neighbours[Int(item)], weights[Int(item)]) { rows.append(Int32(r)); ids.append(j); w.append(omega) }
        }
        guard !ids.isEmpty else { return nil }
        let v = model.scoredItems(tape, ids, normalize: normalized)
        let s = tape.scale(tape.rowDot(tape.gatherRows(users, rows), v), -1 / temperature)
        let terms = tape.softplus(s) * tape.constant(Tensor(shape: [w.count, 1], data: w))
        return tape.scale(tape.sum(terms), weight / Float(batch.items.count))
    }
}
