import Foundation
import TandemTensor
import CHNSW

/// The nearest stored vectors of one query, best first.
public struct Neighbors: Equatable, Sendable {
    public var ids: [Int32]
    public var scores: [Float]
}

/// How similarity is measured: inner product, or cosine (vectors and queries L2-normalised first).
public enum IndexMetric: String, Sendable, CaseIterable, Codable { case innerProduct = "ip", cosine }

/// A searchable set of vectors with ids `0..<count` (the item indices of a model).
public protocol VectorIndex: AnyObject {
    var dimension: Int { get }
    var count: Int { get }
    var metric: IndexMetric { get }
    /// The `k` best neighbours of each row of `queries`.
    func search(_ queries: Tensor, k: Int) -> [Neighbors]
    /// Writes the index to `path` atomically.
    func save(to path: String) throws
}

/// An index that cannot be built, loaded or parsed, with the reason.
public struct IndexError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

func normalizedIfCosine(_ x: Tensor, _ metric: IndexMetric) -> Tensor {
    metric == .cosine ? x.rowsNormalized() : x
}

/// Exact search: blocked BLAS scoring of queries against every vector, then partial top-K (ties → lower id).
public final class ExactIndex: VectorIndex {
    public let vectors: Tensor
    public let metric: IndexMetric
    public var dimension: Int { vectors.cols }
    public var count: Int { vectors.rows }

    public init(_ vectors: Tensor, metric: IndexMetric = .innerProduct) {
        self.vectors = normalizedIfCosine(vectors, metric)
        self.metric = metric
    }

    public func search(_ queries: Tensor, k: Int) -> [Neighbors] {
        precondition(queries.cols == dimension, "query dimension \(queries.cols) ≠ index dimension \(dimension)")
        let q = normalizedIfCosine(queries, metric)
        var out = [Neighbors](repeating: Neighbors(ids: [], scores: []), count: q.rows)
        let block = Tensor.blockRows(width: count, cap: 256)
        var start = 0
        while start < q.rows {
            let end = min(q.rows, start + block)
            let part = Tensor(shape: [end - start, dimension], data: Array(q.data[(start * dimension)..<(end * dimension)]))
            let scores = BLAS.matmul(part, vectors, transposeB: true)
            scores.data.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    let ob = o.baseAddress!
                    Parallel.forChunks(end - start, minPerChunk: 8) { range in
                        for r in range {
                            let row = UnsafeBufferPointer(rebasing: s[(r * self.count)..<((r + 1) * self.count)])
                            let ids = TopK.select(row, k: k)
                            ob[start + r] = Neighbors(ids: ids, scores: ids.map { row[Int($0)] })
                        }
                    }
                }
            }
            start = end
        }
        return out
    }

    /// The `k` best vectors for one query, never returning the ids in `excluded` (their scores are masked before
    /// selection, so a user with hundreds of seen items costs no more than one without). One matrix-vector product,
    /// no packing or threads: the serving path for a single request.
    public func search(_ query: [Float], k: Int, excluding excluded: [Int32]) -> Neighbors {
        precondition(query.count == dimension, "query dimension \(query.count) ≠ index dimension \(dimension)")
        var q = query
        if metric == .cosine {
            let n = q.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if n > 0 { for j in q.indices { q[j] /= n } }
        }
        var scores = [Float](repeating: 0, count: count)
        vectors.data.withUnsafeBufferPointer { v in
            q.withUnsafeBufferPointer { x in
                scores.withUnsafeMutableBufferPointer { y in BLAS.gemv(rows: count, cols: dimension, a: v.baseAddress!, x: x.baseAddress!, y: y.baseAddress!) }
            }
        }
        for i in excluded where i >= 0 && Int(i) < count { scores[Int(i)] = -.infinity }
        return scores.withUnsafeBufferPointer { s in
            let ids = TopK.select(s, k: k)
            return Neighbors(ids: ids, scores: ids.map { s[Int($0)] })
        }
    }

    public func save(to path: String) throws {
        var data = Data("TNDMFLAT".utf8)
        for v in [Int64(dimension), Int64(count), metric == .cosine ? 1 : 0] { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        vectors.data.withUnsafeBytes { data.append(contentsOf: $0) }
        try writeAtomically(data, to: path)
    }
}

/// Approximate search with hnswlib's HNSW graph (inner-product space; cosine by normalising first).
public final class HNSWIndex: VectorIndex {
    private let handle: OpaquePointer
    public let dimension: Int
    public let metric: IndexMetric
    public var efSearch: Int { didSet { tandem_hnsw_set_ef(handle, Int64(efSearch)) } }
    public var count: Int { Int(tandem_hnsw_count(handle)) }

    /// Builds the graph from `vectors` (row `i` gets id `i`), inserting on all cores.
    public init(_ vectors: Tensor, metric: IndexMetric = .innerProduct, m: Int = 32, efConstruction: Int = 200,
                efSearch: Int = 64, seed: Int = 100) throws {
        guard let h = tandem_hnsw_create(Int64(vectors.cols), Int64(max(1, vectors.rows)), Int64(m), Int64(efConstruction), Int64(seed)) else {
            throw IndexError("cannot create HNSW index: \(String(cString: tandem_hnsw_last_error()))")
        }
        handle = h
        dimension = vectors.cols
        self.metric = metric
        self.efSearch = efSearch
        tandem_hnsw_set_ef(h, Int64(efSearch))
        let x = normalizedIfCosine(vectors, metric)
        let d = dimension
        var failures = 0
        x.data.withUnsafeBufferPointer { p in
            let base = p.baseAddress!
            if x.rows > 0 && tandem_hnsw_add(h, base, 0) != 0 { failures += 1 }
            let rest = max(0, x.rows - 1)
            let counter = FailureCounter()
            Parallel.forChunks(rest, minPerChunk: 256) { range in
                for r in range where tandem_hnsw_add(h, base + (r + 1) * d, Int64(r + 1)) != 0 { counter.increment() }
            }
            failures += counter.value
        }
        if failures > 0 { throw IndexError("HNSW insert failed for \(failures) vectors: \(String(cString: tandem_hnsw_last_error()))") }
    }

    /// Loads an index written by `save`.
    public init(loading path: String, dimension: Int, metric: IndexMetric, efSearch: Int = 64) throws {
        guard FileManager.default.fileExists(atPath: path), let h = tandem_hnsw_load(path, Int64(dimension)) else {
            throw IndexError("\(path): cannot load HNSW index (\(FileManager.default.fileExists(atPath: path) ? String(cString: tandem_hnsw_last_error()) : "no such file"))")
        }
        handle = h
        self.dimension = dimension
        self.metric = metric
        self.efSearch = efSearch
        tandem_hnsw_set_ef(h, Int64(efSearch))
    }

    deinit { tandem_hnsw_free(handle) }

    /// Inserts `vectors` with ids `count…` (the index grows as needed); the same metric treatment as the build.
    public func append(_ vectors: Tensor) throws {
        precondition(vectors.rows == 0 || vectors.cols == dimension, "vector dimension \(vectors.cols) ≠ index dimension \(dimension)")
        let first = count
        guard tandem_hnsw_reserve(handle, Int64(first + vectors.rows)) == 0 else {
            throw IndexError("cannot grow the HNSW index: \(String(cString: tandem_hnsw_last_error()))")
        }
        let x = normalizedIfCosine(vectors, metric)
        try x.data.withUnsafeBufferPointer { p in
            for r in 0..<x.rows where tandem_hnsw_add(handle, p.baseAddress! + r * dimension, Int64(first + r)) != 0 {
                throw IndexError("HNSW insert failed: \(String(cString: tandem_hnsw_last_error()))")
            }
        }
    }

    public func search(_ queries: Tensor, k: Int) -> [Neighbors] {
        precondition(queries.cols == dimension, "query dimension \(queries.cols) ≠ index dimension \(dimension)")
        let q = normalizedIfCosine(queries, metric)
        var out = [Neighbors](repeating: Neighbors(ids: [], scores: []), count: q.rows)
        let d = dimension, h = handle
        q.data.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                let ob = o.baseAddress!, qb = p.baseAddress!
                Parallel.forChunks(q.rows, minPerChunk: 64) { range in
                    var labels = [Int64](repeating: 0, count: k), scores = [Float](repeating: 0, count: k)
                    for r in range {
                        let n = Int(tandem_hnsw_search(h, qb + r * d, Int64(k), &labels, &scores))
                        ob[r] = n < 0 ? Neighbors(ids: [], scores: []) : Neighbors(ids: labels.prefix(n).map { Int32($0) }, scores: Array(scores.prefix(n)))
                    }
                }
            }
        }
        return out
    }

    public func save(to path: String) throws {
        let tmp = path + ".tmp-\(getpid())"
        guard tandem_hnsw_save(handle, tmp) == 0 else {
            try? FileManager.default.removeItem(atPath: tmp)
            throw IndexError("\(path): cannot write HNSW index: \(String(cString: tandem_hnsw_last_error()))")
        }
        guard rename(tmp, path) == 0 else { throw IndexError("\(path): cannot move the index into place") }
    }
}

/// A thread-safe counter for failures inside parallel loops.
final class FailureCounter: @unchecked Sendable {
    private var count = 0
    private let lock = NSLock()
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

func writeAtomically(_ data: Data, to path: String) throws {
    let tmp = path + ".tmp-\(getpid())"
    do { try data.write(to: URL(fileURLWithPath: tmp)) } catch {
        try? FileManager.default.removeItem(atPath: tmp)
        throw IndexError("\(path): cannot write (\(error.localizedDescription))")
    }
    guard rename(tmp, path) == 0 else { throw IndexError("\(path): cannot move the file into place") }
}
