import CBLAS
import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// Dense matrix products through OpenBLAS.
public enum BLAS {
    /// `C = alpha · op(A) · op(B) + beta · C`, all row-major; `op` transposes when the flag is set.
    ///
    /// Shapes are checked: `op(A)` is `m × k`, `op(B)` is `k × n`, `C` is `m × n`.
    public static func gemm(_ a: Tensor, transposeA: Bool = false, _ b: Tensor, transposeB: Bool = false,
                            alpha: Float = 1, beta: Float = 0, into c: inout Tensor) {
        let m = transposeA ? a.cols : a.rows
        let k = transposeA ? a.rows : a.cols
        let kb = transposeB ? b.cols : b.rows
        let n = transposeB ? b.rows : b.cols
        precondition(k == kb, "gemm: inner dimensions differ (\(a.shape)\(transposeA ? "ᵀ" : "") × \(b.shape)\(transposeB ? "ᵀ" : ""))")
        precondition(c.rows == m && c.cols == n, "gemm: output is \(c.shape), expected [\(m), \(n)]")
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in c.data.indices { c.data[i] = beta == 0 ? 0 : c.data[i] * beta }  // C may be uninitialised when beta is 0
            return
        }
        // OpenBLAS runs single-threaded (see `shared`); large products are split by rows of C across cores here,
        // so no BLAS worker threads spin while our own parallel loops run.
        let work = m * n * k
        let chunks = work >= 1 << 21 ? min(Parallel.cores, m) : 1
        let lda = a.cols, ldb = b.cols
        shared.hold()
        defer { shared.release() }
        a.data.withUnsafeBufferPointer { pa in
            b.data.withUnsafeBufferPointer { pb in
                c.data.withUnsafeMutableBufferPointer { pc in
                    let baseA = pa.baseAddress!, baseB = pb.baseAddress!, baseC = pc.baseAddress!
                    Parallel.forChunks(m, minPerChunk: max(1, m / max(1, chunks))) { rows in
                        // Rows r of op(A): row r of A, or column r of A when transposed.
                        let offsetA = transposeA ? rows.lowerBound : rows.lowerBound * lda
                        cblas_sgemm(CblasRowMajor,
                                    transposeA ? CblasTrans : CblasNoTrans,
                                    transposeB ? CblasTrans : CblasNoTrans,
                                    Int32(rows.count), Int32(n), Int32(k), alpha,
                                    baseA + offsetA, Int32(lda),
                                    baseB, Int32(ldb),
                                    beta, baseC + rows.lowerBound * n, Int32(n))
                    }
                }
            }
        }
    }

    /// `op(A) · op(B)` as a new matrix.
    public static func matmul(_ a: Tensor, transposeA: Bool = false, _ b: Tensor, transposeB: Bool = false) -> Tensor {
        let m = transposeA ? a.cols : a.rows
        let n = transposeB ? b.rows : b.cols
        var c = Tensor(uninitialized: [m, n])  // beta 0: BLAS writes C without reading it (OpenBLAS zeroes it itself)
        gemm(a, transposeA: transposeA, b, transposeB: transposeB, into: &c)
        return c
    }

    /// `y = A · x` for a row-major `rows × cols` matrix on caller-owned buffers: one query against an index.
    /// Goes through here (not `cblas_sgemv` directly) so OpenBLAS is single-threaded first: left multi-threaded, its
    /// workers spun in `sched_yield` on every request and took a quarter of the server's CPU.
    public static func gemv(rows: Int, cols: Int, a: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        if rows == 0 { return }
        shared.hold()
        defer { shared.release() }
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(rows), Int32(cols), 1, a, Int32(cols), x, 1, 0, y, 1)
    }

    /// Raw `cblas_sgemm` on caller-owned buffers (benchmarks use this as the reference rate, inside `withOwnThreads`).
    public static func rawSgemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, c, Int32(n))
    }

    /// `C = AᵀA` for a row-major `n × d` matrix `A` into the lower triangle of the row-major `d × d` matrix `C`
    /// (`cblas_ssyrk`); the upper triangle is left as it was.
    public static func gramLower(rows n: Int, cols d: Int, a: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
        shared.hold()
        defer { shared.release() }
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(d), Int32(n), 1, a, Int32(d), 0, c, Int32(d))
    }

    /// OpenBLAS's own thread count is one setting for the whole process, and a product's bits depend on it (split over
    /// two threads, a product sums in another order). Tandem keeps it at 1 and parallelises products itself: OpenBLAS's
    /// idle workers spin in `sched_yield` and took a fifth of the CPU from our parallel kernels when left on. A call
    /// that wants OpenBLAS's threads (EASE's inversion, the benchmark's reference rate) runs in `withOwnThreads`, which
    /// holds this lock alone; every other call holds it shared. So no product changes its bits because another thread
    /// was inverting a matrix at the time (bit-exact resume and data-parallel results rely on it).
    static let shared = ThreadCountLock()

    /// Runs `body`, whose OpenBLAS calls use `threads` of OpenBLAS's own threads, while no other thread is inside an
    /// OpenBLAS call; OpenBLAS is single-threaded again after. `body` must not call the other `BLAS`/`LAPACK` functions
    /// (they wait for this one to end): only raw OpenBLAS/LAPACK calls.
    public static func withOwnThreads<T>(_ threads: Int, _ body: () throws -> T) rethrows -> T {
        shared.holdAlone()
        openblas_set_num_threads(Int32(max(1, threads)))
        defer { openblas_set_num_threads(1); shared.release() }
        return try body()
    }

    /// OpenBLAS's own thread count as every call outside `withOwnThreads` sees it (waits for one that is running).
    public static var threads: Int {
        shared.hold()
        defer { shared.release() }
        return Int(openblas_get_num_threads())
    }

    /// The kernels OpenBLAS chose when it loaded (its core type: "SkylakeX", "Haswell", "Prescott", …).
    public static var coreType: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// OpenBLAS picks its kernels once, when the library loads, by CPU model; OpenBLAS 0.3.21 (Debian 12) does not know
    /// the newest Xeons and falls back to its generic SSE3 kernels ("Prescott"), whose sgemm runs at a fifth of the
    /// AVX-512 kernels' speed on them. Its one switch, `OPENBLAS_CORETYPE`, is read at load, so when OpenBLAS fell back
    /// on a CPU that can run better kernels, this re-executes the program once with the variable set (the arguments,
    /// environment and process id unchanged). Does nothing when `OPENBLAS_CORETYPE` is already set (a user's choice,
    /// or the restarted process), when OpenBLAS chose anything but "Prescott", or when re-executing fails. Call first
    /// thing in `main`, before any work starts.
    public static func restartWithTheCPUsKernels() {
        #if os(Linux)
        guard getenv("OPENBLAS_CORETYPE") == nil, coreType == "Prescott", let core = tandem_blas_core_for_cpu() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_CORETYPE")
        #endif
    }
}

/// A readers–writer lock over OpenBLAS's thread count (see `BLAS.shared`). Writers are preferred, so a waiting
/// `withOwnThreads` is not starved by a stream of products; a shared hold must therefore never nest inside another
/// on the same thread. The first hold sets OpenBLAS to one thread.
final class ThreadCountLock: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
        openblas_set_num_threads(1)
    }

    func hold() { pthread_rwlock_rdlock(lock) }
    func holdAlone() { pthread_rwlock_wrlock(lock) }
    func release() { pthread_rwlock_unlock(lock) }
}
