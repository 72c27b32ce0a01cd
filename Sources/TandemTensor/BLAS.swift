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
        _ = singleThreaded
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in c.data.indices { c.data[i] = beta == 0 ? 0 : c.data[i] * beta }  // C may be uninitialised when beta is 0
            return
        }
        // OpenBLAS runs single-threaded (see `setThreads`); large products are split by rows of C across cores here,
        // so no BLAS worker threads spin while our own parallel loops run.
        let work = m * n * k
        let chunks = work >= 1 << 21 ? min(Parallel.cores, m) : 1
        let lda = a.cols, ldb = b.cols
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
        _ = singleThreaded
        if rows == 0 { return }
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(rows), Int32(cols), 1, a, Int32(cols), x, 1, 0, y, 1)
    }

    /// Raw `cblas_sgemm` on caller-owned buffers (benchmarks use this as the reference rate).
    public static func rawSgemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, c, Int32(n))
    }

    /// `C = AᵀA` for a row-major `n × d` matrix `A` into the lower triangle of the row-major `d × d` matrix `C`
    /// (`cblas_ssyrk`); the upper triangle is left as it was.
    public static func gramLower(rows n: Int, cols d: Int, a: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
        _ = singleThreaded
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(d), Int32(n), 1, a, Int32(d), 0, c, Int32(d))
    }

    /// Runs once, before the first product: OpenBLAS itself stays single-threaded.
    private static let singleThreaded: Bool = { openblas_set_num_threads(1); return true }()

    /// Sets OpenBLAS's own thread count. Tandem keeps it at 1 and parallelises products itself: OpenBLAS's idle
    /// workers spin in `sched_yield` and took a fifth of the CPU from our parallel kernels when left on.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var threads: Int { Int(openblas_get_num_threads()) }

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
