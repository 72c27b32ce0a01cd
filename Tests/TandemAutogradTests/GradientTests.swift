import Testing
import TandemTensor
import TandemAutograd
import Foundation

/// A Float64 matrix: the reference each op's forward value and finite-difference gradient are computed in.
struct DMat {
    var rows: Int, cols: Int, v: [Double]
    init(_ t: Tensor) { rows = t.rows; cols = t.cols; v = t.data.map(Double.init) }
    init(rows: Int, cols: Int, v: [Double]) { self.rows = rows; self.cols = cols; self.v = v }
    init(rows: Int, cols: Int, _ f: (Int, Int) -> Double) {
        self.rows = rows; self.cols = cols
        v = (0..<(rows * cols)).map { f($0 / cols, $0 % cols) }
    }
    subscript(i: Int, j: Int) -> Double { v[i * cols + j] }
    func map(_ f: (Double) -> Double) -> DMat { DMat(rows: rows, cols: cols, v: v.map(f)) }
    var t: DMat { DMat(rows: cols, cols: rows) { self[$1, $0] } }
    static func * (a: DMat, b: DMat) -> DMat {
        precondition(a.cols == b.rows)
        return DMat(rows: a.rows, cols: b.cols) { i, j in (0..<a.cols).reduce(0) { $0 + a[i, $1] * b[$1, j] } }
    }
    /// `b` broadcast like the Float32 op does (same, row, column or scalar).
    func bcast(_ b: DMat, _ f: (Double, Double) -> Double) -> DMat {
        DMat(rows: rows, cols: cols) { i, j in
            let bi = b.rows == 1 ? 0 : i, bj = b.cols == 1 ? 0 : j
            return f(self[i, j], b[bi, bj])
        }
    }
}

/// Checks an op's forward value against a Float64 reference, and its gradient against central differences
/// of that reference (h = 1e-6), for a random projection of the output.
func checkOp(_ inputs: [Tensor], seed: UInt64 = 1, tolerance: Double = 2e-3,
             _ op: (Tape, [Variable]) -> Variable, reference: ([DMat]) -> DMat,
             sourceLocation: SourceLocation = #_sourceLocation) {
    let tape = Tape()
    let vars = inputs.map { tape.constant($0) }
    let out = op(tape, vars)
    let refOut = reference(inputs.map(DMat.init))
    #expect(out.value.rows == refOut.rows && out.value.cols == refOut.cols, "shape \(out.shape) vs reference \(refOut.rows)×\(refOut.cols)", sourceLocation: sourceLocation)
    let fwdErr = zip(out.value.data, refOut.v).map { abs(Double($0) - $1) / (1 + abs($1)) }.max() ?? 0
    #expect(fwdErr < 1e-4, "forward differs from Float64 reference by \(fwdErr)", sourceLocation: sourceLocation)

    var rng = RNG(seed: seed &+ 99)
    let w = rng.normalTensor(shape: out.shape, std: 1)
    let wd = w.data.map(Double.init)
    let analytic = tape.gradients(of: out, withRespectTo: vars, seed: w)
    func objective(_ xs: [DMat]) -> Double { zip(reference(xs).v, wd).reduce(0) { $0 + $1.0 * $1.1 } }
    let h = 1e-6
    for k in inputs.indices {
        var xs = inputs.map(DMat.init)
        var numeric = [Double](repeating: 0, count: xs[k].v.count)
        for e in numeric.indices {
            let orig = xs[k].v[e]
            xs[k].v[e] = orig + h; let fp = objective(xs)
            xs[k].v[e] = orig - h; let fm = objective(xs)
            xs[k].v[e] = orig
            numeric[e] = (fp - fm) / (2 * h)
        }
        let a = analytic[k].data.map(Double.init)
        let diff = zip(a, numeric).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        let scale = max(numeric.reduce(0) { $0 + $1 * $1 }.squareRoot(), a.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-6)
        #expect(diff / scale < tolerance, "input \(k): relative gradient error \(diff / scale)", sourceLocation: sourceLocation)
    }
}

func randomMatrix(_ rng: inout RNG, _ r: Int, _ c: Int, awayFromZero: Bool = false, positive: Bool = false) -> Tensor {
    var t = rng.normalTensor(shape: [r, c], std: 1)
    for i in t.data.indices {
        if positive { t.data[i] = abs(t.data[i]) + 0.5 }
        if awayFromZero && abs(t.data[i]) < 0.1 { t.data[i] += t.data[i] < 0 ? -0.2 : 0.2 }
    }
    return t
}

@Suite("Finite-difference gradients (Float64 reference)")
struct GradientTests {
    static let seeds: [UInt64] = [1, 2, 3]

    @Test(arguments: seeds) func matmulAllTransposes(seed: UInt64) {
        var rng = RNG(seed: seed)
        let m = 2 + rng.int(below: 4), k = 2 + rng.int(below: 4), n = 2 + rng.int(below: 4)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randomMatrix(&rng, ta ? k : m, ta ? m : k), b = randomMatrix(&rng, tb ? n : k, tb ? k : n)
            checkOp([a, b], seed: seed, { $0.matmul($1[0], $1[1], transposeA: ta, transposeB: tb) },
                    reference: { (ta ? $0[0].t : $0[0]) * (tb ? $0[1].t : $0[1]) })
        }
    }

    @Test(arguments: seeds) func binaryWithBroadcasting(seed: UInt64) {
        var rng = RNG(seed: seed)
        let n = 2 + rng.int(below: 4), d = 2 + rng.int(below: 4)
        let shapes = [(n, d), (1, d), (n, 1), (1, 1)]
        let kinds: [(BinaryKind, (Double, Double) -> Double)] = [(.add, +), (.sub, -), (.mul, *), (.div, /)]
        for (r, c) in shapes {
            for (kind, f) in kinds {
                let a = randomMatrix(&rng, n, d)
                let b = randomMatrix(&rng, r, c, awayFromZero: true, positive: kind == .div)
                checkOp([a, b], seed: seed, { $0.binary(kind, $1[0], $1[1]) }, reference: { $0[0].bcast($0[1], f) })
            }
        }
    }

    @Test(arguments: seeds) func scaleAndShift(seed: UInt64) {
        var rng = RNG(seed: seed)
        let a = randomMatrix(&rng, 3, 4)
        checkOp([a], { $0.scale($1[0], -2.5) }, reference: { $0[0].map { $0 * -2.5 } })
        checkOp([a], { $1[0] + 1.5 }, reference: { $0[0].map { $0 + 1.5 } })
    }

    @Test(arguments: UnaryKind.allCases) func unary(kind: UnaryKind) {
        var rng = RNG(seed: 7)
        let a = randomMatrix(&rng, 3, 5, awayFromZero: true, positive: kind == .log)
        let f: (Double) -> Double
        switch kind {
        case .relu: f = { max($0, 0) }
        case .sigmoid: f = { 1 / (1 + Foundation.exp(-$0)) }
        case .tanh: f = { Foundation.tanh($0) }
        case .gelu: f = { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }
        case .log: f = { Foundation.log($0) }
        case .exp: f = { Foundation.exp($0) }
        case .softplus: f = { Foundation.log(1 + Foundation.exp($0)) }
        }
        checkOp([a], { $0.unary(kind, $1[0]) }, reference: { $0[0].map(f) })
    }

    @Test(arguments: ReduceAxis.allCases) func reductions(axis: ReduceAxis) {
        var rng = RNG(seed: 11)
        let a = randomMatrix(&rng, 4, 3)
        for mean in [false, true] {
            checkOp([a], { mean ? $0.mean($1[0], axis) : $0.sum($1[0], axis) }, reference: { x in
                switch axis {
                case .all: let s = x[0].v.reduce(0, +); return DMat(rows: 1, cols: 1, v: [mean ? s / Double(x[0].v.count) : s])
                case .perRow: return DMat(rows: x[0].rows, cols: 1) { i, _ in
                    let s = (0..<x[0].cols).reduce(0) { $0 + x[0][i, $1] }; return mean ? s / Double(x[0].cols) : s }
                case .perColumn: return DMat(rows: 1, cols: x[0].cols) { _, j in
                    let s = (0..<x[0].rows).reduce(0) { $0 + x[0][$1, j] }; return mean ? s / Double(x[0].rows) : s }
                }
            })
        }
    }

    @Test(arguments: seeds) func l2NormalizeRowDotConcat(seed: UInt64) {
        var rng = RNG(seed: seed)
        let n = 2 + rng.int(below: 4), d = 2 + rng.int(below: 5)
        let a = randomMatrix(&rng, n, d), b = randomMatrix(&rng, n, d), c = randomMatrix(&rng, n, 2)
        checkOp([a], { $0.l2Normalize($1[0]) }, reference: { x in
            DMat(rows: n, cols: d) { i, j in x[0][i, j] / (0..<d).reduce(0) { $0 + x[0][i, $1] * x[0][i, $1] }.squareRoot() }
        })
        checkOp([a, b], { $0.rowDot($1[0], $1[1]) }, reference: { x in
            DMat(rows: n, cols: 1) { i, _ in (0..<d).reduce(0) { $0 + x[0][i, $1] * x[1][i, $1] } }
        })
        checkOp([a, c, b], { $0.concatColumns($1) }, reference: { x in
            DMat(rows: n, cols: 2 * d + 2) { i, j in j < d ? x[0][i, j] : j < d + 2 ? x[1][i, j - d] : x[2][i, j - d - 2] }
        })
    }

    @Test(arguments: seeds) func sumOfSquaresAndWideBroadcasts(seed: UInt64) {
        // Widths past 16 so the vectorised loops (eight and sixteen at a time) and their tails are both exercised.
        var rng = RNG(seed: seed)
        let n = 2 + rng.int(below: 4), d = 9 + rng.int(below: 40)
        let a = randomMatrix(&rng, n, d), b = randomMatrix(&rng, n, d), col = randomMatrix(&rng, n, 1, positive: true)
        checkOp([a], { $0.sumOfSquares($1[0]) }, reference: { x in DMat(rows: 1, cols: 1) { _, _ in x[0].v.reduce(0) { $0 + $1 * $1 } } })
        checkOp([a, b], { $0.binary(.mul, $1[0], $1[1]) }, reference: { x in x[0].bcast(x[1], *) })
        checkOp([a, col], { $0.binary(.sub, $1[0], $1[1]) }, reference: { x in x[0].bcast(x[1], -) })
        checkOp([a, col], { $0.binary(.div, $1[0], $1[1]) }, reference: { x in x[0].bcast(x[1], /) })
        checkOp([a, b], { $0.rowDot($1[0], $1[1]) }, reference: { x in
            DMat(rows: n, cols: 1) { i, _ in (0..<d).reduce(0) { $0 + x[0][i, $1] * x[1][i, $1] } }
        })
    }

    @Test func gatherAndSegments() {
        var rng = RNG(seed: 5)
        let a = randomMatrix(&rng, 5, 3)
        let idx: [Int32] = [4, 0, 4, 2]
        checkOp([a], { $0.gatherRows($1[0], idx) }, reference: { x in DMat(rows: 4, cols: 3) { i, j in x[0][Int(idx[i]), j] } })
        let b = randomMatrix(&rng, 2, 3), c = randomMatrix(&rng, 1, 3)
        checkOp([a, b, c], { $0.concatRows($1) }, reference: { x in
            DMat(rows: 8, cols: 3) { i, j in i < 5 ? x[0][i, j] : i < 7 ? x[1][i - 5, j] : x[2][i - 7, j] }
        })
        let offsets = [0, 2, 2, 5]  // the middle segment is empty
        for mean in [false, true] {
            checkOp([a], { $0.segmentReduce($1[0], offsets: offsets, mean: mean) }, reference: { x in
                DMat(rows: 3, cols: 3) { s, j in
                    let lo = offsets[s], hi = offsets[s + 1]
                    let sum = (lo..<hi).reduce(0) { $0 + x[0][$1, j] }
                    return mean && hi > lo ? sum / Double(hi - lo) : sum
                }
            })
        }
    }

    @Test(arguments: seeds) func sparseTimesDense(seed: UInt64) {
        var rng = RNG(seed: seed)
        let r = 4 + rng.int(below: 3), c = 3 + rng.int(below: 3), d = 2 + rng.int(below: 3)
        var coo: [(row: Int32, col: Int32, value: Float)] = []
        for i in 0..<r { for j in 0..<c where rng.uniform() < 0.5 { coo.append((Int32(i), Int32(j), rng.normal())) } }
        let csr = CSRMatrix(rows: r, cols: c, coordinates: coo)
        let dense = DMat(csr.toDense())
        let x = randomMatrix(&rng, c, d)
        checkOp([x], { $0.sparseMatmul(csr, $1[0]) }, reference: { dense * $0[0] })
    }

    /// LightGCN's fused propagation + layer mean against (1/(K+1)) Σ Aᵏ x in Float64, on a non-symmetric A
    /// (so the backward's use of Aᵀ is checked too), for K = 0…3.
    @Test(arguments: seeds) func propagationMean(seed: UInt64) {
        var rng = RNG(seed: seed)
        let n = 3 + rng.int(below: 4), d = 2 + rng.int(below: 3)
        var coo: [(row: Int32, col: Int32, value: Float)] = []
        for i in 0..<n { for j in 0..<n where rng.uniform() < 0.5 { coo.append((Int32(i), Int32(j), rng.uniform() - 0.5)) } }
        let csr = CSRMatrix(rows: n, cols: n, coordinates: coo)
        let dense = DMat(csr.toDense())
        let x = randomMatrix(&rng, n, d)
        for layers in 0...3 {
            checkOp([x], { $0.propagationMean(csr, $1[0], layers: layers) }, reference: { x in
                var power = x[0], sum = x[0]
                for _ in 0..<layers {
                    power = dense * power
                    let (p, s) = (power, sum)
                    sum = DMat(rows: n, cols: d) { i, j in s[i, j] + p[i, j] }
                }
                return DMat(rows: n, cols: d) { i, j in sum[i, j] / Double(layers + 1) }
            })
        }
    }

    @Test(arguments: seeds) func logSoftmaxAndCrossEntropy(seed: UInt64) {
        var rng = RNG(seed: seed)
        let n = 2 + rng.int(below: 4), d = 3 + rng.int(below: 4)
        let a = randomMatrix(&rng, n, d)
        func lse(_ x: DMat, _ i: Int, _ keep: (Int) -> Bool) -> Double {
            let m = (0..<d).filter(keep).map { x[i, $0] }.max()!
            return m + Foundation.log((0..<d).filter(keep).reduce(0) { $0 + Foundation.exp(x[i, $1] - m) })
        }
        checkOp([a], { $0.logSoftmax($1[0]) }, reference: { x in DMat(rows: n, cols: d) { i, j in x[0][i, j] - lse(x[0], i) { _ in true } } })
        let targets = (0..<n).map { _ in Int32(rng.int(below: d)) }
        var mask = Tensor(repeating: 1, shape: [n, d])
        for i in 0..<n { for j in 0..<d where j != Int(targets[i]) && rng.uniform() < 0.3 { mask[i, j] = 0 } }
        for m in [nil, mask] {
            checkOp([a], { $0.crossEntropy(logits: $1[0], targets: targets, mask: m) }, reference: { x in
                let total = (0..<n).reduce(0.0) { acc, i in
                    acc + lse(x[0], i) { m == nil || m![i, $0] != 0 } - x[0][i, Int(targets[i])]
                }
                return DMat(rows: 1, cols: 1, v: [total / Double(n)])
            })
        }
    }

    /// Gathers big enough to be split between cores (thousands of 64-wide rows, repeats, both ends of the table):
    /// the forward copies rows exactly, and the backward's scatter — split by destination rows, zeroing its own part
    /// — sums each row's seeds in index order, equal to a Float64 scatter within rounding. Also into an existing
    /// gradient (the same rows gathered twice), and with fewer indices than the parallel threshold.
    @Test func largeGatherAndScatterMatchSerialSums() {
        var rng = RNG(seed: 12)
        let n = 2625, d = 64
        let table = rng.normalTensor(shape: [n, d], std: 1)
        for count in [6144, 7] {
            var idx = (0..<count).map { _ in Int32(rng.int(below: n)) }
            idx[0] = 0; idx[count - 1] = Int32(n - 1); if count > 2 { idx[1] = 0 }
            let tape = Tape()
            let x = tape.constant(table)
            let a = tape.gatherRows(x, idx), b = tape.gatherRows(x, idx.reversed())
            for (k, r) in idx.enumerated() { #expect(Array(a.value.data[(k * d)..<((k + 1) * d)]) == Array(table.data[(Int(r) * d)..<((Int(r) + 1) * d)])) }
            let seed = rng.normalTensor(shape: [count, 2 * d], std: 1)
            let out = tape.concatColumns([a, b])
            let g = tape.gradients(of: out, withRespectTo: [x], seed: seed)[0]
            var expected = [Double](repeating: 0, count: n * d)
            for (k, r) in idx.enumerated() { for j in 0..<d { expected[Int(r) * d + j] += Double(seed.data[k * 2 * d + j]) } }
            for (k, r) in idx.reversed().enumerated() { for j in 0..<d { expected[Int(r) * d + j] += Double(seed.data[k * 2 * d + d + j]) } }
            let err = zip(g.data, expected).map { abs(Double($0) - $1) }.max() ?? 0
            #expect(err < 1e-4, "count \(count): scatter differs from Float64 sums by \(err)")
        }
    }

    @Test func dropoutScalesSurvivorsAndPassesGradientThroughMask() {
        var rng = RNG(seed: 3)
        let a = randomMatrix(&rng, 40, 50, awayFromZero: true)
        let tape = Tape(training: true, seed: 9)
        let x = tape.constant(a)
        let y = tape.dropout(x, p: 0.25)
        let mask = zip(y.value.data, a.data).map { $0 / $1 }
        #expect(mask.allSatisfy { abs($0) < 1e-6 || abs($0 - 1 / 0.75) < 1e-5 })
        let dropped = Double(mask.filter { $0 == 0 }.count) / Double(mask.count)
        #expect(abs(dropped - 0.25) < 0.04)
        let g = tape.gradients(of: y, withRespectTo: [x], seed: Tensor(repeating: 1, shape: a.shape))[0]
        #expect(zip(g.data, mask).allSatisfy { abs($0 - $1) < 1e-5 })
        let eval = Tape(training: false)
        let e = eval.constant(a)
        #expect(eval.dropout(e, p: 0.5).id == e.id)
    }

    @Test func embeddingGradientIsSparseAndMatchesDense() {
        var rng = RNG(seed: 4)
        let table = Parameter("emb", rng.normalTensor(shape: [6, 3], std: 1), sparse: true)
        let dense = Parameter("w", rng.normalTensor(shape: [3, 2], std: 1))
        let idx: [Int32] = [1, 4, 1]
        let tape = Tape()
        let out = tape.sum(tape.matmul(tape.embedding(table, rows: idx), tape.parameter(dense)))
        let grads = tape.backward(out)
        let rows = grads.coalescedRows(of: table)!
        #expect(rows.indices == [1, 4])
        // d/dE[r] of sum(E[idx] W) = (count of r in idx) * rowsum(W)
        let rowSum = (0..<3).map { i in dense.value[i, 0] + dense.value[i, 1] }
        for j in 0..<3 {
            #expect(abs(rows.values[0, j] - 2 * rowSum[j]) < 1e-5)
            #expect(abs(rows.values[1, j] - rowSum[j]) < 1e-5)
        }
        #expect(grads.denseGradient(of: table)![0, 0] == 0)
        #expect(grads.dense[ObjectIdentifier(dense)] != nil)
    }

    @Test func sparseRowsFromSeveralLookupsCoalesceInOrder() {
        // Three lookups of one table, rows repeated within and across them and out of order: the coalesced gradient
        // has each touched row once, ascending, equal to the rows summed in lookup order.
        var rng = RNG(seed: 8)
        let table = Parameter("emb", rng.normalTensor(shape: [50, 5], std: 1), sparse: true)
        let lookups: [[Int32]] = [[7, 3, 7, 49, 0], [3, 3, 12], [49, 7, 21, 0, 0, 3]]
        let tape = Tape()
        var total: Variable?
        var weights: [Tensor] = []
        for rows in lookups {
            let w = rng.normalTensor(shape: [rows.count, 5], std: 1)
            weights.append(w)
            let term = tape.sum(tape.embedding(table, rows: rows) * tape.constant(w))
            total = total.map { $0 + term } ?? term
        }
        let coalesced = tape.backward(total!).coalescedRows(of: table)!
        #expect(coalesced.indices == [0, 3, 7, 12, 21, 49])
        for (slot, row) in coalesced.indices.enumerated() {
            for j in 0..<5 {
                var expected: Float = 0
                for (rows, w) in zip(lookups, weights) { for (k, r) in rows.enumerated() where r == row { expected += w[k, j] } }
                #expect(abs(coalesced.values[slot, j] - expected) <= 1e-6 * (1 + abs(expected)))
            }
        }
    }
}
