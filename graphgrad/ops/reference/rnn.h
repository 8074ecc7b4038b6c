// The meaning of the fused recurrent ops (rnn, lstm, gru): ONE layer, unidirectional or
// bidirectional, time-major, with PyTorch's semantics, gate orders and parameter layouts.
// Plain loops for float and double: the oracle the oneDNN kernels (ops/dnn/rnn.h) and the
// graph-code cells (models/recurrent.h) are tested against, and the kernel for f64 and for
// variable-length batches (which oneDNN's primitives cannot express).
//
//   gg::RnnGeometry geo{.cell = gg::RnnCell::Lstm, .seq = T, .batch = N, .input = I, .hidden = H};
//   std::vector<double> ws(gg::reference::rnn_workspace_bytes(geo, gg::DType::F64) / sizeof(double));
//   gg::reference::rnn_forward<double>(geo, {.x = x, .params = p, .y = y, .hn = hn, .cn = cn, .workspace = ws.data()});
//   gg::reference::rnn_backward<double>(geo, {.x = x, ..., .workspace = ws.data(), .dy = dy, .dx = dx, ...});
//
// Cells (W_ih: [G·H, I], W_hh: [G·H, H], b_ih, b_hh: [G·H]; gate blocks of H rows in order):
//   RnnTanh/RnnRelu  h' = f(W_ih x + b_ih + W_hh h + b_hh)                           G = 1
//   Lstm   gates i, f, g, o:  c' = σ(f)⊙c + σ(i)⊙tanh(g),  h' = σ(o)⊙tanh(c')          G = 4
//   Gru    gates r, z, n:  r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise,
//          n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn)),  h' = (1 − z)⊙n + z⊙h          G = 3
// Shapes: x [T, N, I]; y [T, N, D·H] (forward direction in channels [0, H), reverse in [H, 2H));
// h0, hn, c0, cn [D, N, H]. The reverse direction reads the sequence from its end.
// lengths (i64 [N], optional): sequence n has lengths[n] ∈ [0, T] valid steps; past them its
// state stops updating (hn is the state after its last valid step), its outputs are zero and
// its inputs are ignored, and the reverse direction starts at step lengths[n] − 1 — PyTorch's
// packed sequences.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "graphgrad/graph/tensor_desc.h"
#include "graphgrad/ops/rnn_cell.h"

namespace gg {

struct RnnGeometry {
    RnnCell cell = RnnCell::Lstm;
    int64_t seq = 0, batch = 0, input = 0, hidden = 0;  // T, N, I, H
    bool bidirectional = false;

    int64_t directions() const { return bidirectional ? 2 : 1; }
    int64_t gates() const { return rnn_gate_count(cell); }
    bool has_cell_state() const { return cell == RnnCell::Lstm; }
    Shape x_shape() const { return {seq, batch, input}; }
    Shape y_shape() const { return {seq, batch, directions() * hidden}; }
    Shape state_shape() const { return {directions(), batch, hidden}; }  // h0, hn, c0, cn
    Shape weight_ih_shape() const { return {gates() * hidden, input}; }
    Shape weight_hh_shape() const { return {gates() * hidden, hidden}; }
    Shape bias_shape() const { return {gates() * hidden}; }
};

// One direction's parameters per entry ([0] forward, [1] reverse), PyTorch layouts.
template <typename T>
struct RnnParams {
    std::array<const T*, 2> weight_ih{}, weight_hh{}, bias_ih{}, bias_hh{};
};
template <typename T>
struct RnnParamGrads {
    std::array<T*, 2> weight_ih{}, weight_hh{}, bias_ih{}, bias_hh{};
};

template <typename T>
struct RnnForwardArgs {
    const T* x = nullptr;
    const T* h0 = nullptr;  // nullptr: zeros
    const T* c0 = nullptr;  // LSTM; nullptr: zeros
    RnnParams<T> params;
    const int64_t* lengths = nullptr;  // nullptr: every sequence has T steps
    T* y = nullptr;
    T* hn = nullptr;
    T* cn = nullptr;  // LSTM
    void* workspace = nullptr;  // rnn_workspace_bytes(); what the backward reads
};

// The forward's inputs and outputs, its workspace (which the backward overwrites, like
// oneDNN's), the gradients of the outputs (nullptr: zeros) and the gradients to compute.
// Every gradient output is overwritten, not accumulated; dh0/dc0 may be nullptr (not wanted).
template <typename T>
struct RnnBackwardArgs {
    const T* x = nullptr;
    const T* h0 = nullptr;
    const T* c0 = nullptr;
    RnnParams<T> params;
    const int64_t* lengths = nullptr;
    const T* y = nullptr;   // the forward's outputs: oneDNN's backward reads them (the
    const T* hn = nullptr;  // reference takes what it needs from the workspace)
    const T* cn = nullptr;
    void* workspace = nullptr;
    const T* dy = nullptr;
    const T* dhn = nullptr;
    const T* dcn = nullptr;
    T* dx = nullptr;
    T* dh0 = nullptr;
    T* dc0 = nullptr;
    RnnParamGrads<T> grads;
};

namespace reference {

// Bytes of the reference workspace for a dtype (F32 or F64): per direction the activated
// gates of every step, the states before and after every step (and the LSTM cell states,
// the GRU's W_hn h + b_hn), and the running state gradients of the backward.
std::size_t rnn_workspace_bytes(const RnnGeometry& geo, DType dtype);

// Throws RuntimeError naming `who` when a length is outside [0, T].
void check_rnn_lengths(const RnnGeometry& geo, const int64_t* lengths, std::string_view who);

// Full forward (writes y, hn, cn and the workspace). Checks lengths.
template <typename T>
void rnn_forward(const RnnGeometry& geo, const RnnForwardArgs<T>& a);

// Full backpropagation through time over the forward's workspace (which it overwrites).
template <typename T>
void rnn_backward(const RnnGeometry& geo, const RnnBackwardArgs<T>& a);

extern template void rnn_forward<float>(const RnnGeometry&, const RnnForwardArgs<float>&);
extern template void rnn_forward<double>(const RnnGeometry&, const RnnForwardArgs<double>&);
extern template void rnn_backward<float>(const RnnGeometry&, const RnnBackwardArgs<float>&);
extern template void rnn_backward<double>(const RnnGeometry&, const RnnBackwardArgs<double>&);

}  // namespace reference
}  // namespace gg
