// The meaning of the RoI ops of ops/detection.h (roi_pool, roi_align and their backward
// scatters): plain loops templated on float/double, the ops' only kernels. RoIs are
// (batch index, x1, y1, x2, y2) in image units, mapped to feature cells by spatial_scale.
//
//   gg::reference::RoiGeometry g{.n = 2, .c = 16, .h = 14, .w = 14, .k = 8, .ph = 7, .pw = 7, .scale = 0.5};
//   gg::reference::roi_align<float>(g, x, rois, y);      // false: a RoI's batch index is bad
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

namespace gg::reference {

// ---- RoI pooling and RoIAlign ----------------------------------------------------------
struct RoiGeometry {
    int64_t n = 0, c = 0, h = 0, w = 0;  // features
    int64_t k = 0, ph = 1, pw = 1;       // RoIs and the pooled size
    double scale = 1.0;                  // spatial_scale: box coordinates → feature cells
    int64_t sampling_ratio = -1;         // RoIAlign: samples per bin side; ≤ 0: ⌈roi size / bins⌉
    bool aligned = false;                // RoIAlign: shift by half a cell (pixel centres)
};

// The batch index of RoI r, or −1 when it is not an integer in [0, n).
template <typename T>
int64_t roi_batch(const RoiGeometry& g, const T* roi) {
    const T b = roi[0];
    if (!(b >= T(0)) || b >= static_cast<T>(g.n) || b != std::floor(b)) return -1;
    return static_cast<int64_t>(b);
}

// Fast R-CNN's max pooling over a rounded RoI, as torchvision.ops.roi_pool: corners rounded to
// cells (half away from zero), the RoI at least one cell, bin (i, j) covers rows
// ⌊i·bh⌋ … ⌈(i+1)·bh⌉ − 1 of it clipped to the map; an empty bin outputs 0. argmax is the flat
// index of the maximum in the whole [N, C, H, W] map (first maximum on ties), or N·C·H·W for
// an empty bin: one past the end, a sink the backward skips and its adjoint reads as 0.
// Returns false when a RoI's batch index is invalid.
template <typename T>
bool roi_pool(const RoiGeometry& g, const T* x, const T* rois, T* y, int64_t* argmax) {
    const int64_t sink = g.n * g.c * g.h * g.w;
    for (int64_t r = 0; r < g.k; ++r) {
        const T* roi = rois + 5 * r;
        const int64_t b = roi_batch(g, roi);
        if (b < 0) return false;
        const auto cell = [&](T v) { return static_cast<int64_t>(std::round(static_cast<double>(v) * g.scale)); };
        const int64_t x1 = cell(roi[1]), y1 = cell(roi[2]), x2 = cell(roi[3]), y2 = cell(roi[4]);
        const double bh = static_cast<double>(std::max<int64_t>(y2 - y1 + 1, 1)) / static_cast<double>(g.ph);
        const double bw = static_cast<double>(std::max<int64_t>(x2 - x1 + 1, 1)) / static_cast<double>(g.pw);
        for (int64_t c = 0; c < g.c; ++c) {
            const int64_t plane = (b * g.c + c) * g.h * g.w;
            for (int64_t i = 0; i < g.ph; ++i)
                for (int64_t j = 0; j < g.pw; ++j) {
                    const auto clip = [](int64_t v, int64_t hi) { return std::clamp<int64_t>(v, 0, hi); };
                    const int64_t h0 = clip(static_cast<int64_t>(std::floor(static_cast<double>(i) * bh)) + y1, g.h);
                    const int64_t h1 = clip(static_cast<int64_t>(std::ceil(static_cast<double>(i + 1) * bh)) + y1, g.h);
                    const int64_t w0 = clip(static_cast<int64_t>(std::floor(static_cast<double>(j) * bw)) + x1, g.w);
                    const int64_t w1 = clip(static_cast<int64_t>(std::ceil(static_cast<double>(j + 1) * bw)) + x1, g.w);
                    const bool empty = h1 <= h0 || w1 <= w0;
                    T best = empty ? T(0) : std::numeric_limits<T>::lowest();
                    int64_t at = sink;
                    for (int64_t yy = h0; yy < h1; ++yy)
                        for (int64_t xx = w0; xx < w1; ++xx) {
                            const int64_t idx = plane + yy * g.w + xx;
                            if (x[idx] > best) best = x[idx], at = idx;
                        }
                    const int64_t o = ((r * g.c + c) * g.ph + i) * g.pw + j;
                    y[o] = best;
                    argmax[o] = at;
                }
        }
    }
    return true;
}

// dx = dy scattered (summed) to the argmax positions; the sink and nothing else is skipped.
// Returns false when an index is neither in the map nor the sink.
template <typename T>
bool roi_pool_backward(const RoiGeometry& g, const T* dy, const int64_t* argmax, T* dx) {
    const int64_t size = g.n * g.c * g.h * g.w, count = g.k * g.c * g.ph * g.pw;
    std::fill(dx, dx + size, T(0));
    for (int64_t o = 0; o < count; ++o) {
        const int64_t at = argmax[o];
        if (at == size) continue;
        if (at < 0 || at > size) return false;
        dx[at] += dy[o];
    }
    return true;
}

// RoIAlign's sampling, as torchvision.ops.roi_align: for each bin, a grid of sample points at
// the centres of equal sub-cells, each read by bilinear interpolation (points more than one
// cell outside the map read 0; points within it clamp to the border), the bin the mean. `visit`
// gets (output index, plane offset, the four (index, weight) taps already divided by the count);
// forward and backward share it so they agree exactly.
template <typename T, typename Visit>
bool roi_align_taps(const RoiGeometry& g, const T* rois, Visit&& visit) {
    const T off = g.aligned ? T(0.5) : T(0);
    const T sc = static_cast<T>(g.scale);
    for (int64_t r = 0; r < g.k; ++r) {
        const T* roi = rois + 5 * r;
        const int64_t b = roi_batch(g, roi);
        if (b < 0) return false;
        const T x1 = roi[1] * sc - off, y1 = roi[2] * sc - off;
        T rw = roi[3] * sc - off - x1, rh = roi[4] * sc - off - y1;
        if (!g.aligned) rw = std::max(rw, T(1)), rh = std::max(rh, T(1));  // legacy: at least one cell
        const T bh = rh / static_cast<T>(g.ph), bw = rw / static_cast<T>(g.pw);
        const int64_t gh = g.sampling_ratio > 0 ? g.sampling_ratio : static_cast<int64_t>(std::ceil(rh / static_cast<T>(g.ph)));
        const int64_t gw = g.sampling_ratio > 0 ? g.sampling_ratio : static_cast<int64_t>(std::ceil(rw / static_cast<T>(g.pw)));
        const T count = static_cast<T>(std::max<int64_t>(gh * gw, 1));
        for (int64_t c = 0; c < g.c; ++c) {
            const int64_t plane = (b * g.c + c) * g.h * g.w;
            for (int64_t i = 0; i < g.ph; ++i)
                for (int64_t j = 0; j < g.pw; ++j) {
                    const int64_t o = ((r * g.c + c) * g.ph + i) * g.pw + j;
                    for (int64_t iy = 0; iy < gh; ++iy)
                        for (int64_t ix = 0; ix < gw; ++ix) {
                            T yy = y1 + static_cast<T>(i) * bh + (static_cast<T>(iy) + T(0.5)) * bh / static_cast<T>(gh);
                            T xx = x1 + static_cast<T>(j) * bw + (static_cast<T>(ix) + T(0.5)) * bw / static_cast<T>(gw);
                            if (yy < T(-1) || yy > static_cast<T>(g.h) || xx < T(-1) || xx > static_cast<T>(g.w)) continue;
                            yy = std::max(yy, T(0));
                            xx = std::max(xx, T(0));
                            int64_t y0 = static_cast<int64_t>(yy), x0 = static_cast<int64_t>(xx), yh = y0 + 1, xh = x0 + 1;
                            if (y0 >= g.h - 1) yh = y0 = g.h - 1, yy = static_cast<T>(y0);
                            if (x0 >= g.w - 1) xh = x0 = g.w - 1, xx = static_cast<T>(x0);
                            const T ly = yy - static_cast<T>(y0), lx = xx - static_cast<T>(x0), hy = T(1) - ly, hx = T(1) - lx;
                            const std::array<std::pair<int64_t, T>, 4> taps{
                                std::pair{y0 * g.w + x0, hy * hx / count}, std::pair{y0 * g.w + xh, hy * lx / count},
                                std::pair{yh * g.w + x0, ly * hx / count}, std::pair{yh * g.w + xh, ly * lx / count}};
                            visit(o, plane, taps);
                        }
                }
        }
    }
    return true;
}

template <typename T>
bool roi_align(const RoiGeometry& g, const T* x, const T* rois, T* y) {
    std::fill(y, y + g.k * g.c * g.ph * g.pw, T(0));
    return roi_align_taps<T>(g, rois, [&](int64_t o, int64_t plane, const auto& taps) {
        for (const auto& [at, wt] : taps) y[o] += wt * x[plane + at];
    });
}

// The adjoint: each output's gradient spread back over the taps it read.
template <typename T>
bool roi_align_backward(const RoiGeometry& g, const T* dy, const T* rois, T* dx) {
    std::fill(dx, dx + g.n * g.c * g.h * g.w, T(0));
    return roi_align_taps<T>(g, rois, [&](int64_t o, int64_t plane, const auto& taps) {
        for (const auto& [at, wt] : taps) dx[plane + at] += wt * dy[o];
    });
}

}  // namespace gg::reference
