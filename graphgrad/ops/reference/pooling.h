// The meaning of 2-D pooling and nearest upsampling over [N, C, H, W]: plain loops, templated
// on float/double, parallel over the N·C planes (each plane is independent, so the
// scatter-style backward loops have no write races). The geometry is shared with
// ops/dnn/pooling so both kernels read the window the same way.
//
//   gg::Pool2dGeometry geo = gg::pool2d_geometry(x.shape, {2, 2}, {2, 2}, {0, 0, 0, 0});
//   gg::reference::max_pool2d(geo, x, y, argmax);   // argmax: flat index iy·W + ix per output
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include "graphgrad/graph/tensor_desc.h"
#include "graphgrad/ops/kernels/kernel_util.h"

namespace gg {

struct Pool2dGeometry {
    int64_t n = 0, c = 0, h = 0, w = 0;  // input
    int64_t oh = 0, ow = 0;              // output
    int64_t kh = 1, kw = 1, sh = 1, sw = 1;
    int64_t pt = 0, pb = 0, pl = 0, pr = 0;  // padding: top, bottom, left, right
    int64_t dh = 1, dw = 1;                  // dilation (max pooling)

    int64_t planes() const { return n * c; }
    int64_t in_plane() const { return h * w; }
    int64_t out_plane() const { return oh * ow; }
};

// PyTorch's output size: ⌊(in + pads − dilated kernel) / stride⌋ + 1, or with ceil_mode ⌈·⌉ + 1
// less a last window that would start past the input and its left padding (so every window
// holds an input element). Shapes must already be validated.
inline int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t lo, int64_t hi, bool ceil_mode) {
    const int64_t span = in + lo + hi - d * (k - 1) - 1;
    int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + lo) --out;
    return out;
}

inline Pool2dGeometry pool2d_geometry(const Shape& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                                      std::array<int64_t, 4> padding, std::array<int64_t, 2> dilation = {1, 1},
                                      bool ceil_mode = false) {
    Pool2dGeometry g{.n = x[0], .c = x[1], .h = x[2], .w = x[3],
                     .kh = kernel[0], .kw = kernel[1], .sh = stride[0], .sw = stride[1],
                     .pt = padding[0], .pb = padding[1], .pl = padding[2], .pr = padding[3],
                     .dh = dilation[0], .dw = dilation[1]};
    g.oh = pooled_size(g.h, g.kh, g.sh, g.dh, g.pt, g.pb, ceil_mode);
    g.ow = pooled_size(g.w, g.kw, g.sw, g.dw, g.pl, g.pr, ceil_mode);
    return g;
}

// Whether ceil_mode added windows reaching past the padded input (oneDNN's pooling cannot
// size those as PyTorch does).
inline bool extends_past_padding(const Pool2dGeometry& g) {
    return (g.oh - 1) * g.sh + g.kh > g.h + g.pt + g.pb || (g.ow - 1) * g.sw + g.kw > g.w + g.pl + g.pr;
}

namespace reference {

// Runs f(plane) for every plane in parallel; grain keeps tiny problems on one thread.
template <typename F>
void for_each_plane(const Pool2dGeometry& g, int64_t work_per_plane, F&& f) {
    parallel_range(
        g.planes(), [&](int64_t p0, int64_t p1) { for (int64_t p = p0; p < p1; ++p) f(p); },
        grain_for(work_per_plane));
}

// The window of output (oy, ox) clipped to the input: rows [y0, y1), columns [x0, x1).
struct Window {
    int64_t y0, y1, x0, x1;
};
inline Window window(const Pool2dGeometry& g, int64_t oy, int64_t ox) {
    const int64_t ys = oy * g.sh - g.pt, xs = ox * g.sw - g.pl;
    return {std::max<int64_t>(ys, 0), std::min(ys + g.kh, g.h), std::max<int64_t>(xs, 0), std::min(xs + g.kw, g.w)};
}

// Outputs whose window lies entirely inside the input along one axis: [lo, hi).
inline std::pair<int64_t, int64_t> interior(int64_t out, int64_t in, int64_t k, int64_t s, int64_t pad) {
    const int64_t lo = std::min(out, (pad + s - 1) / s);              // o·s − pad ≥ 0
    const int64_t hi = in - k + pad >= 0 ? std::min(out, (in - k + pad) / s + 1) : 0;  // o·s − pad + k ≤ in
    return {lo, std::max(lo, hi)};
}

// Max over a rows × cols window of a plane of width w whose top-left element is xp[i0],
// scanning row-major; the first maximal element wins, NaN beats numbers (PyTorch). KH, KW > 0
// fix the window at compile time for the common unclipped 2×2 and 3×3 cases.
template <int KH, int KW, typename T>
inline void window_max(const T* xp, int64_t w, int64_t i0, int64_t rows, int64_t cols, T* best, int64_t* arg) {
    if constexpr (KH > 0) rows = KH;
    if constexpr (KW > 0) cols = KW;
    int64_t bi = i0;
    T b = xp[i0];
    for (int64_t ky = 0; ky < rows; ++ky)
        for (int64_t kx = 0; kx < cols; ++kx) {
            const int64_t i = i0 + ky * w + kx;
            const T v = xp[i];
            const bool take = (v > b) | ((v != v) & (b == b));  // no short-circuit: no branches
            b = take ? v : b;
            bi = take ? i : bi;
        }
    *best = b;
    *arg = bi;
}

// y = max over the window; argmax = iy·W + ix of its first maximal element. The shape rule
// guarantees padding < kernel, so no window is empty. Interior outputs skip the clipping.
template <int KH, int KW, typename T>
void max_pool2d_planes(const Pool2dGeometry& geo, const T* x, T* y, int64_t* argmax) {
    const auto [ylo, yhi] = interior(geo.oh, geo.h, geo.kh, geo.sh, geo.pt);
    const auto [xlo, xhi] = interior(geo.ow, geo.w, geo.kw, geo.sw, geo.pl);
    for_each_plane(geo, geo.out_plane() * geo.kh * geo.kw, [&](int64_t p) {
        // Locals, not fields: stores to the i64 argmax could alias fields reached through a
        // reference and force reloads after every output.
        const int64_t w = geo.w, sw = geo.sw, pl = geo.pl, ow = geo.ow, sh = geo.sh, pt = geo.pt;
        const int64_t x_lo = xlo, x_hi = xhi;
        const T* xp = x + p * geo.in_plane();
        T* yp = y + p * geo.out_plane();
        int64_t* ap = argmax + p * geo.out_plane();
        for (int64_t oy = 0; oy < geo.oh; ++oy, yp += ow, ap += ow) {
            auto clipped = [&](int64_t ox) {
                const Window win = window(geo, oy, ox);
                window_max<0, 0>(xp, w, win.y0 * w + win.x0, win.y1 - win.y0, win.x1 - win.x0, yp + ox, ap + ox);
            };
            if (oy < ylo || oy >= yhi) {
                for (int64_t ox = 0; ox < ow; ++ox) clipped(ox);
                continue;
            }
            for (int64_t ox = 0; ox < x_lo; ++ox) clipped(ox);
            const int64_t row0 = (oy * sh - pt) * w - pl;
            for (int64_t ox = x_lo; ox < x_hi; ++ox)
                window_max<KH, KW>(xp, w, row0 + ox * sw, geo.kh, geo.kw, yp + ox, ap + ox);
            for (int64_t ox = x_hi; ox < ow; ++ox) clipped(ox);
        }
    });
}

// First tap index t ≥ 0 with start + t·d ≥ 0, and one past the last with start + t·d < n.
inline std::pair<int64_t, int64_t> dilated_taps(int64_t start, int64_t k, int64_t d, int64_t n) {
    const int64_t lo = start < 0 ? (-start + d - 1) / d : 0;
    const int64_t hi = start >= n ? 0 : std::min(k, (n - start + d - 1) / d);
    return {lo, std::max(lo, hi)};
}

// The window of output (oy, ox) with taps dilation apart (those inside the plane), scanned
// row-major like window_max: the first maximum wins, NaN beats numbers.
template <typename T>
inline void dilated_window_max(const Pool2dGeometry& g, const T* xp, int64_t oy, int64_t ox, T* best, int64_t* arg) {
    const int64_t ys = oy * g.sh - g.pt, xs = ox * g.sw - g.pl;
    const auto [ty0, ty1] = dilated_taps(ys, g.kh, g.dh, g.h);
    const auto [tx0, tx1] = dilated_taps(xs, g.kw, g.dw, g.w);
    int64_t bi = (ys + ty0 * g.dh) * g.w + xs + tx0 * g.dw;
    T b = xp[bi];
    for (int64_t ty = ty0; ty < ty1; ++ty)
        for (int64_t tx = tx0; tx < tx1; ++tx) {
            const int64_t i = (ys + ty * g.dh) * g.w + xs + tx * g.dw;
            const T v = xp[i];
            if (v > b || (v != v && b == b)) {
                b = v;
                bi = i;
            }
        }
    *best = b;
    *arg = bi;
}

template <typename T>
void max_pool2d_dilated(const Pool2dGeometry& g, const T* x, T* y, int64_t* argmax) {
    for_each_plane(g, g.out_plane() * g.kh * g.kw, [&](int64_t p) {
        const T* xp = x + p * g.in_plane();
        T* yp = y + p * g.out_plane();
        int64_t* ap = argmax + p * g.out_plane();
        for (int64_t oy = 0; oy < g.oh; ++oy)
            for (int64_t ox = 0; ox < g.ow; ++ox) dilated_window_max(g, xp, oy, ox, yp + oy * g.ow + ox, ap + oy * g.ow + ox);
    });
}

template <typename T>
void max_pool2d(const Pool2dGeometry& g, const T* x, T* y, int64_t* argmax) {
    if (g.dh != 1 || g.dw != 1) max_pool2d_dilated(g, x, y, argmax);
    else if (g.kh == 2 && g.kw == 2) max_pool2d_planes<2, 2>(g, x, y, argmax);
    else if (g.kh == 3 && g.kw == 3) max_pool2d_planes<3, 3>(g, x, y, argmax);
    else max_pool2d_planes<0, 0>(g, x, y, argmax);
}

// dx = Σ dy scattered to the argmax positions. Returns false (and skips the element) when an
// index is outside the plane; the caller turns that into an error naming the node.
// The plane sizes are locals and dx is __restrict: otherwise every store to dx may alias g,
// dy and argmax, and the loop reloads them (2x slower on LeNet's pools).
template <typename T>
bool max_pool2d_backward(const Pool2dGeometry& g, const T* dy, const int64_t* argmax, T* dx) {
    std::atomic<bool> ok{true};
    const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
    for_each_plane(g, out_plane + in_plane, [&](int64_t p) {
        T* __restrict dxp = dx + p * in_plane;
        const T* dyp = dy + p * out_plane;
        const int64_t* ap = argmax + p * out_plane;
        std::fill(dxp, dxp + in_plane, T(0));
        bool good = true;
        for (int64_t o = 0; o < out_plane; ++o) {
            const int64_t i = ap[o];
            if (static_cast<uint64_t>(i) >= static_cast<uint64_t>(in_plane)) [[unlikely]] {
                good = false;
                continue;
            }
            dxp[i] += dyp[o];
        }
        if (!good) ok.store(false, std::memory_order_relaxed);
    });
    return ok.load();
}

// The divisor of output (oy, ox): with count_include_pad the window clipped to the padded
// input (kh·kw but for ceil_mode's last windows, as PyTorch), else the input elements in it.
inline int64_t avg_divisor(const Pool2dGeometry& g, bool include_pad, int64_t oy, int64_t ox, const Window& win) {
    if (!include_pad) return (win.y1 - win.y0) * (win.x1 - win.x0);
    const int64_t ys = oy * g.sh - g.pt, xs = ox * g.sw - g.pl;
    return (std::min(ys + g.kh, g.h + g.pb) - ys) * (std::min(xs + g.kw, g.w + g.pr) - xs);
}

template <typename T>
void avg_pool2d(const Pool2dGeometry& g, bool include_pad, const T* x, T* y) {
    for_each_plane(g, g.out_plane() * g.kh * g.kw, [&](int64_t p) {
        const T* xp = x + p * g.in_plane();
        for (int64_t oy = 0; oy < g.oh; ++oy)
            for (int64_t ox = 0; ox < g.ow; ++ox) {
                const Window win = window(g, oy, ox);
                T s(0);
                for (int64_t iy = win.y0; iy < win.y1; ++iy)
                    for (int64_t ix = win.x0; ix < win.x1; ++ix) s += xp[iy * g.w + ix];
                const int64_t count = avg_divisor(g, include_pad, oy, ox, win);
                y[p * g.out_plane() + oy * g.ow + ox] = s / static_cast<T>(count);
            }
    });
}

// The adjoint of avg_pool2d: every output spreads dy / divisor over its window.
template <typename T>
void avg_pool2d_backward(const Pool2dGeometry& g, bool include_pad, const T* dy, T* dx) {
    for_each_plane(g, g.out_plane() * g.kh * g.kw + g.in_plane(), [&](int64_t p) {
        T* dxp = dx + p * g.in_plane();
        std::fill(dxp, dxp + g.in_plane(), T(0));
        for (int64_t oy = 0; oy < g.oh; ++oy)
            for (int64_t ox = 0; ox < g.ow; ++ox) {
                const Window win = window(g, oy, ox);
                const int64_t count = avg_divisor(g, include_pad, oy, ox, win);
                const T v = dy[p * g.out_plane() + oy * g.ow + ox] / static_cast<T>(count);
                for (int64_t iy = win.y0; iy < win.y1; ++iy)
                    for (int64_t ix = win.x0; ix < win.x1; ++ix) dxp[iy * g.w + ix] += v;
            }
    });
}

// y[p, oy, ox] = x[p, oy / s, ox / s]: each input row is widened once, then copied s times.
template <typename T>
void upsample_nearest2d(const Pool2dGeometry& g, int64_t s, const T* x, T* y) {
    const int64_t ow = g.w * s;
    for_each_plane(g, g.in_plane() * s * s, [&](int64_t p) {
        const T* xp = x + p * g.in_plane();
        T* yp = y + p * g.in_plane() * s * s;
        for (int64_t iy = 0; iy < g.h; ++iy) {
            T* row = yp + iy * s * ow;
            for (int64_t ix = 0; ix < g.w; ++ix) std::fill_n(row + ix * s, s, xp[iy * g.w + ix]);
            for (int64_t r = 1; r < s; ++r) std::copy_n(row, ow, row + r * ow);
        }
    });
}

}  // namespace reference
}  // namespace gg
