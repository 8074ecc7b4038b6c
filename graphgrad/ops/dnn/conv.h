// oneDNN convolutions (f32) for one node: forward, backward data and backward weights. The
// primitive descriptors, primitives and any layout reorders are created once, in the kernel
// factory (compile time); run() binds the arena pointers, reorders, executes.
//
// Graph values are plain NCHW / OIHW (goihw when grouped). The primitive may instead run on
// oneDNN's preferred blocked layout (format_tag::any, e.g. nChw16c): the kernel then reorders
// inputs in and outputs out through buffers in its scratch memory (planned in the arena).
// Which one runs is decided per convolution (conv_prefers_blocked); GG_CONV_LAYOUT=plain or
// =blocked overrides the choice for measurements and tests.
//
//   gg::ConvGeometry geo = ...;  // see ops/reference/conv.h
//   auto k = gg::dnn::make_conv_kernel(ctx.resources, geo, gg::dnn::ConvPass::Forward, ctx.training);
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

enum class ConvLayout {
    Auto,     // conv_prefers_blocked() decides
    Plain,    // the primitive runs on NCHW/OIHW directly, no reorders
    Blocked,  // format_tag::any: the primitive's choice, reordered inside the kernel
};

// GG_CONV_LAYOUT from the environment (plain | blocked | auto; unset or other = auto).
ConvLayout conv_layout_from_env();

// The Auto policy: whether running blocked with reorders beats running on plain layouts.
bool conv_prefers_blocked(const ConvGeometry& geo, ConvPass pass);

// nullptr when oneDNN has no implementation (or a dimension is 0): the executor then runs the
// reference kernel. `training` picks forward_training over forward_inference (Forward only).
// The engine and stream come from the program's gg::dnn::Context in `resources`.
std::unique_ptr<Kernel> make_conv_kernel(KernelResources& resources, const ConvGeometry& geo, ConvPass pass,
                                         bool training, ConvLayout layout = conv_layout_from_env());

// The kernel of a graph node: inputs may arrive in a oneDNN layout (DnnLayout) chosen
// upstream, and when the context allows, output 0 takes the primitive's layout (set in
// *ctx.output_layouts), so chains of convolutions never reorder between them.
std::unique_ptr<Kernel> make_conv_kernel(const KernelContext& ctx, const ConvGeometry& geo, ConvPass pass,
                                         ConvLayout layout = conv_layout_from_env());

// y[p] += b[p % channels] over `planes` planes of `plane` floats: the per-channel bias of a
// [N, channels, ...] output, for kernels whose primitive adds none.
void add_channel_bias(const float* b, float* y, int64_t planes, int64_t channels, int64_t plane);

// What make_conv_kernel would run, for reports: the oneDNN implementation (e.g.
// "brg:avx512_core"), whether reorders happen, and the scratch bytes. Empty if none.
std::string describe_conv_kernel(const ConvGeometry& geo, ConvPass pass, bool training,
                                 ConvLayout layout = conv_layout_from_env());

}  // namespace gg::dnn
