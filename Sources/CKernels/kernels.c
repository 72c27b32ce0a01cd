// Hot loops that Swift cannot vectorise for AVX2 without unsafeFlags: each has a generic version and an
// AVX2+FMA version compiled with a function-level target attribute, chosen once at run time.
#include "CKernels.h"
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
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
    if (has_avx2()) { spmm_avx2(row_begin, row_end, row_ptr, cols, values, x, base, y, d); return; }
#endif
    spmm_generic(row_begin, row_end, row_ptr, cols, values, x, base, y, d);
}

void tandem_reuse_freed_memory(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_MAX, 0);               // large blocks from the heap, not one mapping each
    mallopt(M_TRIM_THRESHOLD, 0x7fffffff); // keep the heap's free top instead of returning it to the kernel
#endif
}
