// Activations: relu, leaky_relu, gelu (tanh approximation, as in BERT/GPT-2).
//
//   auto h = gg::gelu(gg::matmul(x, w));
#pragma once

#include "graph/node.h"

namespace gg {

Value relu(Value x);
Value leaky_relu(Value x, double negative_slope = 0.01);
Value gelu(Value x);  // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))

}  // namespace gg
