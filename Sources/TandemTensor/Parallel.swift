import Dispatch
import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// A value handed to other threads whose safety the caller guarantees (disjoint writes).
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Splits `0..<count` into contiguous chunks and runs them on all cores when the work is large enough.
public enum Parallel {
    /// Number of worker chunks to use: the machine's active processor count unless set (the `threads` setting).
    /// Set once at start-up, before any parallel work.
    nonisolated(unsafe) public static var cores: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    /// Calls `body(i)` for every `i` in `0..<count`, on all cores (work is taken dynamically); serially for one.
    /// Runs on Tandem's persistent worker pool, whose workers spin briefly between jobs; a call made while the pool
    /// is busy (nested in a pool job, or from another thread) goes to libdispatch instead.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 || cores == 1 { for i in 0..<count { body(i) }; return }
        if !onPool(count, threads: min(cores, 64), body) {
            // The callers' closures write disjoint parts of shared buffers: safe to run concurrently, not `Sendable`.
            withoutActuallyEscaping(body) { escapable in
                let job = UncheckedSendable(escapable)
                DispatchQueue.concurrentPerform(iterations: count) { job.value($0) }
            }
        }
    }

    /// Runs `body(i)` for every `i` in `0..<count` on the worker pool with up to `threads` threads (the caller and
    /// `threads − 1` workers, started as needed); false, having run nothing, when the pool is busy or `count` or
    /// `threads` is below 2.
    static func onPool(_ count: Int, threads: Int, _ body: (Int) -> Void) -> Bool {
        withoutActuallyEscaping(body) { escapable -> Int32 in
            var job = escapable
            return withUnsafeMutablePointer(to: &job) { pointer in
                tandem_pool_run(Int64(count), Int32(threads), { context, index in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(index))
                }, pointer)
            }
        } != 0
    }

    /// The pool's workers started so far.
    static var poolWorkers: Int { Int(tandem_pool_workers()) }

    /// Calls `body(range)` over disjoint ranges covering `0..<count`. Runs serially when `count < minPerChunk * 2`.
    public static func forChunks(_ count: Int, minPerChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(cores, max(1, count / max(1, minPerChunk)))
        if chunks <= 1 { body(0..<count); return }
        let step = (count + chunks - 1) / chunks
        forEach(chunks) { c in
            let lo = c * step, hi = min(count, lo + step)
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// Process-wide allocator settings.
public enum Memory {
    /// Keeps freed memory in the process for reuse instead of returning it to the kernel. glibc serves blocks over
    /// 32 MB with fresh `mmap`s, so every full-graph tensor of a large graph-model step would cost thousands of page
    /// faults and a kernel page clear. Call once at start.
    public static func reuseFreedMemory() {
        tandem_reuse_freed_memory()
    }

    /// Line-buffers standard output, so progress lines appear as they happen, also when piped to a file.
    public static func lineBufferStandardOutput() {
        tandem_line_buffer_stdout()
    }
}
