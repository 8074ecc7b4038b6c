// Batched matrix multiplication on oneDNN (f32) with a reference kernel (f32, f64).
// a: [..., M, K], b: [..., K, N] → [..., M, N]; batch dims broadcast NumPy-style, and a 2-D
// b is shared by every batch (x·W). transpose_a / transpose_b read the operand transposed
// without materialising it (oneDNN strides).
//
//   auto y = gg::matmul(x, w, "fc1");
//   auto s = gg::matmul(q, k, false, true);   // q·kᵀ
#pragma once

#include <string>

#include "graphgrad/graph/node.h"

namespace gg {

Value matmul(Value a, Value b, const std::string& name = {});
Value matmul(Value a, Value b, bool transpose_a, bool transpose_b, const std::string& name = {});

}  // namespace gg
