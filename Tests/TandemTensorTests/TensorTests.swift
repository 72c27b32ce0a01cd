import Testing
import Foundation
@testable import TandemTensor

@Suite struct TensorTests {
    @Test func gemmMatchesNaiveProductForAllTransposes() {
        var rng = RNG(seed: 1)
        let a = rng.normalTensor(shape: [7, 5], std: 1), b = rng.normalTensor(shape: [5, 3], std: 1)
        var naive = Tensor(zeros: [7, 3])
        for i in 0..<7 { for j in 0..<3 { for k in 0..<5 { naive[i, j] += a[i, k] * b[k, j] } } }
        #expect(BLAS.matmul(a, b).isClose(to: naive, tolerance: 1e-5))
        #expect(BLAS.matmul(a.transposed(), transposeA: true, b).isClose(to: naive, tolerance: 1e-5))
        #expect(BLAS.matmul(a, b.transposed(), transposeB: true).isClose(to: naive, tolerance: 1e-5))
    }

    /// Large enough (m·n·k ≥ 2²¹) that the product is split by rows across cores, for every transpose combination.
    @Test func rowSplitGemmMatchesNaive() {
        var rng = RNG(seed: 2)
        let m = 301, k = 97, n = 103
        let a = rng.normalTensor(shape: [m, k], std: 1), b = rng.normalTensor(shape: [k, n], std: 1)
        var naive = Tensor(zeros: [m, n])
        for i in 0..<m { for j in 0..<n { var s = 0.0; for p in 0..<k { s += Double(a[i, p]) * Double(b[p, j]) }; naive[i, j] = Float(s) } }
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let c = BLAS.matmul(ta ? a.transposed() : a, transposeA: ta, tb ? b.transposed() : b, transposeB: tb)
            #expect(c.isClose(to: naive, tolerance: 1e-4), "transposeA \(ta) transposeB \(tb)")
        }
    }

    /// OpenBLAS's thread count is one setting for the process, and a product's bits depend on it: products made while
    /// another thread inverts matrices on OpenBLAS's own threads (as EASE does) keep the bits they have alone, and
    /// OpenBLAS is single-threaded again after.
    @Test func productsKeepTheirBitsWhileAnotherThreadInverts() throws {
        var rng = RNG(seed: 4)
        let a = rng.normalTensor(shape: [256, 64], std: 1), b = rng.normalTensor(shape: [512, 64], std: 1)
        let alone = BLAS.matmul(a, b, transposeB: true)
        let n = 300, x = rng.normalTensor(shape: [n, n], std: 1)
        var gram = BLAS.matmul(x, transposeA: true, x).data.map(Double.init)
        for i in 0..<n { gram[i * n + i] += Double(n) }
        final class Flag: @unchecked Sendable {
            let lock = NSLock()
            var value = false
            var isSet: Bool { lock.withLock { value } }
            func set() { lock.withLock { value = true } }
        }
        let inverting = Flag(), failed = Flag(), matrix = gram
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            var m = matrix
            for _ in 0..<40 { m = matrix; if (try? LAPACK.invertSymmetricPositiveDefinite(&m, n: n, threads: 2)) == nil { failed.set() } }
            inverting.set()
        }
        var products = 0, differing = 0
        while !inverting.isSet {
            if BLAS.matmul(a, b, transposeB: true).data != alone.data { differing += 1 }
            products += 1
        }
        group.wait()
        #expect(!failed.isSet)
        #expect(products > 0 && differing == 0, "\(differing) of \(products) products changed their bits")
        #expect(BLAS.threads == 1)
    }

    @Test func csrBuildsSortedMergedRowsAndMultiplies() {
        let m = CSRMatrix(rows: 3, cols: 4, coordinates: [(0, 3, 1), (0, 1, 2), (2, 0, 1), (0, 1, 1)])
        #expect(m.rowPointers == [0, 2, 2, 3])
        #expect(m.columnIndices == [1, 3, 0])
        #expect(m.values == [3, 1, 1])
        let x = Tensor([[1, 0], [0, 1], [2, 2], [1, 1]])
        #expect(m.multiply(x) == Tensor([[1, 4], [0, 0], [1, 0]]))
        #expect(m.transposed().toDense() == m.toDense().transposed())
        // Rows picked in any order, repeated, empty ones included, values scaled.
        let picked = m.selectingRows([2, 1, 0, 2], scaledBy: 2)
        #expect(picked.rowPointers == [0, 1, 1, 3, 4])
        #expect(picked.columnIndices == [0, 1, 3, 0])
        #expect(picked.values == [2, 6, 2, 2])
        #expect(m.selectingRows([1, 1]).nonZeros == 0 && m.selectingRows([]).rows == 0)
    }

    /// Large enough to be split into chunks of equal non-zeros across cores, with skewed rows (some dense, many empty),
    /// as in a user–item graph; the sum Σ Aᵏx by Horner's rule matches explicit powers.
    /// Widths 16, 32 and 64 take the register-accumulator kernels, 8 and 24 the general loop.
    @Test(arguments: [8, 16, 24, 32, 64]) func parallelSkewedSparseProductsAndPowerSum(d: Int) {
        var rng = RNG(seed: 9)
        let n = 600
        var coo: [(row: Int32, col: Int32, value: Float)] = []
        for i in 0..<n where i % 3 != 0 {
            let density = i < 40 ? 0.9 : 0.05
            for j in 0..<n where Double(rng.uniform()) < density { coo.append((Int32(i), Int32(j), rng.normal() * 0.1)) }
        }
        let a = CSRMatrix(rows: n, cols: n, coordinates: coo)
        #expect(a.nonZeros * d >= 1 << 16)
        let x = rng.normalTensor(shape: [n, d], std: 1)
        let dense = a.toDense()
        let product = a.multiply(x)
        #expect(product.isClose(to: BLAS.matmul(dense, x), tolerance: 1e-4))
        var power = x, sum = x
        for k in 1...4 {  // K = 1 writes one buffer; K ≥ 2 alternates two, never x's own storage
            power = BLAS.matmul(dense, power)
            for i in sum.data.indices { sum.data[i] += power.data[i] }
            #expect(a.powerSum(x, layers: k).isClose(to: sum, tolerance: 1e-4), "K = \(k)")
        }
        #expect(a.powerSum(x, layers: 0) == x)
    }

    /// Membership in a sorted CSR row, including rows that are slices starting past index 0.
    @Test func sortedContainsOnRowSlices() {
        let m = CSRMatrix(rows: 2, cols: 9, coordinates: [(0, 1, 1), (0, 4, 1), (1, 2, 1), (1, 5, 1), (1, 8, 1)])
        let row = m.columns(ofRow: 1)
        #expect(row.startIndex == 2)
        #expect([2, 5, 8].allSatisfy { row.sortedContains(Int32($0)) })
        #expect(![0, 1, 4, 9].contains { row.sortedContains(Int32($0)) })
        #expect(!m.columns(ofRow: 0).dropLast(2).sortedContains(1) && [Int32]().sortedContains(0) == false)
    }

    @Test func topKOrdersByScoreThenIndexAndSkipsMasked() {
        let s: [Float] = [0.5, 0.9, -.infinity, 0.9, 0.1]
        #expect(TopK.select(s, k: 3) == [1, 3, 0])
        #expect(TopK.select(s, k: 10) == [1, 3, 0, 4])
        #expect(TopK.select(s, k: 0) == [])
    }

    /// Short rows (the floor from the whole row) and rows over 16·k (from a sample): both must agree with a full sort.
    @Test func topKAgreesWithAFullSortOnRowsWithManyTies() {
        var rng = RNG(seed: 8)
        for trial in 0..<100 {
            let n = 1 + rng.int(below: trial < 50 ? 300 : 3000), k = 1 + rng.int(below: trial < 50 ? 40 : 8)
            let s = (0..<n).map { _ in Float(rng.int(below: 7)) - (rng.uniform() < 0.1 ? Float.infinity : 0) }
            let expected = s.indices.filter { s[$0] != -.infinity }
                .sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }.prefix(k).map { Int32($0) }
            #expect(TopK.select(s, k: k) == Array(expected))
        }
    }

    /// Long rows (the floor comes from a strided sample, then tightens on the gathered entries) with +∞, NaN, masked
    /// entries and signed zeros (equal scores: the lower index first) agree with a full sort.
    @Test func topKOnLongRowsWithSpecialValues() {
        var rng = RNG(seed: 11)
        for trial in 0..<12 {
            let n = trial < 6 ? 100_000 : 5_000, k = [1, 7, 50, 200][trial % 4]
            let s: [Float] = (0..<n).map { _ in
                switch rng.int(below: 40) {
                case 0: return .nan
                case 1: return -.infinity
                case 2: return trial % 3 == 0 ? .infinity : 0
                case 3: return -0.0
                case 4: return 0
                default: return trial % 2 == 0 ? rng.normal() : Float(rng.int(below: 50))
                }
            }
            let expected = s.indices.filter { s[$0] > -.infinity }
                .sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }.prefix(k).map { Int32($0) }
            #expect(TopK.select(s, k: k) == Array(expected), "trial \(trial)")
        }
        #expect(TopK.select([Float](repeating: 1, count: 1000), k: 3) == [0, 1, 2])
        #expect(TopK.select([Float.infinity, 1, .infinity], k: 2) == [0, 2])
        #expect(TopK.select([Float.greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0], k: 3) == [0, 2, 1])
    }

    /// Rows that rise along their columns (a heap's worst case) and rows with NaN entries, which are never selected.
    @Test func topKOnAscendingRowsAndNaN() {
        let rising = (0..<500).map { Float($0 / 3) }
        #expect(TopK.select(rising, k: 4) == [498, 499, 495, 496])
        #expect(TopK.select(Array(rising.reversed()), k: 4) == [0, 1, 2, 3])
        let s: [Float] = [.nan, 0.2, .nan, 0.7, -.infinity, 0.2]
        #expect(TopK.select(s, k: 5) == [3, 1, 5])
        #expect(TopK.select([Float.nan, -.infinity], k: 2) == [])
    }

    @Test func rngIsDeterministicAndShuffleIsAPermutation() {
        var a = RNG(seed: 5), b = RNG(seed: 5)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
        var xs = Array(0..<100)
        a.shuffle(&xs)
        #expect(xs.sorted() == Array(0..<100) && xs != Array(0..<100))
        let u = (0..<10_000).map { _ in a.uniform() }
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 } && abs(u.reduce(0, +) / 10_000 - 0.5) < 0.02)
    }
}

@Suite struct VectorMathTests {
    @Test func simdExpMatchesLibm() {
        var worst: Double = 0
        for k in 0..<2000 {
            let x = Float(k - 1000) * 0.087  // −87 … 87
            let e = Double(VectorMath.exp(x)), ref = Foundation.exp(Double(x))
            worst = max(worst, abs(e - ref) / ref)
        }
        #expect(worst < 1e-6)
        #expect(VectorMath.exp(-Float.infinity) < 1e-37)
        // Outside ±87 the input is clamped: large inputs stay finite, NaN maps to the lower bound.
        #expect(VectorMath.exp(200).isFinite && VectorMath.exp(200) == VectorMath.exp(88.3))
        #expect(VectorMath.exp(Float.nan) < 1e-37)
    }

    /// The row maximum wherever it sits (any lane, the tail), skipping NaN like `Float.maximum`.
    @Test func maxFindsTheLargestInAnyLaneAndSkipsNaN() {
        var rng = RNG(seed: 5)
        for d in [8, 16, 19, 64] {
            for _ in 0..<20 {
                var x = (0..<d).map { _ in rng.normal() }
                x[rng.int(below: d)] = .nan
                let m = x.withUnsafeBufferPointer { VectorMath.max($0.baseAddress!, count: d) }
                #expect(m == x.filter { !$0.isNaN }.max()!)
            }
        }
    }

    @Test func expShiftedSumAndMaxOverRaggedLengths() {
        for d in [1, 7, 8, 9, 23] {
            let x = (0..<d).map { Float($0) * 0.37 - 2 }
            var out = [Float](repeating: 0, count: d)
            let m = x.withUnsafeBufferPointer { VectorMath.max($0.baseAddress!, count: d) }
            #expect(m == x.max()!)
            let s = x.withUnsafeBufferPointer { px in out.withUnsafeMutableBufferPointer { VectorMath.expShiftedSum(px.baseAddress!, $0.baseAddress!, count: d, shift: m) } }
            let ref = x.map { Foundation.exp(Double($0 - m)) }
            #expect(abs(Double(s) - ref.reduce(0, +)) < 1e-5 * Double(d))
            #expect(zip(out, ref).allSatisfy { abs(Double($0) - $1) < 1e-6 })
        }
    }

    @Test func sumDotAndSquaresOverRaggedLengthsMatchDoubleSums() {
        var rng = RNG(seed: 9)
        for d in [1, 7, 15, 16, 17, 33, 64, 1001] {
            let x = (0..<d).map { _ in rng.normal() }
            let s = x.withUnsafeBufferPointer { VectorMath.sum($0.baseAddress!, count: d) }
            let ref = x.reduce(0.0) { $0 + Double($1) }
            #expect(abs(Double(s) - ref) < 1e-5 * Double(d), "d = \(d): \(s) vs \(ref)")
            let y = (0..<d).map { _ in rng.normal() }
            let dot = x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { VectorMath.dot(px.baseAddress!, $0.baseAddress!, count: d) } }
            let squares = x.withUnsafeBufferPointer { VectorMath.sumOfSquares($0.baseAddress!, count: d) }
            #expect(abs(Double(dot) - zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }) < 1e-5 * Double(d))
            #expect(abs(Double(squares) - x.reduce(0.0) { $0 + Double($1) * Double($1) }) < 1e-5 * Double(d))
        }
    }

    @Test func gatherRowsCopiesRowsInOrderWithRepeats() {
        let t = Tensor(shape: [3, 5], data: (0..<15).map(Float.init))
        let g = t.gatherRows([2, 0, 2])
        #expect(g.shape == [3, 5])
        #expect(g.data == [10, 11, 12, 13, 14, 0, 1, 2, 3, 4, 10, 11, 12, 13, 14])
        #expect(t.gatherRows([]).shape == [0, 5])
        #expect(Tensor(zeros: [3, 0]).gatherRows([2, 0]).shape == [2, 0])
        #expect(Tensor(zeros: [0, 5]).gatherRows([]).shape == [0, 5])
    }
}

/// The worker pool behind `Parallel`: every index runs exactly once, whether calls come one after another (the
/// workers spinning or asleep between them), nested inside a job, or from several threads at once. (`Parallel.cores`
/// is the machine's: changing it here would change how other tests running alongside split their sums.)
@Suite struct ParallelTests {
    /// Counts calls per index; atomic enough for a test through a lock.
    final class Counts: @unchecked Sendable {
        private let lock = NSLock()
        private var counts: [Int]
        init(_ n: Int) { counts = Array(repeating: 0, count: n) }
        func hit(_ i: Int) { lock.lock(); counts[i] += 1; lock.unlock() }
        var all: [Int] { lock.lock(); defer { lock.unlock() }; return counts }
    }

    @Test func everyIndexRunsOnceAcrossManyCallsNestingAndPauses() {
        for (round, count) in [2, 3, 7, 64, 1000, 5].enumerated() {
            let counts = Counts(count)
            for _ in 0..<200 { Parallel.forEach(count) { counts.hit($0) } }
            #expect(counts.all == Array(repeating: 200, count: count), "count \(count)")
            if round == 2 { usleep(5000) }  // past the workers' spin: they sleep and must be woken
        }
        let outer = 4, inner = 50
        let nested = Counts(outer * inner)
        Parallel.forEach(outer) { o in Parallel.forEach(inner) { i in nested.hit(o * inner + i) } }
        #expect(nested.all == Array(repeating: 1, count: outer * inner))
    }

    @Test func concurrentCallersEachGetEveryIndexOnce() {
        let callers = 4, count = 97, repeats = 100
        let counts = Counts(callers * count)
        DispatchQueue.concurrentPerform(iterations: callers) { c in
            for _ in 0..<repeats { Parallel.forEach(count) { counts.hit(c * count + $0) } }
        }
        #expect(counts.all == Array(repeating: repeats, count: callers * count))
    }

    /// Workers started for a job take part in it. Asks for two more threads than the pool has, and every item of the
    /// job waits (up to 10 s) until all of them have started: only a job run by every thread at once gets there. (A
    /// new worker used to read the job generation when its thread began, after the job was published, and sat it out:
    /// every process's first parallel job ran on one core.)
    @Test func workersStartedForAJobJoinIt() throws {
        final class Arrivals: @unchecked Sendable {
            private let lock = NSLock()
            private var arrived = 0, complete = 0
            func arriveAndWait(for n: Int) {
                lock.lock(); arrived += 1; lock.unlock()
                let deadline = Date().addingTimeInterval(10)
                while Date() < deadline {
                    lock.lock(); let all = arrived == n; lock.unlock()
                    if all { lock.lock(); complete += 1; lock.unlock(); return }
                    usleep(100)
                }
            }
            var completed: Int { lock.lock(); defer { lock.unlock() }; return complete }
        }
        for _ in 0..<2000 {
            let threads = Parallel.poolWorkers + 3
            try #require(threads <= 64, "the pool is full: \(threads - 1) workers")
            let arrivals = Arrivals()
            // Busy (another test's job): try again.
            guard Parallel.onPool(threads, threads: threads, { _ in arrivals.arriveAndWait(for: threads) }) else { usleep(1000); continue }
            #expect(arrivals.completed == threads, "\(arrivals.completed) of \(threads) items saw every thread arrive")
            return
        }
        Issue.record("the pool stayed busy")
    }

    @Test func chunksCoverTheRangeWithoutOverlap() {
        let counts = Counts(10_001)
        Parallel.forChunks(10_001, minPerChunk: 100) { range in for i in range { counts.hit(i) } }
        #expect(counts.all == Array(repeating: 1, count: 10_001))
    }
}

@Suite struct SparseProductTests {
    /// Rows of a sparse matrix times another sparse matrix, as dense rows, equal the dense product's rows (any order of
    /// rows, repeated rows, an empty row).
    @Test func denseProductOfSparseRowsEqualsTheDenseProduct() {
        var rng = RNG(seed: 3)
        func random(_ rows: Int, _ cols: Int) -> CSRMatrix {
            var coordinates: [(row: Int32, col: Int32, value: Float)] = []
            for r in 0..<rows where r != 2 { for c in 0..<cols where rng.uniform() < 0.3 { coordinates.append((Int32(r), Int32(c), rng.normal())) } }
            return CSRMatrix(rows: rows, cols: cols, coordinates: coordinates)
        }
        let a = random(9, 7), b = random(7, 11)
        let rows: [Int32] = [4, 0, 2, 8, 4]
        let expected = BLAS.matmul(a.toDense(), b.toDense()).gatherRows(rows)
        #expect(a.denseProduct(rows: rows, b).isClose(to: expected, tolerance: 1e-5))
        #expect(a.denseRows(rows) == a.toDense().gatherRows(rows))
    }
}
