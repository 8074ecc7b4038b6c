// Large-window convolutions (f32, plain NCHW / OIHW) as GEMMs over a width-only unfolding.
//
// oneDNN 2.6 has direct JIT kernels only for modest windows: for the lambda convolution's
// 23x23 window (LambdaNetworks, r = 23) it falls back to im2col + GEMM, which copies every
// pixel kh·kw = 529 times and runs the backward passes at 10-20x below its own forward
// kernel (N128 C4->O16 32x32: forward 16 ms, backward data 124 ms, backward weights 368 ms).
// Here each image is unfolded along the width only ("rows": R[y][X][c][j] = x[c][y][X·sw +
// j·dw − pl], kw copies per pixel, a few hundred KiB that stay in cache) and every kernel row
// i is one GEMM over the output rows it reaches, so rows of vertical padding cost nothing:
//   forward          y[:, Y0..Y1]  += W_i · R[Y0+i−pt .. Y1+i−pt]ᵀ
//   backward data    dR[rows]      += dy[:, Y0..Y1]ᵀ · W_i, then dR is folded back into dx
//   backward weights dW_i          += dy[:, Y0..Y1] · R[rows]
// where W_i[o][(c, j)] = w[o][c][i][j]. Images are spread over the threads; each GEMM runs on
// one thread (oneDNN's sgemm does not nest).
//
//   if (gg::dnn::rows_conv_supported(geo)) kernel = gg::dnn::make_rows_conv_kernel(geo, pass);
#pragma once

#include <memory>

#include "graphgrad/graph/kernel.h"
#include "graphgrad/ops/dnn/conv.h"

namespace gg::dnn {

// groups == 1, vertical stride and dilation 1 (the GEMM walks output rows contiguously);
// horizontal stride and dilation are free.
bool rows_conv_supported(const ConvGeometry& geo);

// Whether the rows kernel should replace oneDNN's plan `impl` (its implementation string) for
// this convolution: only when oneDNN has no direct kernel (gemm or ref) and the window is
// large enough for im2col to dominate. See the measurements in conv_rows.cpp.
bool rows_conv_preferred(const ConvGeometry& geo, const std::string& impl);

// Kernel inputs and outputs as in ConvPass (ops/dnn/conv.h), all plain.
std::unique_ptr<Kernel> make_rows_conv_kernel(const ConvGeometry& geo, ConvPass pass);

}  // namespace gg::dnn
