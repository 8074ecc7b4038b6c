// The meaning of 2-D convolution: plain loops over a ConvGeometry, templated on float/double.
// Used for f64 (oneDNN has no f64 on CPU), for gradcheck, and as the oracle the oneDNN kernels
// are tested against. The geometry is shared with ops/dnn/conv so both read tensors the same
// way: x [N, C, H, W], w [O, C/groups, kh, kw] (goihw when grouped), y [N, O, oh, ow].
//
//   gg::ConvGeometry geo = ...;                       // built and validated by ops/conv.cpp
//   gg::reference::conv2d_forward(geo, x, w, b, y);   // b may be nullptr
//   gg::reference::conv2d_backward_data(geo, dy, w, dx);
//   gg::reference::conv2d_backward_weights(geo, x, dy, dw);
#pragma once

#include <algorithm>
#include <cstdint>

#include "graphgrad/graph/tensor_desc.h"
#include "graphgrad/ops/kernels/kernel_util.h"

namespace gg {

// One convolution, PyTorch conventions: dilation 1 is dense, padding per side. The shape rules
// guarantee consistency (oh, ow match the formula; C and O divide by groups).
struct ConvGeometry {
    int64_t n = 0, c = 0, h = 0, w = 0;  // input x
    int64_t o = 0, kh = 0, kw = 0;       // weight [O, C/groups, kh, kw]
    int64_t oh = 0, ow = 0;              // output y [N, O, oh, ow]
    int64_t groups = 1;
    int64_t stride_h = 1, stride_w = 1;
    int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
    int64_t dil_h = 1, dil_w = 1;
    bool bias = false;  // forward: y += b[o]; backward data (conv_transpose2d): dx += b[c]

    int64_t cg() const { return c / groups; }  // input channels per group
    int64_t og() const { return o / groups; }  // output channels per group
    Shape x_shape() const { return {n, c, h, w}; }
    Shape w_shape() const { return {o, cg(), kh, kw}; }
    Shape y_shape() const { return {n, o, oh, ow}; }
    // Multiply-adds × 2 of one forward pass (backward data and weights cost the same).
    double flops() const {
        return 2.0 * static_cast<double>(n * o * oh * ow) * static_cast<double>(cg() * kh * kw);
    }
};

namespace reference {

// y[n,o,i,j] = b[o] + Σ_{c∈group(o), p, q} x[n, c, i·sh − pt + p·dh, j·sw − pl + q·dw] · w[o, c, p, q]
// Accumulates in double for both element types: the oracle should be the most exact party.
template <typename T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* b, T* y) {
    const int64_t hw = g.oh * g.ow;
    parallel_range(
        g.n * g.o,
        [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                const int64_t ni = r / g.o, oc = r % g.o, c0 = (oc / g.og()) * g.cg();
                for (int64_t i = 0; i < g.oh; ++i)
                    for (int64_t j = 0; j < g.ow; ++j) {
                        double acc = b ? static_cast<double>(b[oc]) : 0.0;
                        for (int64_t c = 0; c < g.cg(); ++c) {
                            const T* xc = x + ((ni * g.c) + c0 + c) * g.h * g.w;
                            const T* wc = w + (oc * g.cg() + c) * g.kh * g.kw;
                            for (int64_t p = 0; p < g.kh; ++p) {
                                const int64_t ih = i * g.stride_h - g.pad_top + p * g.dil_h;
                                if (ih < 0 || ih >= g.h) continue;
                                for (int64_t q = 0; q < g.kw; ++q) {
                                    const int64_t iw = j * g.stride_w - g.pad_left + q * g.dil_w;
                                    if (iw < 0 || iw >= g.w) continue;
                                    acc += static_cast<double>(xc[ih * g.w + iw]) * static_cast<double>(wc[p * g.kw + q]);
                                }
                            }
                        }
                        y[r * hw + i * g.ow + j] = static_cast<T>(acc);
                    }
            }
        },
        grain_for(g.oh * g.ow * g.cg() * g.kh * g.kw));
}

// The adjoint of forward in x (and conv_transpose2d's meaning): every input pixel gathers the
// outputs whose window covered it, dx[n,c,ih,iw] = Σ_{o∈group(c), p, q: ih = i·sh − pt + p·dh}
// dy[n,o,i,j] · w[o,c,p,q]. Gathering (not scattering) writes each element once, in parallel.
template <typename T>
void conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w, const T* bias, T* dx) {
    parallel_range(
        g.n * g.c,
        [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                const int64_t ni = r / g.c, ci = r % g.c, grp = ci / g.cg(), cl = ci % g.cg();
                for (int64_t ih = 0; ih < g.h; ++ih)
                    for (int64_t iw = 0; iw < g.w; ++iw) {
                        double acc = bias ? static_cast<double>(bias[ci]) : 0.0;
                        for (int64_t p = 0; p < g.kh; ++p) {
                            const int64_t ti = ih + g.pad_top - p * g.dil_h;
                            if (ti < 0 || ti % g.stride_h != 0 || ti / g.stride_h >= g.oh) continue;
                            for (int64_t q = 0; q < g.kw; ++q) {
                                const int64_t tj = iw + g.pad_left - q * g.dil_w;
                                if (tj < 0 || tj % g.stride_w != 0 || tj / g.stride_w >= g.ow) continue;
                                const int64_t i = ti / g.stride_h, j = tj / g.stride_w;
                                for (int64_t ol = 0; ol < g.og(); ++ol) {
                                    const int64_t oc = grp * g.og() + ol;
                                    acc += static_cast<double>(dy[((ni * g.o + oc) * g.oh + i) * g.ow + j]) *
                                           static_cast<double>(w[((oc * g.cg() + cl) * g.kh + p) * g.kw + q]);
                                }
                            }
                        }
                        dx[(r * g.h + ih) * g.w + iw] = static_cast<T>(acc);
                    }
            }
        },
        grain_for(g.h * g.w * g.og() * g.kh * g.kw));
}

// The adjoint of forward in w: dw[o,c,p,q] = Σ_{n,i,j} dy[n,o,i,j] · x[n, c, i·sh − pt + p·dh, j·sw − pl + q·dw]
template <typename T>
void conv2d_backward_weights(const ConvGeometry& g, const T* x, const T* dy, T* dw) {
    parallel_range(
        g.o * g.cg(),
        [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                const int64_t oc = r / g.cg(), cl = r % g.cg(), ci = (oc / g.og()) * g.cg() + cl;
                for (int64_t p = 0; p < g.kh; ++p)
                    for (int64_t q = 0; q < g.kw; ++q) {
                        double acc = 0;
                        for (int64_t ni = 0; ni < g.n; ++ni) {
                            const T* xc = x + (ni * g.c + ci) * g.h * g.w;
                            const T* dyo = dy + (ni * g.o + oc) * g.oh * g.ow;
                            for (int64_t i = 0; i < g.oh; ++i) {
                                const int64_t ih = i * g.stride_h - g.pad_top + p * g.dil_h;
                                if (ih < 0 || ih >= g.h) continue;
                                for (int64_t j = 0; j < g.ow; ++j) {
                                    const int64_t iw = j * g.stride_w - g.pad_left + q * g.dil_w;
                                    if (iw < 0 || iw >= g.w) continue;
                                    acc += static_cast<double>(dyo[i * g.ow + j]) * static_cast<double>(xc[ih * g.w + iw]);
                                }
                            }
                        }
                        dw[(r * g.kh + p) * g.kw + q] = static_cast<T>(acc);
                    }
            }
        },
        grain_for(g.n * g.oh * g.ow * g.kh * g.kw));
}

}  // namespace reference
}  // namespace gg
