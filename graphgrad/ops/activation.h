// Activations: relu, leaky_relu, gelu (exact erf form by default, as PyTorch's nn.GELU; the
// tanh approximation of BERT and GPT-2 on request).
//
//   auto h = gg::gelu(gg::matmul(x, w));                                  // x·Φ(x)
//   auto t = gg::gelu(gg::matmul(x, w), gg::GeluApproximation::Tanh);    // GPT-2's form
#pragma once

#include "graphgrad/graph/node.h"

namespace gg {

Value relu(Value x);
Value leaky_relu(Value x, double negative_slope = 0.01);
// PyTorch's approximate="none" | "tanh".
enum class GeluApproximation { None, Tanh };
// None: x·Φ(x) = 0.5·x·(1 + erf(x/√2)); Tanh: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
Value gelu(Value x, GeluApproximation approximate = GeluApproximation::None);
// relu's input gradient from its output y: dy · [not y ≤ 0] (what relu's gradient rule emits).
Value relu_backward(Value dy, Value y);

}  // namespace gg
