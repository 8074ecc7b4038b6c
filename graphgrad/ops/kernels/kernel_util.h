// Helpers for plain-loop kernels: OpenMP parallel ranges above a size threshold (the runtime
// oneDNN already uses; no second pool) and element-type dispatch.
//
//   gg::parallel_range(n, [&](int64_t b, int64_t e) { for (auto i = b; i < e; ++i) y[i] = f(x[i]); });
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include <omp.h>

#include "graphgrad/graph/tensor.h"

namespace gg {

// Below this many elements a parallel region costs more than it saves (~1-2 µs to wake).
constexpr int64_t kParallelGrain = 1 << 15;

// parallel_range's grain for items of `work_per_item` elements each: enough items that a
// task covers about kParallelGrain elements (at least one item).
inline int64_t grain_for(int64_t work_per_item) {
    return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, work_per_item));
}

template <typename F>
void parallel_range(int64_t n, F&& f, int64_t grain = kParallelGrain) {
    if (n <= grain || omp_get_max_threads() == 1 || omp_in_parallel()) {
        f(int64_t{0}, n);
        return;
    }
#pragma omp parallel
    {
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        const int64_t chunk = (n + nt - 1) / nt;
        const int64_t b = t * chunk, e = std::min(n, b + chunk);
        if (b < e) f(b, e);
    }
}

// Row-major strides of a shape, in elements.
inline std::vector<int64_t> strides_of(const Shape& s) {
    std::vector<int64_t> st(s.size(), 1);
    for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i)
        st[static_cast<std::size_t>(i)] = st[static_cast<std::size_t>(i) + 1] * s[static_cast<std::size_t>(i) + 1];
    return st;
}

}  // namespace gg
