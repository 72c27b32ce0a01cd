#include <cblas.h>

/* LAPACK, shipped inside OpenBLAS (Debian's libopenblas has the Fortran symbols but no lapacke.h): Cholesky
 * factorisation and inverse of a symmetric positive-definite matrix, column-major, 32-bit integers. The trailing
 * length is gfortran's hidden length of the character argument. */
#include <stddef.h>
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b, const int *ldb, int *info,
            size_t uplo_len);
