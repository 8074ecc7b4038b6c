// Activations: relu, leaky_relu, gelu (exact erf form by default, as PyTorch's nn.GELU; the
// tanh approximation of BERT and GPT-2 on request), silu (x·σ(x), EfficientNet's Swish-1).
//
//   auto h = gg::gelu(gg::matmul(x, w));                                  // x·Φ(x)
//   auto s = gg::silu(gg::conv2d(x, w));                                  // x·σ(x)
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
// SiLU / Swish-1 (PyTorch's nn.SiLU): x·σ(x). One op, so training keeps only x for backward
// (the composite x * sigmoid(x) would keep x and σ(x)).
Value silu(Value x);
// silu's input gradient: dy · σ(x)·(1 + x·(1 − σ(x))) (what silu's gradient rule emits).
Value silu_backward(Value dy, Value x);
// relu's input gradient from its output y: dy · [not y ≤ 0] (what relu's gradient rule emits).
Value relu_backward(Value dy, Value y);

}  // namespace gg
