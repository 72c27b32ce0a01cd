#ifndef TANDEM_CHNSW_H
#define TANDEM_CHNSW_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/// An opaque hnswlib index over inner-product distance (1 − x·y).
typedef struct tandem_hnsw tandem_hnsw;

/// Creates an index for up to `capacity` vectors of `dim` floats; NULL on failure (see tandem_hnsw_last_error).
tandem_hnsw *tandem_hnsw_create(int64_t dim, int64_t capacity, int64_t m, int64_t ef_construction, int64_t seed);
/// Loads an index written by tandem_hnsw_save; NULL on failure.
tandem_hnsw *tandem_hnsw_load(const char *path, int64_t dim);
void tandem_hnsw_free(tandem_hnsw *index);
/// Adds one vector with label `label`. Safe to call from several threads at once. 0 on success.
int tandem_hnsw_add(tandem_hnsw *index, const float *vector, int64_t label);
/// Grows the index to hold at least `capacity` vectors (not safe while other threads search or add). 0 on success.
int tandem_hnsw_reserve(tandem_hnsw *index, int64_t capacity);
void tandem_hnsw_set_ef(tandem_hnsw *index, int64_t ef);
/// The `k` nearest labels (largest inner product first) into `labels` and their inner products into `scores`.
/// Returns how many were found, or −1 on failure.
int64_t tandem_hnsw_search(tandem_hnsw *index, const float *query, int64_t k, int64_t *labels, float *scores);
int tandem_hnsw_save(tandem_hnsw *index, const char *path);
int64_t tandem_hnsw_count(tandem_hnsw *index);
/// The message of the last failure on this thread.
const char *tandem_hnsw_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
