import TandemTensor
import TandemAutograd
import TandemEval
import TandemData

/// How `topNeighbours` ranks the items that share users with an item.
enum NeighbourScore {
    /// `c_li / (‖x_l‖ ‖x_i‖ + shrink + 10⁻⁶)` (ItemKNN's cosine).
    case cosine(shrink: Double)
    /// `c_li`, the number of users the two items share.
    case count
}

/// Each item's `k` best other items among those sharing a user with it (the rest would score 0), best first with ties
/// to the lower item, as `items × k` row-major ids (`-1`: fewer candidates) and their scores. One item's co-occurrences
/// are counted at a time from the rows of its users (one dense counter per worker), so nothing is items × items.
func topNeighbours(train: CSRMatrix, k: Int, by score: NeighbourScore) -> (ids: [Int32], scores: [Double]) {
    let n = train.cols
    let byItem = train.transposed()
    let norms = (0..<n).map { Double(byItem.rowPointers[$0 + 1] - byItem.rowPointers[$0]).squareRoot() }
    var ids = [Int32](repeating: -1, count: n * k), scores = [Double](repeating: 0, count: n * k)
    // Items interleaved over the chunks, so popular items (often the low ids) spread across the cores.
    let chunks = min(n, Parallel.cores * 8)
    ids.withUnsafeMutableBufferPointer { idOut in
        scores.withUnsafeMutableBufferPointer { scoreOut in
            let idBase = idOut.baseAddress!, scoreBase = scoreOut.baseAddress!
            Parallel.forEach(chunks) { chunk in
                var counts = [Int32](repeating: 0, count: n)
                var touched: [Int32] = []
                var best = NeighbourHeap(capacity: k)
                for i in stride(from: chunk, to: n, by: chunks) {
                    for u in byItem.columns(ofRow: i) {
                        for l in train.columns(ofRow: Int(u)) {
                            if counts[Int(l)] == 0 { touched.append(l) }
                            counts[Int(l)] += 1
                        }
                    }
                    for l in touched where Int(l) != i {
                        let c = Double(counts[Int(l)])
                        switch score {
                        case .cosine(let shrink): best.offer(similarity: c / (norms[Int(l)] * norms[i] + shrink + 1e-6), item: l)
                        case .count: best.offer(similarity: c, item: l)
                        }
                    }
                    for (slot, (s, l)) in best.takeSorted().enumerated() {
                        idBase[i * k + slot] = l; scoreBase[i * k + slot] = s
                    }
                    for l in touched { counts[Int(l)] = 0 }
                    touched.removeAll(keepingCapacity: true)
                }
            }
        }
    }
    return (ids, scores)
}

/// A model whose weights are, for each item `i`, a list of neighbour items `l` with a weight `S[l, i]`, and whose score
/// of item `i` for a user adds up the weights of the user's items among `i`'s neighbours: `X S` with `S` sparse
/// (ItemKNN, sparse EASE). Scored through `directScorer`; its embeddings — the user's 0/1 row and column `i` of `S`,
/// both as wide as the catalogue — exist for exporting and serving small catalogues.
protocol NeighbourListModel: RetrievalModel {
    /// Training interactions, users × items.
    var train: CSRMatrix { get }
    /// Row `i`: the ids of item `i`'s neighbours as exact floats (`-1`: none), so the weights stay one safetensors
    /// file of F32 tensors (catalogues of at most 2²⁴ items).
    var neighbours: Parameter { get }
    /// Row `i`: `S[l, i]` of each neighbour `l`, aligned with `neighbours`.
    var neighbourWeights: Parameter { get }
    var scoringCache: NeighbourScoringCache { get }
}

/// `S` held sparse by neighbour (row `l`: the items that list `l`, with `S[l, i]`), rebuilt when the weights change (a
/// fit, or weights loaded from a model directory).
final class NeighbourScoringCache {
    private var cached: (neighbours: [Float], weights: [Float], byNeighbour: CSRMatrix)?

    func byNeighbour(neighbours: Tensor, weights: Tensor, items n: Int) -> CSRMatrix {
        if let c = cached, c.neighbours == neighbours.data, c.weights == weights.data { return c.byNeighbour }
        let k = neighbours.cols, ids = neighbours.data, w = weights.data
        var coordinates: [(row: Int32, col: Int32, value: Float)] = []
        coordinates.reserveCapacity(ids.count)
        for i in 0..<n { for slot in 0..<k where ids[i * k + slot] >= 0 { coordinates.append((Int32(ids[i * k + slot]), Int32(i), w[i * k + slot])) } }
        let matrix = CSRMatrix(rows: n, cols: n, coordinates: coordinates)
        cached = (ids, w, matrix)
        return matrix
    }
}

/// Empty neighbour lists for `items` items, `k` each (at most `items − 1`): ids `-1` named `<prefix>.neighbours`, weights
/// 0 named `<prefix>.<weights>`. Refuses catalogues whose ids would not be exact as floats.
func emptyNeighbourLists(prefix: String, weights: String, items: Int, k: Int, model: String) throws -> (neighbours: Parameter, weights: Parameter) {
    guard items < 1 << 24 else { throw ConfigError("\(model) keeps neighbour ids as exact floats: at most \(1 << 24) items, not \(items)") }
    let k = max(1, min(k, items - 1))
    return (Parameter(prefix + ".neighbours", Tensor(shape: [items, k], data: [Float](repeating: -1, count: items * k))),
            Parameter(prefix + "." + weights, Tensor(zeros: [items, k])))
}

extension NeighbourListModel {
    public var parameters: [Parameter] { [neighbours, neighbourWeights] }
    public var trainsByGradient: Bool { false }

    public func directScorer() -> UserItemScorer? {
        SparseItemItemScorer(train: train, weights: scoringCache.byNeighbour(neighbours: neighbours.value, weights: neighbourWeights.value, items: train.cols))
    }

    public func userEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.constant(train.denseRows(ids)) }

    /// Item `i`'s embedding is column `i` of `S`, as wide as the catalogue.
    public func itemEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable {
        let n = train.cols, k = neighbours.value.cols
        var out = Tensor(zeros: [ids.count, n])
        for (r, i) in ids.enumerated() {
            for slot in 0..<k where neighbours.value.data[Int(i) * k + slot] >= 0 {
                out.data[r * n + Int(neighbours.value.data[Int(i) * k + slot])] = neighbourWeights.value.data[Int(i) * k + slot]
            }
        }
        return tape.constant(out)
    }

    /// Scores are `X S` as they are: normalising either side would change the ranking.
    public func allEmbeddings(users: Bool, count: Int, normalize: Bool) -> Tensor {
        embeddingsInBlocks(users: users, count: count, normalize: false)
    }
}

/// Scores `X S` for sparse `X` (users × items, the training rows) and sparse `S` (items × items).
public struct SparseItemItemScorer: UserItemScorer {
    public let train: CSRMatrix
    public let weights: CSRMatrix

    public var userCount: Int { train.rows }
    public var itemCount: Int { weights.cols }
    public func scores(users: [Int32]) -> Tensor { train.denseProduct(rows: users, weights) }
}

/// The `capacity` best (similarity, item) pairs offered, higher similarity first and ties to the lower item: a min-heap
/// whose root is the worst kept, so most candidates cost one comparison.
struct NeighbourHeap {
    let capacity: Int
    private var heap: [(similarity: Double, item: Int32)] = []

    init(capacity: Int) { self.capacity = capacity; heap.reserveCapacity(capacity) }

    /// Whether `a` ranks before `b`.
    static func better(_ a: (similarity: Double, item: Int32), _ b: (similarity: Double, item: Int32)) -> Bool {
        a.similarity > b.similarity || (a.similarity == b.similarity && a.item < b.item)
    }

    mutating func offer(similarity: Double, item: Int32) {
        let x = (similarity: similarity, item: item)
        if heap.count < capacity {
            heap.append(x)
            var c = heap.count - 1
            while c > 0 {
                let p = (c - 1) / 2
                guard Self.better(heap[p], heap[c]) else { break }
                heap.swapAt(p, c); c = p
            }
        } else if capacity > 0, Self.better(x, heap[0]) {
            heap[0] = x
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var worst = p
                if l < heap.count, Self.better(heap[worst], heap[l]) { worst = l }
                if r < heap.count, Self.better(heap[worst], heap[r]) { worst = r }
                if worst == p { break }
                heap.swapAt(p, worst); p = worst
            }
        }
    }

    /// The kept pairs, best first; the heap is left empty.
    mutating func takeSorted() -> [(similarity: Double, item: Int32)] {
        let out = heap.sorted(by: Self.better)
        heap.removeAll(keepingCapacity: true)
        return out
    }
}
