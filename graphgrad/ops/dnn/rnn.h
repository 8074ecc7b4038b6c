// oneDNN 2.6 recurrent layers (f32): one layer of an Elman RNN (vanilla_rnn_*, tanh or relu),
// LSTM (lstm_*) or GRU (lbr_gru_*: PyTorch's GRU is oneDNN's linear-before-reset GRU),
// unidirectional or bidirectional_concat, forward_training and backward, with the meaning,
// argument structs and PyTorch parameter layouts of ops/reference/rnn.h.
//
//   gg::dnn::RnnForward fwd(ctx, geo);      // "compile time": primitive descriptors, reorders
//   gg::dnn::RnnBackward bwd(ctx, geo);
//   // workspace: fwd.workspace_bytes() (== bwd's), scratch: fwd.scratch_bytes(), bwd.scratch_bytes()
//   fwd.run({.x = x, .h0 = h0, .params = p, .y = y, .hn = hn, .workspace = ws}, scratch);
//   bwd.run({..., .workspace = ws, .dy = dy, .dhn = dhn, .dx = dx, .dh0 = dh0, .grads = g}, scratch);
//
// What the primitives want, and what each run converts (everything else is bound in place):
// - x [T, N, I] and y [T, N, D·H] are oneDNN's tnc; h0, hn, c0, cn [D, N, H] its ldnc (one layer).
// - Weights: PyTorch's [G·H, C] per direction is oneDNN's ldgoi for one direction. The forward
//   wants ldigo (with padded leading dimensions), the backward ldgoi (W_hh padded): every run
//   reorders the weights into scratch, except the backward's W_ih of a unidirectional RNN/LSTM,
//   which is bound as it is. The GRU's gate blocks are reordered one by one: oneDNN's u, r, o
//   are PyTorch's z, r, n.
// - Bias (mandatory on CPU) is ldgo: b_ih + b_hh per gate (a plain loop each run); the GRU's
//   has four gates [b_iz + b_hz, b_ir + b_hr, b_in, b_hn] (b_hn sits inside r ⊙ (...)).
// - The backward accumulates into its weight and bias gradients: each run zeroes them, then
//   reorders the ldigo weight gradients back to PyTorch's layout and splits the bias gradient.
// - The workspace (size from the primitive descriptor only; ~20× y for an LSTM) is written by
//   the forward and overwritten by the backward, which also reads x, h0, c0, y, hn and cn.
// - No per-sequence lengths: run() throws when given them (the reference kernel serves).
// - Optional states: h0/c0 nullptr read zeros, dhn/dcn nullptr are zeros, dh0/dc0 nullptr are
//   discarded (small regions of scratch). dy, dx and every weight gradient are required.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>

#include "graphgrad/ops/dnn/context.h"
#include "graphgrad/ops/reference/rnn.h"

namespace gg::dnn {

class WeightCopies;  // PyTorch weights ↔ the primitive's layout (rnn.cpp)

class RnnForward {
public:
    // Throws dnnl::error when oneDNN has no implementation (make_rnn_forward returns nullptr).
    // training = false: forward_inference, no workspace (workspace_bytes() 0, a.workspace unused).
    RnnForward(Context& ctx, const RnnGeometry& geo, bool training = true);
    ~RnnForward();
    std::size_t workspace_bytes() const { return workspace_bytes_; }
    std::size_t scratch_bytes() const { return scratch_bytes_; }
    // What each run converts, for reports: "weight_ih: 1 reorder, 266240 B; ...".
    std::string conversions() const;
    // a.workspace: workspace_bytes(); scratch: scratch_bytes(), 64-byte aligned.
    void run(const RnnForwardArgs<float>& a, void* scratch);

private:
    Context& ctx_;
    RnnGeometry geo_;
    dnnl::primitive prim_;
    std::unique_ptr<WeightCopies> w_layer_, w_iter_;
    dnnl::memory::desc bias_md_;
    std::size_t scratchpad_bytes_ = 0, workspace_bytes_ = 0, scratch_bytes_ = 0;
    std::size_t off_w_layer_ = 0, off_w_iter_ = 0, off_bias_ = 0, off_zeros_ = 0;
    std::unordered_map<int, dnnl::memory> args_;
};

class RnnBackward {
public:
    RnnBackward(Context& ctx, const RnnGeometry& geo);
    ~RnnBackward();
    std::size_t workspace_bytes() const { return workspace_bytes_; }
    std::size_t scratch_bytes() const { return scratch_bytes_; }
    std::string conversions() const;
    void run(const RnnBackwardArgs<float>& a, void* scratch);

private:
    Context& ctx_;
    RnnGeometry geo_;
    dnnl::primitive prim_;
    std::unique_ptr<WeightCopies> w_layer_, w_iter_, dw_layer_, dw_iter_;
    dnnl::memory::desc bias_md_, diff_bias_md_;
    std::size_t scratchpad_bytes_ = 0, workspace_bytes_ = 0, scratch_bytes_ = 0;
    std::size_t off_w_layer_ = 0, off_w_iter_ = 0, off_bias_ = 0, off_dw_layer_ = 0, off_dw_iter_ = 0,
                off_dbias_ = 0, off_states_ = 0;
    std::unordered_map<int, dnnl::memory> args_;
};

// nullptr when oneDNN declines the geometry (or it is empty): the reference kernel runs.
std::unique_ptr<RnnForward> make_rnn_forward(Context& ctx, const RnnGeometry& geo, bool training = true);
std::unique_ptr<RnnBackward> make_rnn_backward(Context& ctx, const RnnGeometry& geo);

}  // namespace gg::dnn
