import Foundation
import Dispatch
import TandemTensor
import TandemAutograd
import TandemData

/// Settings of iALS. YAML keys and flags are the snake_case / kebab-case of these names.
public struct IALSConfig: Codable, Equatable, Sendable {
    /// iALS: alternating passes (users, then items); the one with the best validation metric is kept.
    public var ialsIterations: Int = 16
    /// iALS: weight α₀ of the squared score of every (user, item) pair, observed or not.
    public var ialsUnobservedWeight: Double = 0.5
    /// iALS: L2 weight λ, scaled per row by (its interaction count + α₀ × the other side's count)^ν.
    public var ialsRegularization: Double = 0.01
    /// iALS: the frequency exponent ν of the regularisation (0: the same λ for every row).
    public var ialsFrequencyExponent: Double = 1

    public init() {}
}

/// iALS (Hu, Koren and Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008) in the form of
/// Rendle et al., "Revisiting the Performance of iALS on Item Recommendation Benchmarks" (RecSys 2022): minimise
/// `Σ_(u,i)∈S (w_u·h_i − 1)² + α₀ Σ_u Σ_i (w_u·h_i)² + λ Σ_u (|I_u| + α₀|I|)^ν ‖w_u‖² + λ Σ_i (|U_i| + α₀|U|)^ν ‖h_i‖²`
/// by exact alternating solves: each user's `(Σ_{i∈I_u} h_i h_iᵀ + α₀ HᵀH + λ_u I) w_u = Σ_{i∈I_u} h_i` (Cholesky, Float64),
/// then each item's likewise. Dot-product embeddings: served through the same index as every embedding model.
public final class IALS: RetrievalModel {
    public let config: IALSConfig
    public let users: Parameter
    public let items: Parameter
    /// Training interactions by user and by item.
    public let byUser: CSRMatrix
    public let byItem: CSRMatrix

    public init(_ config: IALSConfig, train: Interactions, users numUsers: Int, items numItems: Int, dim: Int, rng: inout RNG) throws {
        guard config.ialsIterations >= 1, config.ialsUnobservedWeight >= 0, config.ialsRegularization > 0, config.ialsFrequencyExponent >= 0 else {
            throw ConfigError("ials_iterations must be ≥ 1, ials_unobserved_weight ≥ 0, ials_regularization > 0 and ials_frequency_exponent ≥ 0")
        }
        guard dim <= 512 else {
            throw ConfigError("iALS solves a \(dim) × \(dim) system per row by Cholesky; embedding_dim above 512 needs conjugate gradients, which Tandem does not have yet")
        }
        self.config = config
        // Rendle et al. initialise with a small normal: std 0.1 / √d.
        let std = 0.1 / Float(dim).squareRoot()
        self.users = Parameter("ials.user", rng.normalTensor(shape: [numUsers, dim], std: std))
        self.items = Parameter("ials.item", rng.normalTensor(shape: [numItems, dim], std: std))
        byUser = train.matrix(users: numUsers, items: numItems)
        byItem = byUser.transposed()
    }

    public var parameters: [Parameter] { [users, items] }
    public var itemParameters: [Parameter] { [items] }
    public var trainsByGradient: Bool { false }
    public func userEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.constant(users.value.gatherRows(ids)) }
    public func itemEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.constant(items.value.gatherRows(ids)) }

    /// Dot products as they are (the loss fits raw scores).
    public func allEmbeddings(users isUsers: Bool, count: Int, normalize: Bool) -> Tensor {
        isUsers ? users.value : items.value
    }

    /// The objective above at the current embeddings (for tests and the log).
    public func objective() -> Double {
        let w = users.value, h = items.value, d = w.cols, a0 = config.ialsUnobservedWeight
        var observed = 0.0
        for u in 0..<byUser.rows {
            for i in byUser.columns(ofRow: u) {
                var s = 0.0
                for k in 0..<d { s += Double(w[u, k]) * Double(h[Int(i), k]) }
                observed += (s - 1) * (s - 1)
            }
        }
        // Σ_u Σ_i (w_u·h_i)² = trace(WᵀW HᵀH).
        let gw = Self.gramian(w), gh = Self.gramian(h)
        var all = 0.0
        for k in 0..<(d * d) { all += gw[k] * gh[k] }
        func penalty(_ e: Tensor, _ counts: CSRMatrix, _ others: Int) -> Double {
            (0..<e.rows).reduce(0.0) { acc, r in
                let weight = Foundation.pow(Double(counts.rowPointers[r + 1] - counts.rowPointers[r]) + a0 * Double(others), config.ialsFrequencyExponent)
                return acc + weight * (0..<d).reduce(0.0) { $0 + Double(e[r, $1]) * Double(e[r, $1]) }
            }
        }
        return observed + a0 * all + config.ialsRegularization * (penalty(w, byUser, h.rows) + penalty(h, byItem, w.rows))
    }

    /// `EᵀE` in Float64, row-major d × d.
    static func gramian(_ e: Tensor) -> [Double] {
        let d = e.cols
        var g = [Double](repeating: 0, count: d * d)
        for r in 0..<e.rows { for a in 0..<d { let x = Double(e[r, a]); for b in 0..<d { g[a * d + b] += x * Double(e[r, b]) } } }
        return g
    }

    /// Solves every row of `target` given `fixed`: `(Σ_{j∈row} f_j f_jᵀ + α₀ FᵀF + λ_r I) t_r = Σ_{j∈row} f_j`.
    public func solve(_ target: Parameter, fixed: Tensor, rows: CSRMatrix) {
        let d = fixed.cols, a0 = config.ialsUnobservedWeight, others = fixed.rows
        let base = Self.gramian(fixed).map { $0 * a0 }
        var out = target.value
        out.data.withUnsafeMutableBufferPointer { result in
            fixed.data.withUnsafeBufferPointer { fp in
                Parallel.forEach(rows.rows) { r in
                    let row = rows.columns(ofRow: r)
                    // The row's items gathered, then Σ f_j f_jᵀ by one symmetric rank-k product (BLAS).
                    var gathered = [Float](repeating: 0, count: max(1, row.count * d))
                    var b = [Double](repeating: 0, count: d)
                    for (n, j) in row.enumerated() {
                        let f = Int(j) * d
                        for p in 0..<d { gathered[n * d + p] = fp[f + p]; b[p] += Double(fp[f + p]) }
                    }
                    var outer = [Float](repeating: 0, count: d * d)
                    if !row.isEmpty {
                        gathered.withUnsafeBufferPointer { g in
                            outer.withUnsafeMutableBufferPointer { o in BLAS.gramLower(rows: row.count, cols: d, a: g.baseAddress!, c: o.baseAddress!) }
                        }
                    }
                    var a = base
                    for p in 0..<d { for q in 0...p { a[p * d + q] += Double(outer[p * d + q]) } }
                    let lambda = config.ialsRegularization * Foundation.pow(Double(row.count) + a0 * Double(others), config.ialsFrequencyExponent)
                    for p in 0..<d { a[p * d + p] += lambda }
                    Self.choleskySolve(&a, &b, d)
                    for p in 0..<d { result[r * d + p] = Float(b[p]) }  // rows are disjoint between workers
                }
            }
        }
        target.value = out
    }

    /// Solves `A x = b` for symmetric positive-definite `A` given by its lower triangle (row-major); `b` becomes `x`.
    public static func choleskySolve(_ a: inout [Double], _ b: inout [Double], _ d: Int) {
        for j in 0..<d {
            var s = a[j * d + j]
            for k in 0..<j { s -= a[j * d + k] * a[j * d + k] }
            let l = s > 0 ? s.squareRoot() : 1e-12
            a[j * d + j] = l
            for i in (j + 1)..<max(j + 1, d) {
                var t = a[i * d + j]
                for k in 0..<j { t -= a[i * d + k] * a[j * d + k] }
                a[i * d + j] = t / l
            }
        }
        for i in 0..<d {  // L y = b
            var t = b[i]
            for k in 0..<i { t -= a[i * d + k] * b[k] }
            b[i] = t / a[i * d + i]
        }
        for i in stride(from: d - 1, through: 0, by: -1) {  // Lᵀ x = y
            var t = b[i]
            for k in (i + 1)..<max(i + 1, d) { t -= a[k * d + i] * b[k] }
            b[i] = t / a[i * d + i]
        }
    }

    /// Alternates user and item solves for `ials_iterations` passes, keeping the pass with the best validation metric.
    public func fit(validate: () -> Double, log: (String) -> Void) throws -> [String: Double] {
        var best: (iteration: Int, score: Double, users: Tensor, items: Tensor)?
        for it in 1...config.ialsIterations {
            let start = DispatchTime.now().uptimeNanoseconds
            solve(users, fixed: items.value, rows: byUser)
            solve(items, fixed: users.value, rows: byItem)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let score = validate()
            log(String(format: "ials pass %d: %.3fs, valid %.4f", it, seconds, score))
            if best == nil || score > best!.score { best = (it, score, users.value, items.value) }
        }
        users.value = best!.users; items.value = best!.items
        log("ials: kept pass \(best!.iteration) of \(config.ialsIterations)")
        return ["iteration": Double(best!.iteration)]
    }
}
