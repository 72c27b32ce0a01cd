import TandemTensor
#if canImport(Glibc)
import Glibc
#endif

/// The user–item bipartite graph of the training interactions, as the symmetric normalised adjacency
/// `D^-1/2 A D^-1/2` over `users + items` nodes (users first, then items at offset `users`).
public struct BipartiteGraph: Sendable {
    public let users: Int
    public let items: Int
    /// Training edges (user, item), each once.
    public let edgeUsers: [Int32]
    public let edgeItems: [Int32]

    public init(train: Interactions, users: Int, items: Int) {
        self.users = users; self.items = items
        var seen = Set<Int64>()
        var eu: [Int32] = [], ei: [Int32] = []
        for (u, i) in zip(train.users, train.items) where seen.insert(Int64(u) << 32 | Int64(i)).inserted {
            eu.append(u); ei.append(i)
        }
        edgeUsers = eu; edgeItems = ei
    }

    public var nodes: Int { users + items }

    /// `D^-1/2 A D^-1/2` over the edges whose `keep` flag is true (all when nil). Isolated nodes get empty rows.
    /// The matrix is symmetric, so it is its own transpose.
    public func normalizedAdjacency(keep: [Bool]? = nil) -> CSRMatrix {
        var degree = [Float](repeating: 0, count: nodes)
        for e in edgeUsers.indices where keep?[e] ?? true {
            degree[Int(edgeUsers[e])] += 1; degree[users + Int(edgeItems[e])] += 1
        }
        let inv = degree.map { $0 > 0 ? 1 / $0.squareRoot() : 0 }
        var coo: [(row: Int32, col: Int32, value: Float)] = []
        coo.reserveCapacity(2 * edgeUsers.count)
        for e in edgeUsers.indices where keep?[e] ?? true {
            let u = Int(edgeUsers[e]), i = users + Int(edgeItems[e])
            let w = inv[u] * inv[i]
            coo.append((Int32(u), Int32(i), w)); coo.append((Int32(i), Int32(u), w))
        }
        return CSRMatrix(rows: nodes, cols: nodes, coordinates: coo)
    }

    /// Edge dropout (SGL's ED): each edge kept with probability `1 − ratio`, then re-normalised.
    public func edgeDropout(ratio: Double, rng: inout RNG) -> CSRMatrix {
        normalizedAdjacency(keep: edgeUsers.indices.map { _ in rng.uniformDouble() >= ratio })
    }

    /// Node dropout (SGL's ND): each node dropped with probability `ratio` together with all its edges, then re-normalised.
    public func nodeDropout(ratio: Double, rng: inout RNG) -> CSRMatrix {
        let dropped = (0..<nodes).map { _ in rng.uniformDouble() < ratio }
        return normalizedAdjacency(keep: edgeUsers.indices.map { e in
            !dropped[Int(edgeUsers[e])] && !dropped[users + Int(edgeItems[e])]
        })
    }
}
