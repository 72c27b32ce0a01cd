import TandemTensor
import TandemAutograd
import TandemData
import TandemEval

/// Settings of ItemKNN. YAML keys and flags are the snake_case / kebab-case of these names.
public struct ItemKNNConfig: Codable, Equatable, Sendable {
    /// ItemKNN: neighbours kept per item (RecBole's k).
    public var knnNeighbours: Int = 100
    /// ItemKNN: shrink added to the cosine's denominator (damps similarities built on few common users).
    public var knnShrink: Double = 0

    public init() {}
}

/// Item-based k-nearest neighbours (Sarwar et al., "Item-Based Collaborative Filtering Recommendation Algorithms",
/// WWW 2001), as RecBole's ItemKNN computes it: the cosine between items' user columns,
/// `s(l, i) = c_li / (‖x_l‖ ‖x_i‖ + shrink + 10⁻⁶)` with `c` the co-occurrence counts and no self-similarity; each item
/// keeps its `k` most similar items, and a user's score of item `i` sums the similarities of the user's training
/// items among them.
///
/// Sparse throughout, so it runs where a dense items × items matrix would not fit: `fit` counts one item's
/// co-occurrences at a time (over the users of that item), the weights are each item's `k` neighbours and their
/// similarities (`items × k`), and scoring goes through `directScorer` (the user's items' neighbour lists added up).
/// Its embeddings — the user's 0/1 row and item `i`'s column of similarities, both as wide as the catalogue — exist
/// for exporting and serving small catalogues.
public final class ItemKNN: RetrievalModel {
    public let config: ItemKNNConfig
    /// Row `i`: the ids of item `i`'s kept neighbours, most similar first, as exact floats (`-1`: no neighbour; ids
    /// are below 2²⁴ — `init` refuses larger catalogues), so the weights stay one safetensors file of F32 tensors.
    public let neighbours: Parameter
    /// Row `i`: `s(l, i)` of each kept neighbour `l`, aligned with `neighbours` (0 where there is none).
    public let similarities: Parameter
    /// Training interactions, users × items.
    public let train: CSRMatrix
    private var cachedScoring: (neighbours: [Float], similarities: [Float], byNeighbour: CSRMatrix)?

    public init(_ config: ItemKNNConfig, train: Interactions, users: Int, items: Int) throws {
        guard config.knnNeighbours >= 1, config.knnShrink >= 0 else {
            throw ConfigError("knn_neighbours must be ≥ 1 and knn_shrink ≥ 0")
        }
        guard items < 1 << 24 else { throw ConfigError("ItemKNN keeps neighbour ids as exact floats: at most \(1 << 24) items, not \(items)") }
        self.config = config
        self.train = train.matrix(users: users, items: items)
        let k = max(1, min(config.knnNeighbours, items - 1))
        neighbours = Parameter("itemknn.neighbours", Tensor(shape: [items, k], data: [Float](repeating: -1, count: items * k)))
        similarities = Parameter("itemknn.similarities", Tensor(zeros: [items, k]))
    }

    public var parameters: [Parameter] { [neighbours, similarities] }
    public var trainsByGradient: Bool { false }

    /// Computes the similarities and keeps each item's `k` nearest (ties to the lower item index). Only items that
    /// share a user with `i` are candidates: the others' similarity is 0 and would add nothing to any score.
    public func fit(validate: () -> Double, log: (String) -> Void) throws -> [String: Double] {
        let n = train.cols, k = neighbours.value.cols
        let byItem = train.transposed()
        let norms = (0..<n).map { Double(byItem.rowPointers[$0 + 1] - byItem.rowPointers[$0]).squareRoot() }
        var ids = [Float](repeating: -1, count: n * k), sims = [Float](repeating: 0, count: n * k)
        let shrink = config.knnShrink
        // Items interleaved over the chunks, so popular items (often the low ids) spread across the cores.
        let chunks = min(n, Parallel.cores * 8)
        ids.withUnsafeMutableBufferPointer { idOut in
            sims.withUnsafeMutableBufferPointer { simOut in
                let idBase = idOut.baseAddress!, simBase = simOut.baseAddress!
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
                            best.offer(similarity: Double(counts[Int(l)]) / (norms[Int(l)] * norms[i] + shrink + 1e-6), item: l)
                        }
                        for (slot, (s, l)) in best.takeSorted().enumerated() {
                            idBase[i * k + slot] = Float(l); simBase[i * k + slot] = Float(s)
                        }
                        for l in touched { counts[Int(l)] = 0 }
                        touched.removeAll(keepingCapacity: true)
                    }
                }
            }
        }
        neighbours.value = Tensor(shape: [n, k], data: ids)
        similarities.value = Tensor(shape: [n, k], data: sims)
        log("itemknn: \(k) neighbours per item, shrink \(config.knnShrink)")
        return ["neighbours": Double(min(config.knnNeighbours, max(0, n - 1))), "shrink": config.knnShrink]
    }

    /// Scores as the user's items' neighbour lists added up: `X S` with `S[l, i] = s(l, i)` for `l` among `i`'s kept
    /// neighbours, held sparse by neighbour.
    public func directScorer() -> UserItemScorer? { SparseItemItemScorer(train: train, weights: weightsByNeighbour()) }

    /// `S` as a sparse matrix (row `l`: the items that keep `l` as a neighbour, with `s(l, i)`), rebuilt when the
    /// weights changed (a fit, or weights loaded from a model directory).
    func weightsByNeighbour() -> CSRMatrix {
        if let c = cachedScoring, c.neighbours == neighbours.value.data, c.similarities == similarities.value.data { return c.byNeighbour }
        let n = train.cols, k = neighbours.value.cols, ids = neighbours.value.data, sims = similarities.value.data
        var coordinates: [(row: Int32, col: Int32, value: Float)] = []
        coordinates.reserveCapacity(ids.count)
        for i in 0..<n { for slot in 0..<k where ids[i * k + slot] >= 0 { coordinates.append((Int32(ids[i * k + slot]), Int32(i), sims[i * k + slot])) } }
        let matrix = CSRMatrix(rows: n, cols: n, coordinates: coordinates)
        cachedScoring = (ids, sims, matrix)
        return matrix
    }

    public func userEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.constant(train.denseRows(ids)) }

    /// Item `i`'s embedding is column `i` of `S` (its neighbours' similarities), as wide as the catalogue.
    public func itemEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable {
        let n = train.cols, k = neighbours.value.cols
        var out = Tensor(zeros: [ids.count, n])
        for (r, i) in ids.enumerated() {
            for slot in 0..<k where neighbours.value.data[Int(i) * k + slot] >= 0 {
                out.data[r * n + Int(neighbours.value.data[Int(i) * k + slot])] = similarities.value.data[Int(i) * k + slot]
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
