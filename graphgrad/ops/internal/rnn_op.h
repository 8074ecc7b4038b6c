// Private to the fused recurrent ops (ops/rnn.cpp, rnn_kernels.cpp, rnn_samples.cpp, tests):
// the node attributes of rnn/lstm/gru and their backward ops, where each input and output
// sits, the geometry a node describes, the workspace formats and the multiply-add count.
//
//   gg::RnnOpAttrs a{.cell = gg::RnnCell::Lstm, .bidirectional = true, .has_h0 = true};
//   gg::RnnSlots s(a);   // s.forward_inputs == 11, s.h0 == 9, s.workspace == 3, s.dh0 == 9
#pragma once

#include <span>
#include <string>
#include <vector>

#include "graphgrad/graph/op_def.h"
#include "graphgrad/ops/reference/rnn.h"

namespace gg {

// One node's attributes (forward and backward alike). The optional inputs are there or not.
struct RnnOpAttrs {
    RnnCell cell = RnnCell::Lstm;
    bool bidirectional = false;
    bool has_h0 = false, has_c0 = false, has_lengths = false;

    int64_t directions() const { return bidirectional ? 2 : 1; }
    bool lstm() const { return cell == RnnCell::Lstm; }
};

// Positions. Forward inputs: x, per direction (weight_ih, weight_hh, bias_ih, bias_hh), [h0],
// [c0], [lengths]; outputs: y, hn, [cn], workspace (output 2 of rnn/gru, 3 of lstm). Backward
// inputs: the workspace (first: an op declares its workspace input at one position), the
// forward's inputs, y, hn, [cn], dy, dhn, [dcn]; outputs: dx, per direction (d weight_ih,
// d weight_hh, d bias_ih, d bias_hh), [dh0], [dc0]. -1: absent.
struct RnnSlots {
    explicit RnnSlots(const RnnOpAttrs& a);

    static constexpr int x = 0;
    static int weight(int64_t d, int k) { return 1 + 4 * static_cast<int>(d) + k; }  // k: ih, hh, b_ih, b_hh
    int h0 = -1, c0 = -1, lengths = -1, forward_inputs = 0;
    static constexpr int y = 0, hn = 1;
    int cn = -1, workspace = 0, forward_outputs = 0;
    // Backward inputs: the forward's input i sits at forward_input(i).
    static constexpr int saved_workspace = 0;
    static int forward_input(int i) { return i < 0 ? -1 : i + 1; }
    int saved_y = 0, saved_hn = 0, saved_cn = -1, dy = 0, dhn = 0, dcn = -1, backward_inputs = 0;
    static constexpr int dx = 0;
    static int dweight(int64_t d, int k) { return 1 + 4 * static_cast<int>(d) + k; }
    int dh0 = -1, dc0 = -1, backward_outputs = 0;
};

// "rnn", "lstm", "gru" for the cell (both Elman activations are "rnn").
const char* rnn_op_name(RnnCell cell);
std::string rnn_backward_op_name(RnnCell cell);

// The geometry of a node from its input descriptors (validated by the shape rule).
RnnGeometry rnn_geometry(const RnnOpAttrs& a, std::span<const TensorDesc> inputs);

// Checks the forward inputs (ranks, dtypes, every shape; `inputs` holds them first, then
// `extra` more) and returns the geometry; throws ShapeError naming the offending input.
RnnGeometry check_rnn_inputs(const RnnOpAttrs& a, std::span<const TensorDesc> inputs, std::string_view op,
                             int extra);

// Workspace formats: a backward kernel runs only on the format its forward wrote.
std::string dnn_rnn_workspace_format(const RnnGeometry& g);
std::string reference_rnn_workspace_format(const RnnGeometry& g, DType dtype);

// Multiply-adds of one layer's forward (input and recurrent projections of every step and
// direction) and of its backward (twice that: data and weight gradients).
int64_t rnn_forward_macs(const RnnGeometry& g);
inline int64_t rnn_backward_macs(const RnnGeometry& g) { return 2 * rnn_forward_macs(g); }

// Kernel factories (rnn_kernels.cpp).
std::unique_ptr<Kernel> rnn_forward_fast(const KernelContext& c);
std::unique_ptr<Kernel> rnn_forward_reference(const KernelContext& c);
std::unique_ptr<Kernel> rnn_backward_fast(const KernelContext& c);
std::unique_ptr<Kernel> rnn_backward_reference(const KernelContext& c);

// Samples (rnn_samples.cpp): every cell, one and two directions, with and without initial
// states, with lengths; the backward's come from a forward node (OpSample::producer).
std::vector<OpSample> rnn_forward_samples(RnnCell cell);
std::vector<OpSample> rnn_backward_samples(RnnCell cell);
std::vector<ErrorSample> rnn_forward_error_samples(RnnCell cell);
std::vector<ErrorSample> rnn_backward_error_samples(RnnCell cell);

}  // namespace gg
