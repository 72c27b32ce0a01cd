#ifndef TANDEM_CKERNELS_H
#define TANDEM_CKERNELS_H
#include <stdint.h>

/// y[r, :] = base[r, :] + sum over entries p of row r: values[p] * x[cols[p], :], for rows [row_begin, row_end)
/// (base may be NULL: zero). y rows are overwritten; y must not alias x. x, base and y are row-major with d columns.
/// Uses AVX2+FMA when the CPU has them.
void tandem_spmm_rows(int64_t row_begin, int64_t row_end, const int64_t *row_ptr, const int32_t *cols,
                      const float *values, const float *x, const float *base, float *y, int64_t d);

/// glibc only: serve large blocks from the heap and keep freed memory for reuse (no mmap/munmap, no page faults
/// for every freshly allocated large tensor). A no-op elsewhere.
void tandem_reuse_freed_memory(void);

/// 1 when the AVX2+FMA path is in use (for benchmarks and notes).
int tandem_kernels_avx2(void);

#endif
