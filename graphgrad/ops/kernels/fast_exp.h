// Vectorised exp for the softmax and cross-entropy kernels. glibc's expf is only vectorised
// under -ffast-math, and with the default -ftrapping-math GCC will not if-convert a scalar
// polynomial exp either, so these loops use GCC/Clang vector extensions (8 floats, AVX under
// -mavx2): Cephes-style range reduction and a degree-6 polynomial, ~1.5 ulp in f32, exactly 0
// below −87.3 (softmax of far-off logits), inf above 88, NaN kept. f64 stays on std::exp:
// those kernels are the reference gradcheck differentiates numerically.
//
//   float s = gg::exp_shifted(x, m, y, n);        // y[i] = exp(x[i] − m), returns Σ y[i]
//   gg::exp_shifted_acc(x, m, y, s, w);           // per column: y = exp(x − m), s += y
#pragma once

#include <bit>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace gg {

namespace simd {

using f32x8 = float __attribute__((vector_size(32)));
using i32x8 = int32_t __attribute__((vector_size(32)));
constexpr int64_t kWidth = 8;

inline f32x8 load(const float* p) {
    f32x8 v;
    std::memcpy(&v, p, sizeof v);  // unaligned load
    return v;
}
inline void store(float* p, f32x8 v) { std::memcpy(p, &v, sizeof v); }
inline f32x8 splat(float x) { return f32x8{} + x; }

inline f32x8 exp(f32x8 x) {
    const f32x8 lo = splat(-87.3365447505531f), hi = splat(88.0f);  // 2ⁿ needs n in [-126, 127]
    f32x8 xc = x > lo ? x : lo;  // a NaN fails the comparison: becomes lo, conversion stays defined
    xc = xc < hi ? xc : hi;
    // Round to nearest by adding and removing 1.5·2²³ (no libm call, no rounding-mode change).
    const f32x8 round = splat(12582912.0f);
    const f32x8 n = (xc * 1.44269504088896341f + round) - round;
    const f32x8 r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;  // ln 2 split hi + lo; |r| ≤ ln2/2
    f32x8 p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const i32x8 e = (__builtin_convertvector(n, i32x8) + 127) << 23;  // 2ⁿ in the exponent bits
    f32x8 y = p * std::bit_cast<f32x8>(e);
    y = x < lo ? splat(0.0f) : y;
    y = x > hi ? splat(INFINITY) : y;
    return x == x ? y : x;
}

// sigmoid(x) = 1/(1 + e^−x) as e/(1 + e)·… with e = e^−|x| ≤ 1: never overflows; ~3 ulp.
inline f32x8 sigmoid(f32x8 x) {
    const f32x8 e = exp(x < 0 ? x : -x);
    const f32x8 s = 1.0f / (1.0f + e);
    return x >= 0 ? s : e * s;  // NaN: e is NaN, so both forms are NaN
}

// tanh: an odd polynomial below |x| = 0.625 (Cephes' tanhf coefficients, where 1 − 2/(e^2|x|+1)
// would lose digits to cancellation), 1 − 2/(e^2|x| + 1) above, the sign put back; ~2 ulp.
inline f32x8 tanh(f32x8 x) {
    const f32x8 ax = x < 0 ? -x : x;
    const f32x8 z = x * x;
    f32x8 p = splat(-5.70498872745e-3f);
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    const f32x8 small = x * (1.0f + p * z);  // x·(…), not x + x·…: tanh(−0) stays −0
    const f32x8 big_abs = 1.0f - 2.0f / (exp(ax + ax) + 1.0f);  // e^2|x| = inf: exactly 1
    const f32x8 big = x < 0 ? -big_abs : big_abs;
    return ax < 0.625f ? small : big;  // NaN fails the comparison: big, which is NaN
}

}  // namespace simd

// max(x[0..n)) ignoring NaNs like std::max(m, x) does (−inf for n = 0). Eight independent
// lanes: the scalar loop is one long dependency chain GCC will not vectorise (std::max is not
// associative for NaN).
inline float row_max(const float* x, int64_t n) {
    simd::f32x8 acc = simd::splat(-INFINITY);
    int64_t i = 0;
    for (; i + simd::kWidth <= n; i += simd::kWidth) {
        const simd::f32x8 v = simd::load(x + i);
        acc = v > acc ? v : acc;
    }
    float m = -INFINITY;
    for (int j = 0; j < simd::kWidth; ++j) m = std::max(m, acc[j]);
    for (; i < n; ++i) m = std::max(m, x[i]);
    return m;
}
inline double row_max(const double* x, int64_t n) {
    double m = -INFINITY;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
    return m;
}

// y[i] = exp(x[i] − m) for i < n (y may be nullptr: sum only); returns Σ exp(x[i] − m).
inline float exp_shifted(const float* x, float m, float* y, int64_t n) {
    simd::f32x8 acc{};
    int64_t i = 0;
    for (; i + simd::kWidth <= n; i += simd::kWidth) {
        const simd::f32x8 e = simd::exp(simd::load(x + i) - m);
        if (y) simd::store(y + i, e);
        acc += e;
    }
    float s = 0;
    for (int k = 0; k < simd::kWidth; ++k) s += acc[k];
    if (i < n) {  // tail through a padded vector: exp(−inf) = 0 adds nothing
        float buf[simd::kWidth];
        for (int k = 0; k < simd::kWidth; ++k) buf[k] = i + k < n ? x[i + k] - m : -INFINITY;
        const simd::f32x8 e = simd::exp(simd::load(buf));
        for (int64_t k = 0; i + k < n; ++k) {
            if (y) y[i + k] = e[k];
            s += e[k];
        }
    }
    return s;
}

inline double exp_shifted(const double* x, double m, double* y, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double e = std::exp(x[i] - m);
        if (y) y[i] = e;
        s += e;
    }
    return s;
}

// Column-wise: for j < w, e = exp(x[j] − m[j]); y[j] = e (y may be nullptr); s[j] += e.
inline void exp_shifted_acc(const float* x, const float* m, float* y, float* s, int64_t w) {
    int64_t j = 0;
    for (; j + simd::kWidth <= w; j += simd::kWidth) {
        const simd::f32x8 e = simd::exp(simd::load(x + j) - simd::load(m + j));
        if (y) simd::store(y + j, e);
        simd::store(s + j, simd::load(s + j) + e);
    }
    if (j < w) {
        float buf[simd::kWidth];
        for (int k = 0; k < simd::kWidth; ++k) buf[k] = j + k < w ? x[j + k] - m[j + k] : 0.0f;
        const simd::f32x8 e = simd::exp(simd::load(buf));
        for (int64_t k = 0; j + k < w; ++k) {
            if (y) y[j + k] = e[k];
            s[j + k] += e[k];
        }
    }
}

inline void exp_shifted_acc(const double* x, const double* m, double* y, double* s, int64_t w) {
    for (int64_t j = 0; j < w; ++j) {
        const double e = std::exp(x[j] - m[j]);
        if (y) y[j] = e;
        s[j] += e;
    }
}

}  // namespace gg
