import CBLAS

/// Dense linear algebra through the LAPACK inside OpenBLAS, in Float64 (a closed-form solve such as EASE's inverts an
/// items × items Gram matrix, where Float32 loses digits the ranking can see).
public enum LAPACK {
    /// A solve that could not be done, with LAPACK's reason.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Inverts the symmetric positive-definite `n × n` matrix `a` (row-major, both triangles set) in place, by a
    /// Cholesky factorisation (`dpotrf`) and its inverse (`dpotri`), on all of OpenBLAS's threads (`threads`).
    /// Both triangles of the result are filled.
    public static func invertSymmetricPositiveDefinite(_ a: inout [Double], n: Int, threads: Int = 1) throws {
        precondition(a.count == n * n, "expected \(n)×\(n) values, got \(a.count)")
        guard n > 0 else { return }
        try BLAS.withOwnThreads(threads) { try invertInPlace(&a, n: n) }
    }

    /// `dpotrf` + `dpotri` and the mirroring, on OpenBLAS's threads as they are set.
    private static func invertInPlace(_ a: inout [Double], n: Int) throws {
        var info: Int32 = 0
        var dim = Int32(n), lda = Int32(n)
        // Row-major symmetric = column-major symmetric: factor the "upper" triangle of the column-major view.
        var uplo = CChar(UInt8(ascii: "U"))
        a.withUnsafeMutableBufferPointer { p in dpotrf_(&uplo, &dim, p.baseAddress, &lda, &info, 1) }
        guard info == 0 else {
            throw Failure(description: info > 0 ? "matrix is not positive definite (leading minor \(info))" : "dpotrf: argument \(-info) is invalid")
        }
        a.withUnsafeMutableBufferPointer { p in dpotri_(&uplo, &dim, p.baseAddress, &lda, &info, 1) }
        guard info == 0 else {
            throw Failure(description: info > 0 ? "matrix is singular (diagonal element \(info) of its factor is zero)" : "dpotri: argument \(-info) is invalid")
        }
        // dpotri wrote the column-major upper triangle (row-major lower: i ≥ j); mirror it.
        a.withUnsafeMutableBufferPointer { p in
            for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { p[i * n + j] = p[j * n + i] } }
        }
    }

    /// Solves `a x = b` for the symmetric positive-definite `n × n` matrix `a` (both triangles set) by a Cholesky
    /// factorisation (`dposv`): `b` becomes `x`, `a` is overwritten by the factor. Runs on the calling thread (small
    /// systems solved in parallel by the caller).
    public static func solveSymmetricPositiveDefinite(_ a: inout [Double], _ b: inout [Double], n: Int) throws {
        precondition(a.count == n * n && b.count == n, "expected \(n)×\(n) values and \(n) right-hand sides")
        guard n > 0 else { return }
        var info: Int32 = 0
        var dim = Int32(n), lda = Int32(n), nrhs: Int32 = 1
        var uplo = CChar(UInt8(ascii: "U"))
        BLAS.shared.hold()
        defer { BLAS.shared.release() }
        a.withUnsafeMutableBufferPointer { p in
            b.withUnsafeMutableBufferPointer { q in dposv_(&uplo, &dim, &nrhs, p.baseAddress, &lda, q.baseAddress, &lda, &info, 1) }
        }
        guard info == 0 else {
            throw Failure(description: info > 0 ? "matrix is not positive definite (leading minor \(info))" : "dposv: argument \(-info) is invalid")
        }
    }
}
