// oneDNN convolutions (f32) for one node: forward, backward data and backward weights. The
// primitive descriptors and primitives are created once, in the kernel factory (compile
// time); run() binds the arena pointers and executes.
//
// Plain graph values are NCHW / OIHW (goihw when grouped). The primitive may instead run on
// oneDNN's preferred blocked layout (format_tag::any, e.g. nChw16c): the kernel then tells
// compile() the layouts it reads and writes (KernelContext::require_input_layout,
// set_output_layout) and compile() inserts the conversions as steps; the kernel never
// reorders. Which one runs is decided per convolution (conv_prefers_blocked) under
// LayoutPolicy::Auto; CompileOptions::layout_policy Plain or Opaque forces it, for
// measurements and tests.
//
//   gg::ConvGeometry geo = ...;  // see ops/reference/conv.h
//   auto k = gg::dnn::make_conv_kernel(ctx, geo, gg::dnn::ConvPass::Forward);   // in a kernel factory
#pragma once

#include <memory>
#include <string>

#include "graphgrad/graph/kernel.h"
#include "graphgrad/ops/reference/conv.h"

namespace gg::dnn {

// Kernel inputs and outputs per pass (the op's own order):
//   Forward          (x, w[, b])  → y     b when geo.bias
//   BackwardData     (dy, w[, b]) → dx    b (per input channel) when geo.bias: conv_transpose2d
//   BackwardWeights  (x, dy)      → dw
enum class ConvPass { Forward, BackwardData, BackwardWeights };

// The layout a convolution runs on (from CompileOptions::layout_policy).
enum class ConvLayout {
    Auto,     // conv_prefers_blocked() decides
    Plain,    // the primitive runs on NCHW/OIHW directly, no conversions
    Blocked,  // format_tag::any: the primitive's choice, converted to by compile()
};

// The Auto policy: whether running blocked with reorders beats running on plain layouts.
bool conv_prefers_blocked(const ConvGeometry& geo, ConvPass pass);

// The kernel of a graph node: inputs may arrive in a oneDNN layout (DnnLayout) chosen
// upstream, and output 0 takes the primitive's layout, so chains of convolutions never
// convert between them. nullptr when oneDNN has no implementation (or a dimension is 0): the
// reference loops then run. `ctx.training` picks forward_training over forward_inference.
std::unique_ptr<Kernel> make_conv_kernel(const KernelContext& ctx, const ConvGeometry& geo, ConvPass pass);

// y[p] += b[p % channels] over `planes` planes of `plane` floats: the per-channel bias of a
// [N, channels, ...] output, for kernels whose primitive adds none.
void add_channel_bias(const float* b, float* y, int64_t planes, int64_t channels, int64_t plane);

// What make_conv_kernel would run on plain inputs and a plain output, for reports: the oneDNN
// implementation (e.g. "brg:avx512_core") and which arguments compile() would convert
// ("reorders src weights"). Empty if none.
std::string describe_conv_kernel(const ConvGeometry& geo, ConvPass pass, bool training,
                                 ConvLayout layout = ConvLayout::Auto);

}  // namespace gg::dnn
