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
/// Line-buffers standard output, so progress lines appear as they happen, also when piped to a file.
void tandem_line_buffer_stdout(void);

/// 1 when the AVX2+FMA path is in use (for benchmarks and notes).
int tandem_kernels_avx2(void);

/// One item of a parallel loop: `ctx` is the caller's, `index` in [0, count).
typedef void (*tandem_task)(void *ctx, int64_t index);

/// Runs `fn(ctx, i)` for every i in [0, count) on the calling thread and up to `threads − 1` persistent workers, which
/// spin briefly between jobs instead of parking (waking a parked thread costs ~40 µs here). Returns 1 when done;
/// 0 without running anything when the pool is already in use (a nested or concurrent call), `threads` < 2 or
/// `count` < 2: the caller then runs the loop another way.
int tandem_pool_run(int64_t count, int threads, tandem_task fn, void *ctx);

/// The OpenBLAS core type (an `OPENBLAS_CORETYPE` value) whose kernels this CPU can run: "SkylakeX" with AVX-512
/// (F, BW, DQ, VL, CD), "Haswell" with AVX2 and FMA, else NULL.
const char *tandem_blas_core_for_cpu(void);

/// The pool's workers started so far (it grows to the most threads asked for, less the caller).
int tandem_pool_workers(void);

#endif
