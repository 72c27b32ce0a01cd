// Prefetch-distance sweep for the d = 64 CSR × dense kernel (a benchmark, not a test; CI does not run it).
// The graph has the 1M-interaction synthetic graph's shape: 100k users + 50k items, 780k edges with power-law items,
// stored symmetric (1.56M non-zeros), D^-1/2 A D^-1/2 values. One core, best of 15 products.
// Usage: for pf in 0 4 8 16 24 32 48; do gcc -O2 -DPF=$pf -o /tmp/spmm$pf scripts/bench/bench_spmm_prefetch.c -lm && /tmp/spmm$pf; done
// Other shapes: -DNU=943 -DNI=1682 -DNE=80808 (ml-100k's). clang (the compiler SwiftPM uses for the real kernel)
// keeps the accumulators in registers; measure with it: gcc -O2 kept them in memory here, 1.8x slower.
// The kernel mirrors SPMM_REGISTERS in Sources/CKernels/kernels.c (which uses 16 ahead).
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <time.h>
#ifndef PF
#define PF 0
#endif
#ifndef NU  // users, items, edges: the 1M graph's shape unless given (ml-100k: -DNU=943 -DNI=1682 -DNE=80808)
#define NU 100000
#define NI 50000
#define NE 780000
#endif
__attribute__((target("avx2,fma")))
static void spmm(int64_t rb, int64_t re, const int64_t *rp, const int32_t *cols, const float *vals, const float *x, float *y) {
    const int64_t pend = rp[re];
    for (int64_t r = rb; r < re; r++) {
        __m256 acc[8];
        for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
        for (int64_t p = rp[r]; p < rp[r + 1]; p++) {
#if PF > 0
            if (p + PF < pend) { const char *q = (const char *)(x + (int64_t)cols[p + PF] * 64);
              _mm_prefetch(q, _MM_HINT_T0); _mm_prefetch(q + 64, _MM_HINT_T0); _mm_prefetch(q + 128, _MM_HINT_T0); _mm_prefetch(q + 192, _MM_HINT_T0); }
#endif
            const __m256 v = _mm256_set1_ps(vals[p]);
            const float *xr = x + (int64_t)cols[p] * 64;
            for (int k = 0; k < 8; k++) acc[k] = _mm256_fmadd_ps(v, _mm256_loadu_ps(xr + 8 * k), acc[k]);
        }
        for (int k = 0; k < 8; k++) _mm256_storeu_ps(y + r * 64 + 8 * k, acc[k]);
    }
}
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(void) {
    int U = NU, I = NI, N = U + I; int64_t E = NE;
    srand(1);
    // bipartite, items drawn by a power law; symmetric CSR
    int32_t *eu = malloc(E * 4), *ei = malloc(E * 4);
    for (int64_t e = 0; e < E; e++) { eu[e] = rand() % U; double u = (rand() + 1.0) / (RAND_MAX + 2.0); ei[e] = (int32_t)(I * pow(u, 2.0)); if (ei[e] >= I) ei[e] = I - 1; }
    int64_t *deg = calloc(N + 1, 8);
    for (int64_t e = 0; e < E; e++) { deg[eu[e]]++; deg[U + ei[e]]++; }
    int64_t *rp = calloc(N + 1, 8); for (int i = 0; i < N; i++) rp[i + 1] = rp[i] + deg[i];
    int64_t *fill = calloc(N, 8); int32_t *cols = malloc(2 * E * 4); float *vals = malloc(2 * E * 4);
    for (int64_t e = 0; e < E; e++) { int a = eu[e], b = U + ei[e]; float v = 1.0f / sqrtf((float)deg[a] * deg[b]);
      cols[rp[a] + fill[a]] = b; vals[rp[a] + fill[a]++] = v; cols[rp[b] + fill[b]] = a; vals[rp[b] + fill[b]++] = v; }
    float *x = malloc((size_t)N * 64 * 4), *y = malloc((size_t)N * 64 * 4);
    for (int64_t i = 0; i < (int64_t)N * 64; i++) x[i] = rand() / (float)RAND_MAX;
    double best = 1e9;
    for (int t = 0; t < 15; t++) { double t0 = now(); spmm(0, N, rp, cols, vals, x, y); double dt = now() - t0; if (dt < best) best = dt; }
    double s = 0; for (int64_t i = 0; i < (int64_t)N * 64; i += 97) s += y[i];
    printf("PF=%d best %.3f ms (checksum %.3f)\n", PF, best * 1e3, s);
}
