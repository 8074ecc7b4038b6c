#include "graphgrad/ops/rnn_cell.h"

namespace gg {

const char* rnn_cell_name(RnnCell cell) {
    switch (cell) {
        case RnnCell::RnnTanh: return "rnn_tanh";
        case RnnCell::RnnRelu: return "rnn_relu";
        case RnnCell::Lstm: return "lstm";
        case RnnCell::Gru: return "gru";
    }
    return "?";
}

int64_t rnn_gate_count(RnnCell cell) {
    switch (cell) {
        case RnnCell::Lstm: return 4;
        case RnnCell::Gru: return 3;
        default: return 1;
    }
}

}  // namespace gg
