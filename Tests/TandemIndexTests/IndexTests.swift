import Testing
import Foundation
import TandemTensor
import TandemIndex
import TandemTestSupport

@Suite struct IndexTests {
    @Test func factoryStrings() throws {
        #expect(try IndexSpec(parsing: "Flat").kind == .flat)
        let h = try IndexSpec(parsing: "HNSW16,efSearch=128")
        #expect(h.kind == .hnsw(m: 16) && h.efSearch == 128 && h.efConstruction == 200)
        for bad in ["IVF1024,Flat", "HNSW", "HNSW32,efSearch=0", "HNSW32,ef=5", "Flat,efSearch=10", ""] {
            #expect(throws: IndexError.self, "\(bad)") { try IndexSpec(parsing: bad) }
        }
        let e = #expect(throws: IndexError.self) { try IndexSpec(parsing: "HNSW32,efSerch=10") }
        #expect(e?.description.contains("efSerch") == true)
    }

    @Test func exactIndexIsExactWithTiesToLowerIds() {
        let items = Tensor([[1, 0], [0, 1], [1, 0], [0.5, 0.5]])
        let r = ExactIndex(items).search(Tensor([[1, 0]]), k: 3)[0]
        #expect(r.ids == [0, 2, 3] && r.scores == [1, 1, 0.5])
        let cos = ExactIndex(Tensor([[10, 0], [0, 1], [3, 3]]), metric: .cosine).search(Tensor([[1, 1]]), k: 1)[0]
        #expect(cos.ids == [2] && abs(cos.scores[0] - 1) < 1e-6)
    }

    /// The single-query path masks excluded ids before selection and agrees with the batch path otherwise.
    @Test func singleQuerySearchWithExclusions() {
        var rng = RNG(seed: 4)
        let items = rng.normalTensor(shape: [50, 8], std: 1), q = rng.normalTensor(shape: [1, 8], std: 1)
        for metric in [IndexMetric.innerProduct, .cosine] {
            let index = ExactIndex(items, metric: metric)
            let all = index.search(q, k: 50)[0]
            let one = index.search(q.data, k: 10, excluding: [])
            #expect(one.ids == Array(all.ids.prefix(10)))
            for (a, b) in zip(one.scores, all.scores) { #expect(abs(a - b) < 1e-5) }
            let skip = Array(all.ids.prefix(3)) + [999, -1]  // out-of-range ids are ignored
            let rest = index.search(q.data, k: 10, excluding: skip)
            #expect(rest.ids == Array(all.ids.dropFirst(3).prefix(10)))
        }
    }

    /// HNSW finds what exact search finds on clustered data, and survives a save/load round trip. Insertion runs on
    /// all cores, so the graph and its recall differ from build to build; efSearch 128 keeps every build's recall well
    /// above the bound, where efSearch 64 sat at its edge (docs/CHANGELOG.md, 2026-12-03).
    @Test func hnswRecallAgainstExactAndRoundTrip() throws {
        var rng = RNG(seed: 1)
        let n = 3000, d = 16
        let centers = rng.normalTensor(shape: [20, d], std: 1)
        var items = Tensor(zeros: [n, d])
        for i in 0..<n { for j in 0..<d { items[i, j] = centers[i % 20, j] + 0.3 * rng.normal() } }
        let queries = rng.normalTensor(shape: [200, d], std: 1)
        let exact = ExactIndex(items, metric: .cosine).search(queries, k: 10)
        let hnsw = try HNSWIndex(items, metric: .cosine, m: 16, efConstruction: 100)
        #expect(hnsw.count == n)
        hnsw.efSearch = 128
        let approx = hnsw.search(queries, k: 10)
        #expect(recallAgainstExact(approx, exact, k: 10) > 0.98)
        #expect(zip(approx[0].scores, approx[0].scores.dropFirst()).allSatisfy { $0 >= $1 })  // best first
        let path = Fixtures.temporaryPath("hnsw")
        try hnsw.save(to: path)
        let loaded = try HNSWIndex(loading: path, dimension: d, metric: .cosine, efSearch: 128)
        #expect(loaded.search(queries, k: 10) == approx)
        #expect(throws: IndexError.self) { try HNSWIndex(loading: path + ".missing", dimension: d, metric: .cosine) }
    }
}
