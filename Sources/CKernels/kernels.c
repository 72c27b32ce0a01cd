// Hot loops that Swift cannot vectorise for AVX2 without unsafeFlags: each has a generic version and an
// AVX2+FMA version compiled with a function-level target attribute, chosen once at run time.
#include "CKernels.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#include <stdio.h>
#endif

#define SPMM_BODY                                                                   \
    for (int64_t r = row_begin; r < row_end; r++) {                                 \
        float *restrict yr = y + r * d;                                             \
        if (base) memcpy(yr, base + r * d, (size_t)d * sizeof(float));              \
        else memset(yr, 0, (size_t)d * sizeof(float));                              \
        for (int64_t p = row_ptr[r]; p < row_ptr[r + 1]; p++) {                     \
            const float v = values[p];                                              \
            const float *restrict xr = x + (int64_t)cols[p] * d;                    \
            for (int64_t j = 0; j < d; j++) yr[j] += v * xr[j];                     \
        }                                                                           \
    }

static void spmm_generic(int64_t row_begin, int64_t row_end, const int64_t *restrict row_ptr,
                         const int32_t *restrict cols, const float *restrict values, const float *restrict x,
                         const float *restrict base, float *restrict y, int64_t d) {
    SPMM_BODY
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
__attribute__((target("avx2,fma")))
static void spmm_avx2(int64_t row_begin, int64_t row_end, const int64_t *restrict row_ptr,
                      const int32_t *restrict cols, const float *restrict values, const float *restrict x,
                      const float *restrict base, float *restrict y, int64_t d) {
    SPMM_BODY
}

// Widths that fit in registers (d = 8·NV, NV ≤ 8): each output row is accumulated in NV AVX registers and stored
// once, instead of loaded and stored for every non-zero — 1.5–2.2× the loop above for d = 64 (measured in one
// process, same matrix, identical results).
// The rows of x are read in the order of `cols`, at random, which no hardware prefetcher follows: the row
// SPMM_PREFETCH non-zeros ahead (in the whole chunk, across output rows) is requested while this one is summed.
// On a 150k-node, 1.56M-non-zero graph at d = 64 (one core, C harness, best of 15): 41–50 ms without, 25–27 ms
// at 16 ahead; 4 ahead 31–36, 8 ahead 26–30, 24–48 ahead 29–35.
#define SPMM_PREFETCH 16
#define SPMM_REGISTERS(NAME, NV)                                                                            \
    __attribute__((target("avx2,fma")))                                                                     \
    static void NAME(int64_t row_begin, int64_t row_end, const int64_t *restrict row_ptr,                   \
                     const int32_t *restrict cols, const float *restrict values, const float *restrict x,   \
                     const float *restrict base, float *restrict y) {                                       \
        const int64_t chunk_end = row_ptr[row_end];                                                         \
        for (int64_t r = row_begin; r < row_end; r++) {                                                     \
            __m256 acc[NV];                                                                                 \
            for (int k = 0; k < NV; k++) acc[k] = base ? _mm256_loadu_ps(base + r * 8 * NV + 8 * k) : _mm256_setzero_ps(); \
            for (int64_t p = row_ptr[r]; p < row_ptr[r + 1]; p++) {                                         \
                if (p + SPMM_PREFETCH < chunk_end) {  /* every 64-byte line of that row, the last one too */ \
                    const char *ahead = (const char *)(x + (int64_t)cols[p + SPMM_PREFETCH] * 8 * NV);      \
                    for (int k = 0; k < NV; k += 2) _mm_prefetch(ahead + 32 * k, _MM_HINT_T0);               \
                    _mm_prefetch(ahead + 32 * NV - 1, _MM_HINT_T0);                                         \
                }                                                                                           \
                const __m256 v = _mm256_set1_ps(values[p]);                                                 \
                const float *xr = x + (int64_t)cols[p] * 8 * NV;                                            \
                for (int k = 0; k < NV; k++) acc[k] = _mm256_fmadd_ps(v, _mm256_loadu_ps(xr + 8 * k), acc[k]); \
            }                                                                                               \
            for (int k = 0; k < NV; k++) _mm256_storeu_ps(y + r * 8 * NV + 8 * k, acc[k]);                  \
        }                                                                                                   \
    }
SPMM_REGISTERS(spmm_avx2_d64, 8)
SPMM_REGISTERS(spmm_avx2_d32, 4)
SPMM_REGISTERS(spmm_avx2_d16, 2)

static int has_avx2(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
}
#else
static int has_avx2(void) { return 0; }
#endif

int tandem_kernels_avx2(void) { return has_avx2(); }

void tandem_spmm_rows(int64_t row_begin, int64_t row_end, const int64_t *row_ptr, const int32_t *cols,
                      const float *values, const float *x, const float *base, float *y, int64_t d) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (has_avx2()) {
        switch (d) {
        case 64: spmm_avx2_d64(row_begin, row_end, row_ptr, cols, values, x, base, y); return;
        case 32: spmm_avx2_d32(row_begin, row_end, row_ptr, cols, values, x, base, y); return;
        case 16: spmm_avx2_d16(row_begin, row_end, row_ptr, cols, values, x, base, y); return;
        default: spmm_avx2(row_begin, row_end, row_ptr, cols, values, x, base, y, d); return;
        }
    }
#endif
    spmm_generic(row_begin, row_end, row_ptr, cols, values, x, base, y, d);
}

void tandem_reuse_freed_memory(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_MAX, 0);               // large blocks from the heap, not one mapping each
    mallopt(M_TRIM_THRESHOLD, 0x7fffffff); // keep the heap's free top instead of returning it to the kernel
#endif
}

void tandem_line_buffer_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}
