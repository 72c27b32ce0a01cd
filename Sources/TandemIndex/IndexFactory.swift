import TandemTensor

/// Index descriptions in the spirit of FAISS's index factory: `Flat` (exact) or `HNSW<M>` with optional
/// `,efConstruction=N` and `,efSearch=N` (e.g. `HNSW32,efSearch=128`). A bad string fails naming the bad token.
public struct IndexSpec: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable { case flat, hnsw(m: Int) }
    public var kind: Kind
    public var efConstruction = 200
    public var efSearch = 64

    public init(kind: Kind) { self.kind = kind }

    public init(parsing s: String) throws {
        let tokens = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let head = tokens.first else { throw IndexError("empty index description; use Flat or HNSW32") }
        if head == "Flat" {
            kind = .flat
        } else if head.hasPrefix("HNSW"), let m = Int(head.dropFirst(4)), m >= 2, m <= 256 {
            kind = .hnsw(m: m)
        } else {
            throw IndexError("index description '\(s)': unknown index '\(head)'; expected Flat or HNSW<M> (M in 2…256, e.g. HNSW32)")
        }
        for t in tokens.dropFirst() {
            let kv = t.split(separator: "=")
            guard kv.count == 2, let v = Int(kv[1]), v > 0 else {
                throw IndexError("index description '\(s)': cannot read '\(t)'; expected efConstruction=N or efSearch=N")
            }
            switch kv[0] {
            case "efConstruction": efConstruction = v
            case "efSearch": efSearch = v
            default: throw IndexError("index description '\(s)': unknown setting '\(kv[0])'; expected efConstruction or efSearch")
            }
            if kind == .flat { throw IndexError("index description '\(s)': Flat takes no '\(kv[0])'") }
        }
    }

    public var description: String {
        switch kind {
        case .flat: return "Flat"
        case .hnsw(let m): return "HNSW\(m),efConstruction=\(efConstruction),efSearch=\(efSearch)"
        }
    }

    /// Builds the described index over `vectors`.
    public func build(_ vectors: Tensor, metric: IndexMetric) throws -> VectorIndex {
        switch kind {
        case .flat: return ExactIndex(vectors, metric: metric)
        case .hnsw(let m): return try HNSWIndex(vectors, metric: metric, m: m, efConstruction: efConstruction, efSearch: efSearch)
        }
    }
}

/// Recall@k of approximate results against exact ones: the mean share of each query's true top k that was found.
public func recallAgainstExact(_ approx: [Neighbors], _ exact: [Neighbors], k: Int) -> Double {
    precondition(approx.count == exact.count)
    guard !exact.isEmpty else { return 1 }
    var total = 0.0
    for (a, e) in zip(approx, exact) {
        let truth = Set(e.ids.prefix(k))
        guard !truth.isEmpty else { total += 1; continue }
        total += Double(a.ids.prefix(k).filter { truth.contains($0) }.count) / Double(truth.count)
    }
    return total / Double(exact.count)
}
