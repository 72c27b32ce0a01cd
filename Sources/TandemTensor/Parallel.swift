import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Splits `0..<count` into contiguous chunks and runs them on all cores when the work is large enough.
public enum Parallel {
    /// Number of worker chunks to use: the machine's active processor count unless set (the `threads` setting).
    public static var cores: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    /// Calls `body(range)` over disjoint ranges covering `0..<count`. Runs serially when `count < minPerChunk * 2`.
    public static func forChunks(_ count: Int, minPerChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(cores, max(1, count / max(1, minPerChunk)))
        if chunks <= 1 { body(0..<count); return }
        let step = (count + chunks - 1) / chunks
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = c * step, hi = min(count, lo + step)
            if lo < hi { body(lo..<hi) }
        }
    }
}
