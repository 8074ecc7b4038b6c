// Activations: relu, leaky_relu, gelu (tanh approximation, as in BERT/GPT-2).
//
//   auto h = gg::gelu(gg::matmul(x, w));
#pragma once

#include "graphgrad/graph/node.h"

namespace gg {

Value relu(Value x);
Value leaky_relu(Value x, double negative_slope = 0.01);
Value gelu(Value x);
// relu's input gradient from its output y: dy · [y > 0] (what relu's gradient rule emits).
Value relu_backward(Value dy, Value y);  // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))

}  // namespace gg
