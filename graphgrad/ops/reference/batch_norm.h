// The meaning of batch normalisation over x [N, C, ...] seen as [N, C, inner]: per channel
// statistics over the N·inner values, plain loops templated on float/double, parallel over
// channels. Sums accumulate in double so the f32 kernels stay close to the f64 ones. The
// running-statistics update is shared with the oneDNN kernel (ops/dnn/batch_norm).
//
//   gg::BatchNormGeometry geo = gg::batch_norm_geometry(x.shape);
//   gg::reference::batch_norm_train(geo, eps, x, w, b, y, mean, invstd, var);
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "graphgrad/graph/tensor_desc.h"
#include "graphgrad/ops/kernels/kernel_util.h"

namespace gg {

struct BatchNormGeometry {
    int64_t n = 0, c = 0, inner = 1;
    int64_t per_channel() const { return n * inner; }  // M: values behind each statistic
};

inline BatchNormGeometry batch_norm_geometry(const Shape& x) {
    BatchNormGeometry g{x[0], x[1], 1};
    for (std::size_t d = 2; d < x.size(); ++d) g.inner *= x[d];
    return g;
}

// PyTorch's update: r ← (1−m)·r + m·batch, with the unbiased variance; counts the batch.
template <typename T>
void update_running_stats(const BatchNormGeometry& g, double momentum, const T* mean, const T* biased_var, T* running_mean,
                          T* running_var, int64_t* num_batches_tracked) {
    const int64_t m = g.per_channel();
    const double unbias = m > 1 ? static_cast<double>(m) / static_cast<double>(m - 1) : 1.0;
    for (int64_t ch = 0; ch < g.c; ++ch) {
        running_mean[ch] = static_cast<T>((1 - momentum) * running_mean[ch] + momentum * mean[ch]);
        running_var[ch] = static_cast<T>((1 - momentum) * running_var[ch] + momentum * unbias * biased_var[ch]);
    }
    if (num_batches_tracked) ++*num_batches_tracked;
}

namespace reference {

template <typename F>
void for_each_channel(const BatchNormGeometry& g, F&& f) {
    parallel_range(
        g.c, [&](int64_t c0, int64_t c1) { for (int64_t ch = c0; ch < c1; ++ch) f(ch); },
        grain_for(g.per_channel()));
}

// Row helpers over one contiguous run of a channel. Sums accumulate in double; the simd
// reductions allow reordering, so they vectorise (a plain `s += x[k]` chain runs at one add
// per 4 cycles and made these kernels 5× slower).
template <typename T>
double row_sum(const T* x, int64_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t k = 0; k < n; ++k) s += static_cast<double>(x[k]);
    return s;
}

template <typename T>
double row_squared_deviation(const T* x, int64_t n, double mu) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t k = 0; k < n; ++k) s += (static_cast<double>(x[k]) - mu) * (static_cast<double>(x[k]) - mu);
    return s;
}

// y = x·scale + shift, clamped at 0 when relu (batch_norm's fused relu, in the same pass).
template <typename T>
void row_affine(const T* x, T* y, int64_t n, T scale, T shift, bool relu = false) {
    if (relu) {
#pragma omp simd
        for (int64_t k = 0; k < n; ++k) y[k] = std::max(x[k] * scale + shift, T(0));
        return;
    }
#pragma omp simd
    for (int64_t k = 0; k < n; ++k) y[k] = x[k] * scale + shift;
}

// y = x·scale + shift (clamped at 0 when relu) over every run of channel ch.
template <typename T>
void channel_affine(const BatchNormGeometry& g, int64_t ch, const T* x, T* y, double scale, double shift,
                    bool relu = false) {
    for (int64_t i = 0; i < g.n; ++i) {
        const int64_t off = (i * g.c + ch) * g.inner;
        row_affine(x + off, y + off, g.inner, static_cast<T>(scale), static_cast<T>(shift), relu);
    }
}

// The end of a training forward for channel ch, once its batch mean and biased variance are
// known (shared by these loops and the fast ones): writes the statistics, then
// y = (x − mean)·invstd·w + b as one affine map.
template <typename T>
void normalize_channel(const BatchNormGeometry& g, int64_t ch, double eps, double mu, double var, const T* x,
                       const T* w, const T* b, T* y, T* mean, T* invstd, T* biased_var, bool relu = false) {
    const double is = 1.0 / std::sqrt(var + eps);
    mean[ch] = static_cast<T>(mu);
    invstd[ch] = static_cast<T>(is);
    biased_var[ch] = static_cast<T>(var);
    const double scale = w[ch] * is;
    channel_affine(g, ch, x, y, scale, b[ch] - mu * scale, relu);
}

// y = (x − mean)·invstd·w + b with batch statistics; writes mean, invstd and the biased
// variance per channel (two passes: the one-pass formula cancels badly).
template <typename T>
void batch_norm_train(const BatchNormGeometry& g, double eps, const T* x, const T* w, const T* b, T* y, T* mean, T* invstd,
                      T* biased_var, bool relu = false) {
    const double count = static_cast<double>(g.per_channel());
    for_each_channel(g, [&](int64_t ch) {
        double s = 0, ss = 0;
        for (int64_t i = 0; i < g.n; ++i) s += row_sum(x + (i * g.c + ch) * g.inner, g.inner);
        const double mu = s / count;
        for (int64_t i = 0; i < g.n; ++i) ss += row_squared_deviation(x + (i * g.c + ch) * g.inner, g.inner, mu);
        normalize_channel(g, ch, eps, mu, ss / count, x, w, b, y, mean, invstd, biased_var, relu);
    });
}

// Evaluation: the running statistics normalise; mean and invstd outputs report them.
template <typename T>
void batch_norm_eval(const BatchNormGeometry& g, double eps, const T* x, const T* w, const T* b, const T* running_mean,
                     const T* running_var, T* y, T* mean, T* invstd, bool relu = false) {
    for_each_channel(g, [&](int64_t ch) {
        const double is = 1.0 / std::sqrt(static_cast<double>(running_var[ch]) + eps);
        mean[ch] = running_mean[ch];
        invstd[ch] = static_cast<T>(is);
        const double scale = w[ch] * is;
        channel_affine(g, ch, x, y, scale, b[ch] - running_mean[ch] * scale, relu);
    });
}

// With x̂ = (x − mean)·invstd and M values per channel:
//   dx = w·invstd·(dy − Σdy/M − x̂·Σ(dy·x̂)/M),  dw = Σ dy·x̂,  db = Σ dy.
// batch_stats false (evaluation programs: mean and invstd are the running statistics, which
// do not depend on x): dx = w·invstd·dy.
template <typename T>
void batch_norm_backward(const BatchNormGeometry& g, const T* x, const T* dy, const T* w, const T* mean, const T* invstd,
                         T* dx, T* dw, T* db, bool batch_stats = true) {
    const double count = static_cast<double>(g.per_channel());
    for_each_channel(g, [&](int64_t ch) {
        const double mu = mean[ch], is = invstd[ch];
        double sdy = 0, sdyxc = 0;  // Σ dy, Σ dy·(x − mean)
        for (int64_t i = 0; i < g.n; ++i) {
            const T* xr = x + (i * g.c + ch) * g.inner;
            const T* dr = dy + (i * g.c + ch) * g.inner;
            double a = 0, c = 0;
#pragma omp simd reduction(+ : a, c)
            for (int64_t k = 0; k < g.inner; ++k) {
                a += static_cast<double>(dr[k]);
                c += static_cast<double>(dr[k]) * (static_cast<double>(xr[k]) - mu);
            }
            sdy += a;
            sdyxc += c;
        }
        dw[ch] = static_cast<T>(sdyxc * is);
        db[ch] = static_cast<T>(sdy);
        // dx = scale·(dy − a − (x − mean)·k), k = invstd²·Σ dy·(x − mean)/M
        const T scale = static_cast<T>(w[ch] * is), a = batch_stats ? static_cast<T>(sdy / count) : T(0);
        const T k = batch_stats ? static_cast<T>(is * is * sdyxc / count) : T(0), m = static_cast<T>(mu);
        for (int64_t i = 0; i < g.n; ++i) {
            const int64_t off = (i * g.c + ch) * g.inner;
            const T* xr = x + off;
            const T* dr = dy + off;
            T* out = dx + off;
#pragma omp simd
            for (int64_t e = 0; e < g.inner; ++e) out[e] = scale * (dr[e] - a - (xr[e] - m) * k);
        }
    });
}

}  // namespace reference
}  // namespace gg
