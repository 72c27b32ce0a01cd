// A persistent worker pool for short parallel loops. libdispatch's `concurrentPerform` parks its workers between
// calls, and waking one on this 2-core VM costs ~40 µs (measured: two 20 µs halves took 59 µs per call, two 100 µs
// halves 164 µs). A training step makes dozens of parallel calls of 0.05–0.5 ms each, so the pool's workers spin
// for a while after each job (SPIN_NS) and only then sleep on a condition variable.
//
// Jobs are claimed through one 64-bit ticket: the high half is the job's generation, the low half the next index.
// A worker claims index k of generation g by a compare-and-swap from (g, k) to (g, k + 1); the caller closes a
// finished job (index CLOSED) before writing the next one's fields, so a worker that read a stale job can never claim.
#include "CKernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_WORKERS 63
#define CLOSED 0xffffffffu
#define SPIN_NS 2000000  // 2 ms: longer than the serial gaps of a training step, short enough to idle soon after

static struct {
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    int started;                  // workers running (under mutex)
    _Atomic int wanted;           // workers that may join a job (threads − 1)
    _Atomic int busy;             // 1 while a caller owns the pool
    _Atomic int sleepers;         // workers blocked on `wake`
    _Atomic uint64_t ticket;      // (generation << 32) | next index
    _Atomic int64_t done;         // items finished in the current job
    _Atomic(tandem_task) fn;      // the current job (written while closed, read after the ticket's acquire)
    _Atomic(void *) ctx;
    _Atomic int64_t count;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, 0, 0};

#define RELAXED(field) atomic_load_explicit(&pool.field, memory_order_relaxed)

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/// Claims and runs items of generation `gen` until none are left. Returns when the job is exhausted or replaced.
static void work_on(uint32_t gen) {
    uint64_t t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(t >> 32) != gen) return;
        uint32_t k = (uint32_t)t;
        if (k == CLOSED || (int64_t)k >= RELAXED(count)) return;
        if (atomic_compare_exchange_weak_explicit(&pool.ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire)) {
            RELAXED(fn)(RELAXED(ctx), (int64_t)k);
            atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
            t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
        }
    }
}

/// `arg`: the worker's index in the low 32 bits, and in the high 32 the generation current when it was created: the
/// job about to be published is newer, so a worker that starts only after the publication still joins it (reading the
/// generation here instead made a new worker sit out the job it was created for — all of it, when that job was long).
static void *worker_main(void *arg) {
    const int index = (int)((uintptr_t)arg & 0xffffffffu);
    uint32_t seen = (uint32_t)((uintptr_t)arg >> 32);
    for (;;) {
        // Spin until a new generation appears, then sleep.
        uint64_t spin_start = now_ns();
        uint32_t gen;
        for (unsigned i = 1;; i++) {
            gen = (uint32_t)(atomic_load_explicit(&pool.ticket, memory_order_acquire) >> 32);
            if (gen != seen) break;
            CPU_RELAX();
            if ((i & 255) == 0 && now_ns() - spin_start > SPIN_NS) {
                pthread_mutex_lock(&pool.mutex);
                atomic_fetch_add(&pool.sleepers, 1);  // seq_cst: the caller's generation bump sees this, or we see it
                while ((gen = (uint32_t)(atomic_load(&pool.ticket) >> 32)) == seen) pthread_cond_wait(&pool.wake, &pool.mutex);
                atomic_fetch_sub(&pool.sleepers, 1);
                pthread_mutex_unlock(&pool.mutex);
                break;
            }
        }
        seen = gen;
        if (index < atomic_load_explicit(&pool.wanted, memory_order_relaxed)) work_on(gen);
    }
    return NULL;
}

static void ensure_workers(int n) {
    if (n > MAX_WORKERS) n = MAX_WORKERS;
    pthread_mutex_lock(&pool.mutex);
    const uintptr_t gen = (uintptr_t)(uint32_t)(atomic_load(&pool.ticket) >> 32);
    while (pool.started < n) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&thread, &attr, worker_main, (void *)((gen << 32) | (uintptr_t)pool.started)) != 0) {
            pthread_attr_destroy(&attr);
            break;
        }
        pthread_attr_destroy(&attr);
        pool.started++;
    }
    pthread_mutex_unlock(&pool.mutex);
}

int tandem_pool_workers(void) {
    pthread_mutex_lock(&pool.mutex);
    const int n = pool.started;
    pthread_mutex_unlock(&pool.mutex);
    return n;
}

int tandem_pool_run(int64_t count, int threads, tandem_task fn, void *ctx) {
    if (threads < 2 || count < 2 || count >= CLOSED) return 0;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&pool.busy, &expected, 1)) return 0;  // nested or concurrent: caller runs it
    ensure_workers(threads - 1);
    atomic_store(&pool.wanted, threads - 1 < pool.started ? threads - 1 : pool.started);

    // The previous job is closed, so no worker can claim from it while its fields change.
    uint32_t gen = (uint32_t)(atomic_load(&pool.ticket) >> 32) + 1;
    atomic_store_explicit(&pool.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool.ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&pool.count, count, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    atomic_store(&pool.ticket, (uint64_t)gen << 32);  // seq_cst: publishes the fields, ordered before `sleepers`
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.mutex);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.mutex);
    }
    work_on(gen);
    while (atomic_load_explicit(&pool.done, memory_order_acquire) < count) CPU_RELAX();
    atomic_store(&pool.ticket, ((uint64_t)gen << 32) | CLOSED);
    atomic_store(&pool.busy, 0);
    return 1;
}
