// Recurrent layers as graph code: Elman RNN (tanh or relu), LSTM and GRU, unrolled over the T
// steps of the sequence with public builders only. Backpropagation through time is plain
// autodiff through the unrolled graph. Semantics, gate orders, parameter names and shapes are
// torch.nn.RNN / LSTM / GRU's (time-major, batch_first=False), so state_dicts interchange:
//
//   gg::Graph g;
//   auto x = g.input("x", {T, N, 64});
//   auto out = gg::models::recurrent(x, {.cell = gg::RnnCell::Lstm, .hidden = 256, .layers = 2}, "lstm");
//   // out.y [T, N, 256]; out.final.h, out.final.c [2, N, 256]
//   // parameters "lstm.weight_ih_l0" [1024, 64], "lstm.weight_hh_l0" [1024, 256], "lstm.bias_ih_l0", ...
//
// Truncated BPTT: make the initial states inputs (recurrent_state_inputs), feed each chunk the
// previous chunk's fetched final states; the gradient stops at the chunk boundary.
//
// Per layer and direction, the input projection of all T steps is ONE matmul
// ([T·N, C] × [C, G·H]); each step then adds h·W_hhᵀ and applies the cell:
//   RNN   h' = f(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)
//   LSTM  i, f, g, o = σ, σ, tanh, σ of (x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) split in four;
//         c' = f ⊙ c + i ⊙ g;  h' = o ⊙ tanh(c')
//   GRU   r, z = σ of the first two gate blocks; n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn));
//         h' = (1 − z) ⊙ n + z ⊙ h
// The reverse direction (bidirectional) reads the sequence from its end; its outputs fill
// channels [H, 2H) of y. Lengths (i64 [N]) mask like PyTorch's packed sequences: past
// lengths[n] a sequence's state stops updating and its outputs are zero.
#pragma once

#include <optional>
#include <string>

#include "graphgrad/graph/graph.h"
#include "graphgrad/models/attention_layers.h"  // ParamSource
#include "graphgrad/ops/rnn_cell.h"

namespace gg::models {

struct RecurrentOptions {
    RnnCell cell = RnnCell::Lstm;
    int64_t hidden = 0;          // H
    int64_t layers = 1;
    bool bidirectional = false;
    bool bias = true;            // b_ih and b_hh per layer and direction
    double dropout = 0.0;        // on every layer's output except the last, training programs only
    ParamSource params = {};     // empty: parameters in x's graph (see attention_layers.h)
    // Gradient checkpointing over time (graph/checkpoint.h): the T steps of each layer and
    // direction split into this many runs of about T/k steps; every run but the last is a
    // checkpoint region keeping only its final h (and c), its activations recomputed in the
    // backward pass. √T segments keep O(√T) step activations for one extra forward.
    int64_t checkpoint_segments = 1;
    // The input projection in this many matmuls over consecutive runs of steps instead of one
    // [T·N, C] × [C, G·H] (with checkpoint_segments = the same k, each run's projection lies in
    // its segment and is recomputed with it): memory for the projection of T/k steps, not T.
    int64_t projection_chunks = 1;
    // One fused op per layer (ops/rnn.h: oneDNN in f32) instead of the unrolled graph code:
    // the same parameters (names, shapes, init), the same results, one node and one workspace
    // per layer. Its backward is not differentiable again (no second order).
    bool fused = false;
};

// States in PyTorch's layout: [layers·D, N, H], entry l·D + d for layer l, direction d.
// Absent initial states are zeros; c is the LSTM's cell state (absent for RNN and GRU).
struct RecurrentState {
    std::optional<Value> h, c;
};

struct RecurrentOutput {
    Value y;               // [T, N, D·H]: the last layer's outputs at every step
    RecurrentState final;  // h_n (and c_n): the states after each sequence's last step
};

// x [T, N, I] (f32 or f64); lengths i64 [N] with values in [0, T], optional.
// Parameters "<name>.weight_ih_l{k}[_reverse]" [G·H, C], "weight_hh_l{k}" [G·H, H],
// "bias_ih_l{k}", "bias_hh_l{k}" [G·H], initialised U(−1/√H, 1/√H) like PyTorch (G = 1, 4, 3).
RecurrentOutput recurrent(Value x, const RecurrentOptions& o, const std::string& name,
                          const RecurrentState& initial = {}, std::optional<Value> lengths = {});

// Inputs "<name>.h0" (and "<name>.c0" for the LSTM) of shape [layers·D, batch, H]: the initial
// states a truncated-BPTT loop feeds with the previous chunk's final states.
RecurrentState recurrent_state_inputs(Graph& g, const RecurrentOptions& o, int64_t batch, const std::string& name,
                                      DType dtype = DType::F32);

}  // namespace gg::models
