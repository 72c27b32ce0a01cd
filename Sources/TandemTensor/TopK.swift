/// Partial top-K selection over score rows.
///
/// Order: higher score first; equal scores are broken by the lower column index, so results are deterministic.
/// Entries equal to `-Float.infinity` (masked) are never returned.
public enum TopK {
    /// The indices of the `k` best entries of `scores[0..<n]`, best first.
    ///
    /// Branch-light, so the time does not depend on the order of the row: (1) a floor `t` with at least `k` entries
    /// `≥ t` is found by bisection on the value, each step one counting pass (over a strided sample on long rows —
    /// a subset's count is a lower bound, so the floor stays at most the row's k-th best); (2) the entries `≥ t` are
    /// gathered without branches; (3) when more than `2k` were gathered the bisection repeats on them; (4) the few
    /// left are sorted. A heap would make every comparison a coin flip for the branch predictor on rows in random order.
    public static func select(_ scores: UnsafeBufferPointer<Float>, k: Int) -> [Int32] {
        let n = scores.count
        if k <= 0 || n == 0 { return [] }
        let k = min(k, n)
        let m = min(n, max(16 * k, n / 64)), stride = n / m
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(m, 1))
        defer { buffer.deallocate() }
        var taken = 0
        for i in 0..<m {
            let v = scores[i * stride]
            buffer[taken] = v
            taken &+= bit(v > -.infinity)  // NaN and masked entries are not kept
        }
        let floor = taken >= k ? threshold(buffer, count: taken, k: k) : -Float.greatestFiniteMagnitude
        var ids = [Int32](repeating: 0, count: n)
        var count = 0
        ids.withUnsafeMutableBufferPointer { out in
            for j in 0..<n {
                out[count] = Int32(truncatingIfNeeded: j)
                count &+= bit(scores[j] >= floor)  // NaN compares false
            }
        }
        if count > 2 * k {
            // Tighten on the gathered entries themselves (their values in index order), then gather again.
            let values = UnsafeMutablePointer<Float>.allocate(capacity: count)
            defer { values.deallocate() }
            for c in 0..<count { values[c] = scores[Int(ids[c])] }
            let tight = threshold(values, count: count, k: k)
            var kept = 0
            for c in 0..<count {
                ids[kept] = ids[c]
                kept &+= bit(values[c] >= tight)
            }
            count = kept
        }
        // Sort packed integer keys (no comparison closure): the high half orders scores descending, the low half
        // indices ascending, so equal scores keep the lower index first.
        var keys = [UInt64](repeating: 0, count: count)
        for c in 0..<count {
            let j = ids[c]
            keys[c] = UInt64(descendingKey(scores[Int(j)])) << 32 | UInt64(UInt32(bitPattern: j))
        }
        keys.sort()
        return (0..<min(k, count)).map { Int32(truncatingIfNeeded: UInt32(truncatingIfNeeded: keys[$0])) }
    }

    /// 0 or 1 without a branch (a `b ? 1 : 0` is compiled to a jump, which random scores make a coin flip).
    @inline(__always) static func bit(_ b: Bool) -> Int { Int(unsafeBitCast(b, to: UInt8.self)) }

    /// A key that sorts finite and infinite floats in descending order as unsigned integers (−0 and +0 equal).
    @inline(__always) static func descendingKey(_ x: Float) -> UInt32 {
        let bits = (x == 0 ? Float(0) : x).bitPattern
        let ascending = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        return ~ascending
    }

    /// A value `t` with at least `k` of `v[0..<count]` (all finite or +∞, `count ≥ k`) at or above it, found by bisection
    /// between the smallest and the largest, stopping once at most `2k` are at or above it (or the interval cannot
    /// shrink: runs of equal values).
    static func threshold(_ v: UnsafeMutablePointer<Float>, count: Int, k: Int) -> Float {
        var lo = v[0], hi = v[0]
        for i in 0..<count { lo = min(lo, v[i]); hi = max(hi, v[i]) }
        @inline(__always) func atLeast(_ t: Float) -> Int {
            var c = 0
            for i in 0..<count { c &+= bit(v[i] >= t) }
            return c
        }
        if !hi.isFinite { hi = .greatestFiniteMagnitude }
        if atLeast(hi) >= k { return hi }
        for _ in 0..<40 {
            let mid = lo + (hi - lo) / 2
            if !(mid > lo && mid < hi) { break }
            let c = atLeast(mid)
            if c >= k {
                lo = mid
                if c <= 2 * k { break }
            } else {
                hi = mid
            }
        }
        return lo
    }

    public static func select(_ scores: [Float], k: Int) -> [Int32] {
        scores.withUnsafeBufferPointer { select($0, k: k) }
    }
}
