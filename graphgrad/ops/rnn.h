// Fused recurrent layers: ONE layer of an Elman RNN (tanh or relu), LSTM or GRU over a whole
// sequence as one node, and its backpropagation through time as one backward node reading the
// workspace the forward kept. f32 runs on oneDNN's RNN primitives; f64 and batches with
// per-sequence lengths run on plain loops (ops/reference/rnn.h says exactly what is computed).
// Layouts, gate orders and semantics are torch.nn.RNN/LSTM/GRU's (time-major):
//
//   auto out = gg::lstm(x, {.directions = {{w_ih, w_hh, b_ih, b_hh}}, .h0 = h0, .c0 = c0});
//   // x [T, N, I]; w_ih [4H, I], w_hh [4H, H], b_ih, b_hh [4H]; h0, c0 [D, N, H]
//   // out.y [T, N, D·H]; out.hn, out.cn [D, N, H]
//
// Stacked layers with named parameters, dropout between layers and the same names as the
// graph-code cells: models::recurrent(x, {.cell = ..., .fused = true}, "rnn").
// The backward node's results are not differentiable again (oneDNN's backward overwrites the
// workspace), and one forward node serves one backward node: differentiate it once.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "graphgrad/graph/node.h"
#include "graphgrad/ops/rnn_cell.h"

namespace gg {

// One direction's parameters, PyTorch's shapes: [G·H, I], [G·H, H], [G·H], [G·H].
struct RecurrentWeights {
    Value weight_ih, weight_hh, bias_ih, bias_hh;
};

struct RecurrentLayerInputs {
    std::vector<RecurrentWeights> directions;  // {forward} or {forward, reverse}
    std::optional<Value> h0, c0;               // [D, N, H]; absent: zeros. c0: LSTM only
    std::optional<Value> lengths;              // i64 [N], each in [0, T]: packed-sequence semantics
};

struct RecurrentLayerOutput {
    Value y;                // [T, N, D·H]: the forward direction in channels [0, H), the reverse in [H, 2H)
    Value hn;               // [D, N, H]: the state after each sequence's last step
    std::optional<Value> cn;  // LSTM
};

// activation: RnnCell::RnnTanh or RnnCell::RnnRelu.
RecurrentLayerOutput rnn(Value x, const RecurrentLayerInputs& in, RnnCell activation = RnnCell::RnnTanh,
                         const std::string& name = {});
RecurrentLayerOutput lstm(Value x, const RecurrentLayerInputs& in, const std::string& name = {});
RecurrentLayerOutput gru(Value x, const RecurrentLayerInputs& in, const std::string& name = {});
// Any cell.
RecurrentLayerOutput recurrent_layer(RnnCell cell, Value x, const RecurrentLayerInputs& in,
                                     const std::string& name = {});

}  // namespace gg
