// oneDNN average pooling (f32, plain NCHW) forward and backward for one node: primitive
// descriptors and primitives are made once in the kernel factory; run() only executes.
// Max pooling stays on the plain loops of ops/reference/pooling.h because its second output
// is an explicit argmax tensor that oneDNN's opaque workspace cannot provide.
//
//   auto k = gg::dnn::make_avg_pool_kernel(ctx.resources, geo, /*include_pad=*/true, /*backward=*/false);
#pragma once

#include <memory>

#include "graphgrad/graph/kernel.h"
#include "graphgrad/ops/reference/pooling.h"

namespace gg::dnn {

// Forward: input x → y. Backward: input dy → dx. nullptr when oneDNN declines the geometry
// (the executor then runs the reference loops).
std::unique_ptr<Kernel> make_avg_pool_kernel(KernelResources& resources, const Pool2dGeometry& geo, bool include_pad,
                                             bool backward);

}  // namespace gg::dnn
