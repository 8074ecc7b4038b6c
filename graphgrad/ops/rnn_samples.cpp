// Samples and error samples of the fused recurrent ops (ops/rnn.cpp): every cell (both Elman
// activations), one and two directions, with and without initial states, per-sequence lengths
// (one of them 0), T = 1 and N = 1. Weights and states are given values in ±0.8 so the gates
// sit in their sensitive range (uniform [−2, 2] weights saturate a cell and make a gradient
// check of it vacuous). The backward ops' samples get the workspace, y, hn and cn from a
// forward node (OpSample::producer): a workspace cannot be given as data.
#include <fmt/format.h>

#include "graphgrad/graph/rng.h"
#include "graphgrad/graph/workspace.h"
#include "graphgrad/ops/internal/rnn_op.h"

namespace gg {

namespace {

struct Case {
    std::string label;
    int64_t T, N, I, H;
    bool bidirectional, states;
    std::vector<int64_t> lengths;  // empty: none
};

std::vector<Case> cases() {
    return {
        {"T3 N2 I3 H2", 3, 2, 3, 2, false, false, {}},
        {"initial states", 3, 2, 2, 3, false, true, {}},
        {"bidirectional", 4, 2, 3, 2, true, true, {}},
        {"lengths 4,0,2", 4, 3, 2, 2, false, true, {4, 0, 2}},
        {"bidirectional lengths 1,3", 3, 2, 2, 2, true, false, {1, 3}},
        {"T1 N1", 1, 1, 2, 3, false, true, {}},
    };
}

// Deterministic values in [−0.8, 0.8].
SampleInput moderate(Shape shape, uint64_t stream) {
    const int64_t n = numel(shape);
    std::vector<double> v(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = -0.8 + 1.6 * uniform01(77, stream, static_cast<uint64_t>(i));
    return given(Tensor::from_vector<double>(v, std::move(shape)));
}

RnnOpAttrs attrs_of(RnnCell cell, const Case& c) {
    return {.cell = cell,
            .bidirectional = c.bidirectional,
            .has_h0 = c.states,
            .has_c0 = c.states && cell == RnnCell::Lstm,
            .has_lengths = !c.lengths.empty()};
}

RnnGeometry geometry_of(RnnCell cell, const Case& c) {
    return {.cell = cell, .seq = c.T, .batch = c.N, .input = c.I, .hidden = c.H, .bidirectional = c.bidirectional};
}

// The forward's inputs in order.
std::vector<SampleInput> forward_inputs(RnnCell cell, const Case& c) {
    const RnnGeometry g = geometry_of(cell, c);
    std::vector<SampleInput> in{moderate(g.x_shape(), 1)};
    uint64_t stream = 10;
    for (int64_t d = 0; d < g.directions(); ++d)
        for (const Shape& s : {g.weight_ih_shape(), g.weight_hh_shape(), g.bias_shape(), g.bias_shape()})
            in.push_back(moderate(s, stream++));
    if (c.states) in.push_back(moderate(g.state_shape(), 2));
    if (c.states && cell == RnnCell::Lstm) in.push_back(moderate(g.state_shape(), 3));
    if (!c.lengths.empty()) in.push_back(given(Tensor::from_vector<int64_t>(c.lengths, {c.N})));
    return in;
}

// The cells one op computes: "rnn" both Elman activations.
std::vector<RnnCell> cells_of(RnnCell cell) {
    if (cell == RnnCell::RnnTanh || cell == RnnCell::RnnRelu) return {RnnCell::RnnTanh, RnnCell::RnnRelu};
    return {cell};
}

std::string label(RnnCell op_cell, RnnCell cell, const Case& c) {
    return cells_of(op_cell).size() > 1 ? fmt::format("{} {}", rnn_cell_name(cell), c.label) : c.label;
}

}  // namespace

std::vector<OpSample> rnn_forward_samples(RnnCell op_cell) {
    std::vector<OpSample> out;
    for (RnnCell cell : cells_of(op_cell))
        for (const Case& c : cases())
            // second_order false: the backward op is not differentiable (see its registration).
            out.push_back(OpSample{label(op_cell, cell, c), forward_inputs(cell, c), attrs_of(cell, c), false});
    return out;
}

std::vector<OpSample> rnn_backward_samples(RnnCell op_cell) {
    std::vector<OpSample> out;
    for (RnnCell cell : cells_of(op_cell))
        for (const Case& c : cases()) {
            const RnnOpAttrs a = attrs_of(cell, c);
            const RnnSlots s(a);
            const RnnGeometry g = geometry_of(cell, c);
            std::vector<SampleInput> in{SampleInput{workspace_placeholder(), Domain::AllReals, std::nullopt}};
            for (SampleInput& i : forward_inputs(cell, c)) in.push_back(std::move(i));
            in.push_back(floating(g.y_shape()));      // y, hn, cn: from the producer
            in.push_back(floating(g.state_shape()));
            if (a.lstm()) in.push_back(floating(g.state_shape()));
            in.push_back(moderate(g.y_shape(), 20));  // dy, dhn, dcn
            in.push_back(moderate(g.state_shape(), 21));
            if (a.lstm()) in.push_back(moderate(g.state_shape(), 22));
            SampleProducer p{rnn_op_name(cell), a, {}, {}};
            for (int i = 0; i < s.forward_inputs; ++i) p.inputs.push_back(RnnSlots::forward_input(i));
            p.feeds = {{s.workspace, RnnSlots::saved_workspace}, {RnnSlots::y, s.saved_y}, {RnnSlots::hn, s.saved_hn}};
            if (a.lstm()) p.feeds.emplace_back(s.cn, s.saved_cn);
            out.push_back(OpSample{label(op_cell, cell, c), std::move(in), a, false, std::move(p)});
        }
    return out;
}

std::vector<ErrorSample> rnn_forward_error_samples(RnnCell op_cell) {
    using D = TensorDesc;
    const RnnCell cell = op_cell;
    const int64_t G = rnn_gate_count(cell), H = 2, I = 3, N = 2;
    const RnnOpAttrs plain{.cell = cell};
    RnnOpAttrs with_h0 = plain;
    with_h0.has_h0 = true;
    RnnOpAttrs with_lengths = plain;
    with_lengths.has_lengths = true;
    const D x{{4, N, I}}, w_ih{{G * H, I}}, w_hh{{G * H, H}}, b{{G * H}};
    auto layer = [&](D xd, D wi, D wh, D bi, D bh) { return std::vector<D>{xd, wi, wh, bi, bh}; };
    std::vector<ErrorSample> out{
        {"x rank 2", layer(D{{4, I}}, w_ih, w_hh, b, b), plain, "x must be a floating [T, N, I] tensor, got f32[4,3]"},
        {"x integer", layer(D{{4, N, I}, DType::I64}, w_ih, w_hh, b, b), plain, "x must be a floating [T, N, I]"},
        {"empty sequence", layer(D{{0, N, I}}, w_ih, w_hh, b, b), plain, "at least one step"},
        {"weight_hh not [G·H, H]", layer(x, w_ih, D{{G * H + 1, H}}, b, b), plain,
         fmt::format("weight_hh must be [{}·H, H]", G)},
        {"weight_ih columns", layer(x, D{{G * H, I + 1}}, w_hh, b, b), plain,
         fmt::format("weight_ih must be f32[{},{}]", G * H, I)},
        {"bias_hh size", layer(x, w_ih, w_hh, b, D{{G * H + 2}}), plain, fmt::format("bias_hh must be f32[{}]", G * H)},
        {"weight dtype", layer(x, D{{G * H, I}, DType::F64}, w_hh, b, b), plain, "weight_ih must be f32"},
        {"h0 declared, not given", layer(x, w_ih, w_hh, b, b), with_h0, "expects 6 inputs (x, 1 direction of weights, h0)"},
        {"wrong cell attribute",
         layer(x, w_ih, w_hh, b, b),
         RnnOpAttrs{.cell = cell == RnnCell::Gru ? RnnCell::Lstm : RnnCell::Gru},
         "the cell attribute is"},
    };
    std::vector<D> h0_in = layer(x, w_ih, w_hh, b, b);
    h0_in.push_back(D{{1, N, H + 1}});
    out.push_back({"h0 shape", h0_in, with_h0, fmt::format("h0 must be f32[1,{},{}], got f32[1,{},{}]", N, H, N, H + 1)});
    std::vector<D> len_in = layer(x, w_ih, w_hh, b, b);
    len_in.push_back(D{{N}, DType::F32});
    out.push_back({"lengths dtype", len_in, with_lengths, fmt::format("lengths must be i64[{}]", N)});
    if (cell != RnnCell::Lstm) {
        RnnOpAttrs c0 = with_h0;
        c0.has_c0 = true;
        std::vector<D> in = layer(x, w_ih, w_hh, b, b);
        in.push_back(D{{1, N, H}});
        in.push_back(D{{1, N, H}});
        out.push_back({"c0 without an LSTM", in, c0, "only the LSTM has a cell state"});
    }
    return out;
}

std::vector<ErrorSample> rnn_backward_error_samples(RnnCell cell) {
    using D = TensorDesc;
    const int64_t G = rnn_gate_count(cell), H = 2, I = 3, N = 2, T = 4;
    const RnnOpAttrs a{.cell = cell};
    const bool lstm = cell == RnnCell::Lstm;
    // ws, x, w_ih, w_hh, b_ih, b_hh, y, hn, [cn], dy, dhn, [dcn]
    auto inputs = [&](D ws, D y, D dy) {
        std::vector<D> v{ws, D{{T, N, I}}, D{{G * H, I}}, D{{G * H, H}}, D{{G * H}}, D{{G * H}}, y, D{{1, N, H}}};
        if (lstm) v.push_back(D{{1, N, H}});
        v.push_back(dy);
        v.push_back(D{{1, N, H}});
        if (lstm) v.push_back(D{{1, N, H}});
        return v;
    };
    const D ws = workspace_placeholder(), y{{T, N, H}};
    return {
        {"no workspace first", inputs(D{{T, N, I}}, y, y), a, "input 0 must be the forward's workspace"},
        {"dy shape", inputs(ws, y, D{{T, N, H + 1}}), a, fmt::format("dy must be f32[{},{},{}]", T, N, H)},
        {"saved y shape", inputs(ws, D{{T + 1, N, H}}, y), a, fmt::format("the forward's y must be f32[{},{},{}]", T, N, H)},
    };
}

}  // namespace gg
