// The recurrent cell kinds shared by the graph-code layers (models/recurrent.h), the fused
// recurrent ops and their kernels: Elman RNN with tanh or relu, LSTM and GRU, with PyTorch's
// gate orders (LSTM i, f, g, o; GRU r, z, n).
//
//   gg::RnnCell c = gg::RnnCell::Lstm;
//   gg::rnn_gate_count(c);   // 4: weight_ih is [4·H, I]
//   gg::rnn_cell_name(c);    // "lstm"
#pragma once

#include <cstdint>

namespace gg {

enum class RnnCell : uint8_t { RnnTanh, RnnRelu, Lstm, Gru };

const char* rnn_cell_name(RnnCell cell);  // "rnn_tanh", "rnn_relu", "lstm", "gru"
int64_t rnn_gate_count(RnnCell cell);     // G: 1, 1, 4, 3

}  // namespace gg
