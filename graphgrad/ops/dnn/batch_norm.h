// oneDNN batch normalisation (f32) for one node, forward (training: batch statistics and the
// running-statistics update; evaluation: running statistics) and backward (dx, dγ, dβ).
// Descriptors, primitives and any reorders are made once in the kernel factory; run() only
// executes. Inputs and outputs are those of the "batch_norm" / "batch_norm_backward" ops
// (ops/normalization.cpp); the statistics are per channel of x [N, C, ...] and always plain.
//
// These are the ops' kernels when x (or dy) arrives in one of oneDNN's blocked layouts (e.g.
// nChw16c from a blocked convolution), where oneDNN's batch norm is fast. `data` is the
// layout the primitive runs on (the blocked input's): every data tensor (x, y, dy, dx) is
// held in it, compile() converting any that arrives or is needed in another layout. On plain
// NCHW oneDNN 2.6 runs 3–5× slower than the loops of ops/normalization_kernels.h, which serve
// there.
//
//   auto k = gg::dnn::make_batch_norm_forward_kernel(ctx.resources, geo, eps, momentum, ctx.training, blocked_md);
#pragma once

#include <memory>

#include <oneapi/dnnl/dnnl.hpp>

#include "graphgrad/graph/kernel.h"
#include "graphgrad/ops/reference/batch_norm.h"

namespace gg::dnn {

// Inputs (x, weight, bias, running_mean, running_var, num_batches_tracked i64 scalar);
// outputs (y, save_mean, save_invstd). In training the running statistics and the counter
// are updated in place. x and y are held in `data`. nullptr when oneDNN declines (the caller
// falls back to the loops).
// update_state false (a recomputation for the backward pass): the running statistics and the
// counter are left alone.
// relu: y = max(0, ·) fused into the primitive (fuse_norm_relu; its training workspace, the
// relu mask oneDNN's own backward would read, goes to scratch and is not kept).
std::unique_ptr<Kernel> make_batch_norm_forward_kernel(KernelResources& resources, const BatchNormGeometry& geo,
                                                       double eps, double momentum, bool training,
                                                       const dnnl::memory::desc& data, bool relu = false,
                                                       bool update_state = true);

// Inputs (x, dy, weight, save_mean, save_invstd); outputs (dx, dweight, dbias). batch_stats
// false (evaluation programs): mean and invstd are constants, dx = γ·invstd·dy, like the loops.
// x, dy and dx are held in `data`.
std::unique_ptr<Kernel> make_batch_norm_backward_kernel(KernelResources& resources, const BatchNormGeometry& geo,
                                                        double eps, bool batch_stats, const dnnl::memory::desc& data);

}  // namespace gg::dnn
