#ifndef TANDEM_CKERNELS_H
#define TANDEM_CKERNELS_H
#include <stdint.h>

/// y[r, :] = sum over entries p of row r: values[p] * x[cols[p], :], for rows [row_begin, row_end).
/// y rows are overwritten. x and y are row-major with d columns. Uses AVX2+FMA when the CPU has them.
void tandem_spmm_rows(int64_t row_begin, int64_t row_end, const int64_t *row_ptr, const int32_t *cols,
                      const float *values, const float *x, float *y, int64_t d);

/// 1 when the AVX2+FMA path is in use (for benchmarks and notes).
int tandem_kernels_avx2(void);

#endif
