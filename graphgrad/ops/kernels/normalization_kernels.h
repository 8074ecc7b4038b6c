// Fast batch-norm loops on plain [N, C, inner] memory (the registered kernels of batch_norm
// when x is plain; ops/reference/batch_norm.h stays the op's meaning and the registry tests
// compare them). Parallel over channels, vectorised over each contiguous run of a channel.
//
// The training forward reads x twice instead of three times: mean and variance come from
// one pass over x − K, K being the channel's first value (a sample, so |mean − K| is a few
// standard deviations and the shifted one-pass formula keeps full accuracy), summed in
// double. Then y = x·scale + shift.
//
//   gg::fast::batch_norm_train<float>(geo, eps, x, w, b, y, mean, invstd, biased_var);
#pragma once

#include "graphgrad/ops/reference/batch_norm.h"

namespace gg::fast {

template <typename T>
void batch_norm_train(const BatchNormGeometry& g, double eps, const T* x, const T* w, const T* b, T* y, T* mean,
                      T* invstd, T* biased_var, bool relu = false) {
    const double count = static_cast<double>(g.per_channel());
    reference::for_each_channel(g, [&](int64_t ch) {
        const double k = static_cast<double>(x[ch * g.inner]);
        double s = 0, ss = 0;  // Σ (x − K), Σ (x − K)²
        for (int64_t i = 0; i < g.n; ++i) {
            const T* xr = x + (i * g.c + ch) * g.inner;
            double a = 0, q = 0;
#pragma omp simd reduction(+ : a, q)
            for (int64_t e = 0; e < g.inner; ++e) {
                const double d = static_cast<double>(xr[e]) - k;
                a += d;
                q += d * d;
            }
            s += a;
            ss += q;
        }
        const double shift_mean = s / count;
        const double var = std::max(0.0, ss / count - shift_mean * shift_mean);
        reference::normalize_channel(g, ch, eps, k + shift_mean, var, x, w, b, y, mean, invstd, biased_var, relu);
    });
}

}  // namespace gg::fast
