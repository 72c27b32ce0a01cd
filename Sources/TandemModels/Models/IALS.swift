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
    /// iALS: how each row's d × d system is solved: cholesky (exact, Float64; d ≤ 512) or cg (conjugate gradients
    /// warm-started from the row's current value, as `implicit` does; any d).
    public var ialsSolver: IALSSolver = .cg
    /// iALS: conjugate-gradient steps per row and pass (cg).
    public var ialsCgSteps: Int = 3

    public init() {}
}

/// How iALS solves each row's linear system.
public enum IALSSolver: String, Codable, CaseIterable, Sendable {
    case cholesky, cg
}

/// iALS (Hu, Koren and Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008) in the form of
/// Rendle et al., "Revisiting the Performance of iALS on Item Recommendation Benchmarks" (RecSys 2022): minimise
/// `Σ_(u,i)∈S (w_u·h_i − 1)² + α₀ Σ_u Σ_i (w_u·h_i)² + λ Σ_u (|I_u| + α₀|I|)^ν ‖w_u‖² + λ Σ_i (|U_i| + α₀|U|)^ν ‖h_i‖²`
/// by alternating solves: each user's `(Σ_{i∈I_u} h_i h_iᵀ + α₀ HᵀH + λ_u I) w_u = Σ_{i∈I_u} h_i`, then each item's
/// likewise; exactly (Cholesky, Float64), or by a few conjugate-gradient steps from the current value, which never
/// forms the d × d matrix of a row (`A v = α₀ HᵀH v + λ_u v + Σ_i h_i (h_i·v)`) and so reaches d = 1024.
/// Dot-product embeddings: served through the same index as every embedding model.
public final class IALS: RetrievalModel {
    public let config: IALSConfig
    public let users: Parameter
    public let items: Parameter
    /// Training interactions by user and by item.
    public let byUser: CSRMatrix
    public let byItem: CSRMatrix

    public init(_ config: IALSConfig, train: Interactions, users numUsers: Int, items numItems: Int, dim: Int, rng: inout RNG) throws {
        guard config.ialsIterations >= 1, config.ialsUnobservedWeight >= 0, config.ialsRegularization > 0, config.ialsFrequencyExponent >= 0,
              config.ialsCgSteps >= 1 else {
            throw ConfigError("ials_iterations must be ≥ 1, ials_unobserved_weight ≥ 0, ials_regularization > 0, ials_frequency_exponent ≥ 0 and ials_cg_steps ≥ 1")
        }
        guard dim <= 512 || config.ialsSolver == .cg else {
            throw ConfigError("iALS with the cholesky solver forms a \(dim) × \(dim) system per row; above embedding_dim 512 use ials_solver cg")
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

    /// λ_r of a row with `count` interactions when the other side has `others` rows.
    func rowRegularization(count: Int, others: Int) -> Double {
        config.ialsRegularization * Foundation.pow(Double(count) + config.ialsUnobservedWeight * Double(others), config.ialsFrequencyExponent)
    }

    /// Solves every row of `target` given `fixed` with the configured solver.
    public func solve(_ target: Parameter, fixed: Tensor, rows: CSRMatrix) {
        switch config.ialsSolver {
        case .cholesky: solveExactly(target, fixed: fixed, rows: rows)
        case .cg: solveByConjugateGradients(target, fixed: fixed, rows: rows)
        }
    }

    /// `ials_cg_steps` conjugate-gradient steps on every row's system, from the row's current value (Hu et al.'s
    /// system in Rendle's form, as `solveExactly`'s). A step costs one `d × d` product with `α₀ FᵀF` and two passes
    /// over the row's items; the row's own `d × d` matrix is never formed.
    public func solveByConjugateGradients(_ target: Parameter, fixed: Tensor, rows: CSRMatrix) {
        let d = fixed.cols, others = fixed.rows, steps = config.ialsCgSteps
        var base = BLAS.matmul(fixed, transposeA: true, fixed)
        for k in 0..<base.data.count { base.data[k] *= Float(config.ialsUnobservedWeight) }
        var out = target.value
        out.data.withUnsafeMutableBufferPointer { result in
            fixed.data.withUnsafeBufferPointer { fp in
                base.data.withUnsafeBufferPointer { gp in
                    Parallel.forEach(rows.rows) { r in
                        let row = rows.columns(ofRow: r)
                        let lambda = Float(rowRegularization(count: row.count, others: others))
                        let x = result.baseAddress! + r * d  // rows are disjoint between workers
                        var ap = [Float](repeating: 0, count: d), residual = [Float](repeating: 0, count: d)
                        var direction = [Float](repeating: 0, count: d)
                        // A v into `into`: α₀FᵀF v + λ v + Σ_j f_j (f_j · v).
                        func apply(_ v: UnsafePointer<Float>, into: UnsafeMutablePointer<Float>) {
                            BLAS.gemv(rows: d, cols: d, a: gp.baseAddress!, x: v, y: into)
                            for p in 0..<d { into[p] += lambda * v[p] }
                            for j in row {
                                let f = fp.baseAddress! + Int(j) * d
                                var dot: Float = 0
                                for p in 0..<d { dot += f[p] * v[p] }
                                for p in 0..<d { into[p] += dot * f[p] }
                            }
                        }
                        ap.withUnsafeMutableBufferPointer { apb in
                            residual.withUnsafeMutableBufferPointer { rb in
                                direction.withUnsafeMutableBufferPointer { db in
                                    let a = apb.baseAddress!, res = rb.baseAddress!, dir = db.baseAddress!
                                    // residual = b − A x, with b = Σ_j f_j.
                                    apply(x, into: a)
                                    for p in 0..<d { res[p] = -a[p] }
                                    for j in row { let f = fp.baseAddress! + Int(j) * d; for p in 0..<d { res[p] += f[p] } }
                                    for p in 0..<d { dir[p] = res[p] }
                                    var rr: Float = 0
                                    for p in 0..<d { rr += res[p] * res[p] }
                                    for _ in 0..<steps where rr > 1e-20 {
                                        apply(dir, into: a)
                                        var pAp: Float = 0
                                        for p in 0..<d { pAp += dir[p] * a[p] }
                                        guard pAp > 0 else { break }
                                        let alpha = rr / pAp
                                        var next: Float = 0
                                        for p in 0..<d { x[p] += alpha * dir[p]; res[p] -= alpha * a[p]; next += res[p] * res[p] }
                                        let beta = next / rr
                                        for p in 0..<d { dir[p] = res[p] + beta * dir[p] }
                                        rr = next
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        target.value = out
    }

    /// Solves every row of `target` given `fixed` exactly: `(Σ_{j∈row} f_j f_jᵀ + α₀ FᵀF + λ_r I) t_r = Σ_{j∈row} f_j`.
    public func solveExactly(_ target: Parameter, fixed: Tensor, rows: CSRMatrix) {
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
                    let lambda = rowRegularization(count: row.count, others: others)
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
