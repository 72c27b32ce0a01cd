import Testing
import TandemTensor

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

    @Test func csrBuildsSortedMergedRowsAndMultiplies() {
        let m = CSRMatrix(rows: 3, cols: 4, coordinates: [(0, 3, 1), (0, 1, 2), (2, 0, 1), (0, 1, 1)])
        #expect(m.rowPointers == [0, 2, 2, 3])
        #expect(m.columnIndices == [1, 3, 0])
        #expect(m.values == [3, 1, 1])
        let x = Tensor([[1, 0], [0, 1], [2, 2], [1, 1]])
        #expect(m.multiply(x) == Tensor([[1, 4], [0, 0], [1, 0]]))
        #expect(m.transposed().toDense() == m.toDense().transposed())
    }

    @Test func topKOrdersByScoreThenIndexAndSkipsMasked() {
        let s: [Float] = [0.5, 0.9, -.infinity, 0.9, 0.1]
        #expect(TopK.select(s, k: 3) == [1, 3, 0])
        #expect(TopK.select(s, k: 10) == [1, 3, 0, 4])
        #expect(TopK.select(s, k: 0) == [])
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
