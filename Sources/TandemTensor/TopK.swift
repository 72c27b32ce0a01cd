/// Partial top-K selection over score rows.
///
/// Order: higher score first; equal scores are broken by the lower column index, so results are deterministic.
/// Entries equal to `-Float.infinity` (masked) are never returned.
public enum TopK {
    /// The indices of the `k` best entries of `scores[0..<n]`, best first.
    public static func select(_ scores: UnsafeBufferPointer<Float>, k: Int) -> [Int32] {
        let n = scores.count
        let kk = min(k, n)
        if kk <= 0 { return [] }
        // Min-heap of the current best kk (worst at the root).
        var heap = [Int32]()
        heap.reserveCapacity(kk)
        @inline(__always) func worse(_ a: Int32, _ b: Int32) -> Bool {
            let sa = scores[Int(a)], sb = scores[Int(b)]
            return sa < sb || (sa == sb && a > b)
        }
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && worse(heap[l], heap[m]) { m = l }
                if r < heap.count && worse(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m); i = m
            }
        }
        func siftUp(_ start: Int) {
            var i = start
            while i > 0 {
                let p = (i - 1) / 2
                if worse(heap[i], heap[p]) { heap.swapAt(i, p); i = p } else { return }
            }
        }
        // Once the heap is full, a score at or below the current worst can never enter: indices only grow, so an
        // equal score loses the tie. That one comparison rejects almost every item of a long row.
        var threshold = -Float.infinity
        for j in 0..<n {
            let s = scores[j]
            if s <= threshold || s == -Float.infinity || s.isNaN { continue }
            let jj = Int32(j)
            if heap.count < kk {
                heap.append(jj); siftUp(heap.count - 1)
                if heap.count == kk { threshold = scores[Int(heap[0])] }
            } else if worse(heap[0], jj) {
                heap[0] = jj; siftDown(0)
                threshold = scores[Int(heap[0])]
            }
        }
        return heap.sorted { worse($1, $0) }
    }

    public static func select(_ scores: [Float], k: Int) -> [Int32] {
        scores.withUnsafeBufferPointer { select($0, k: k) }
    }
}
