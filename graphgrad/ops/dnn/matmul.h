// oneDNN matmul (f32) for one node: the primitive descriptor and primitive are created once,
// in the kernel factory (compile time); run() only binds the arena pointers and executes.
// Transposed operands are described with strides (nothing is materialised), broadcast batch
// dims as size 1, and x·W with a 2-D W and a contiguous batched x becomes one [B·M, K] GEMM.
//
//   auto geo = gg::matmul_geometry(a.shape, b.shape, false, false);
//   auto kernel = gg::dnn::make_matmul_kernel(ctx.resources, geo);
#pragma once

#include <memory>

#include "graphgrad/graph/kernel.h"
#include "graphgrad/ops/reference/matmul.h"

namespace gg::dnn {

// nullptr when oneDNN has no implementation for the geometry (or it is empty): the executor
// then falls back to the reference kernel, which is always correct.
// The engine and stream come from the program's gg::dnn::Context in `resources`.
std::unique_ptr<Kernel> make_matmul_kernel(KernelResources& resources, const MatmulGeometry& geo);

}  // namespace gg::dnn
