// extern "C" wrapper over Debian's header-only hnswlib: error codes and a thread-local message, no exceptions cross.
#include "CHNSW.h"
#include <hnswlib/hnswlib.h>
#include <memory>
#include <string>

struct tandem_hnsw {
    std::unique_ptr<hnswlib::InnerProductSpace> space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> index;
};

static thread_local std::string last_error;

template <typename F> static auto guarded(F f, decltype(f()) on_error) -> decltype(f()) {
    try { return f(); } catch (const std::exception &e) { last_error = e.what(); } catch (...) { last_error = "unknown error"; }
    return on_error;
}

extern "C" {

tandem_hnsw *tandem_hnsw_create(int64_t dim, int64_t capacity, int64_t m, int64_t ef_construction, int64_t seed) {
    return guarded([&]() -> tandem_hnsw * {
        auto *h = new tandem_hnsw();
        h->space.reset(new hnswlib::InnerProductSpace((size_t)dim));
        h->index.reset(new hnswlib::HierarchicalNSW<float>(h->space.get(), (size_t)capacity, (size_t)m, (size_t)ef_construction, (size_t)seed));
        return h;
    }, nullptr);
}

tandem_hnsw *tandem_hnsw_load(const char *path, int64_t dim) {
    return guarded([&]() -> tandem_hnsw * {
        auto *h = new tandem_hnsw();
        h->space.reset(new hnswlib::InnerProductSpace((size_t)dim));
        h->index.reset(new hnswlib::HierarchicalNSW<float>(h->space.get(), std::string(path)));
        return h;
    }, nullptr);
}

void tandem_hnsw_free(tandem_hnsw *index) { delete index; }

int tandem_hnsw_add(tandem_hnsw *index, const float *vector, int64_t label) {
    return guarded([&]() { index->index->addPoint(vector, (hnswlib::labeltype)label); return 0; }, -1);
}

int tandem_hnsw_reserve(tandem_hnsw *index, int64_t capacity) {
    return guarded([&]() {
        if ((size_t)capacity > index->index->max_elements_) index->index->resizeIndex((size_t)capacity);
        return 0;
    }, -1);
}

void tandem_hnsw_set_ef(tandem_hnsw *index, int64_t ef) { index->index->setEf((size_t)ef); }

int64_t tandem_hnsw_search(tandem_hnsw *index, const float *query, int64_t k, int64_t *labels, float *scores) {
    return guarded([&]() -> int64_t {
        auto result = index->index->searchKnn(query, (size_t)k);
        int64_t n = (int64_t)result.size();
        for (int64_t i = n - 1; i >= 0; i--) {  // the queue pops the farthest first
            labels[i] = (int64_t)result.top().second;
            scores[i] = 1.0f - result.top().first;
            result.pop();
        }
        return n;
    }, -1);
}

int tandem_hnsw_save(tandem_hnsw *index, const char *path) {
    return guarded([&]() { index->index->saveIndex(std::string(path)); return 0; }, -1);
}

int64_t tandem_hnsw_count(tandem_hnsw *index) { return (int64_t)index->index->cur_element_count; }

const char *tandem_hnsw_last_error(void) { return last_error.c_str(); }
}
