// oneDNN batch normalisation (f32) for one node, forward (training: batch statistics and the
// running-statistics update; evaluation: running statistics) and backward (dx, dγ, dβ).
// Descriptors and primitives are made once in the kernel factory; run() only executes.
// Inputs and outputs are those of the "batch_norm" / "batch_norm_backward" ops
// (ops/normalization.cpp); the statistics are per channel of x [N, C, ...].
//
// Not registered as those ops' kernels yet: on plain NCHW, oneDNN 2.6 runs them 3–5× slower
// than the loops of ops/reference/batch_norm.h. They are for batch norm on oneDNN's blocked
// layouts (LayoutUse::Native, next to blocked convolutions); tests keep them equal to the loops.
//
//   auto k = gg::dnn::make_batch_norm_forward_kernel(ctx.resources, geo, eps, momentum, ctx.training);
#pragma once

#include <memory>

#include "graph/kernel.h"
#include "ops/reference/batch_norm.h"

namespace gg::dnn {

// Inputs (x, weight, bias, running_mean, running_var, num_batches_tracked i64 scalar);
// outputs (y, save_mean, save_invstd). In training the running statistics and the counter
// are updated in place. nullptr when oneDNN declines (the reference loops run).
std::unique_ptr<Kernel> make_batch_norm_forward_kernel(KernelResources& resources, const BatchNormGeometry& geo,
                                                       double eps, double momentum, bool training);

// Inputs (x, dy, weight, save_mean, save_invstd); outputs (dx, dweight, dbias). Training-mode
// formula only (the loops also handle evaluation programs: dx = γ·invstd·dy).
std::unique_ptr<Kernel> make_batch_norm_backward_kernel(KernelResources& resources, const BatchNormGeometry& geo,
                                                        double eps);

}  // namespace gg::dnn
