// The fused recurrent ops (ops/rnn.h): rnn (tanh or relu), lstm and gru, one layer each, and
// their backward ops. Shape rules, builders, gradient rules and the registrations; the kernels
// are in rnn_kernels.cpp, the samples in rnn_samples.cpp.
//
// The forward's last output is a workspace (graph/workspace.h): oneDNN's, or the reference
// loops' own (a different size and content); the backward runs the implementation that wrote
// it and overwrites it. The backward also reads the forward's inputs and outputs, because
// oneDNN's backward does (it keeps a unidirectional layer's last states in y and hn only).
#include "graphgrad/ops/rnn.h"

#include <fmt/format.h>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/internal/rnn_op.h"

namespace gg {

RnnSlots::RnnSlots(const RnnOpAttrs& a) {
    int next = 1 + 4 * static_cast<int>(a.directions());
    if (a.has_h0) h0 = next++;
    if (a.has_c0) c0 = next++;
    if (a.has_lengths) lengths = next++;
    forward_inputs = next;
    int out = 2;
    if (a.lstm()) cn = out++;
    workspace = out++;
    forward_outputs = out;
    int b = forward_input(forward_inputs);
    saved_y = b++;
    saved_hn = b++;
    if (a.lstm()) saved_cn = b++;
    dy = b++;
    dhn = b++;
    if (a.lstm()) dcn = b++;
    backward_inputs = b;
    int bout = 1 + 4 * static_cast<int>(a.directions());
    if (a.has_h0) dh0 = bout++;
    if (a.has_c0) dc0 = bout++;
    backward_outputs = bout;
}

const char* rnn_op_name(RnnCell cell) {
    switch (cell) {
        case RnnCell::Lstm: return "lstm";
        case RnnCell::Gru: return "gru";
        default: return "rnn";
    }
}

std::string rnn_backward_op_name(RnnCell cell) { return std::string(rnn_op_name(cell)) + "_backward"; }

RnnGeometry rnn_geometry(const RnnOpAttrs& a, std::span<const TensorDesc> in) {
    const Shape& x = in[RnnSlots::x].shape;
    return {.cell = a.cell,
            .seq = x[0],
            .batch = x[1],
            .input = x[2],
            .hidden = in[static_cast<std::size_t>(RnnSlots::weight(0, 1))].shape[1],
            .bidirectional = a.bidirectional};
}

std::string dnn_rnn_workspace_format(const RnnGeometry& g) {
    return fmt::format("dnnl {}{}", rnn_cell_name(g.cell), g.bidirectional ? " bidirectional" : "");
}

std::string reference_rnn_workspace_format(const RnnGeometry& g, DType dtype) {
    return fmt::format("reference {}{} {}", rnn_cell_name(g.cell), g.bidirectional ? " bidirectional" : "",
                       dtype_name(dtype));
}

int64_t rnn_forward_macs(const RnnGeometry& g) {
    return g.directions() * g.seq * g.batch * g.gates() * g.hidden * (g.input + g.hidden);
}

RnnGeometry check_rnn_inputs(const RnnOpAttrs& a, std::span<const TensorDesc> in, std::string_view op, int extra) {
    if (op.substr(0, op.find('_')) != rnn_op_name(a.cell))
        throw_shape("the cell attribute is {}, which op {} does not compute", rnn_cell_name(a.cell), op);
    if (a.has_c0 && !a.lstm()) throw_shape("only the LSTM has a cell state, yet an initial c0 is declared");
    const RnnSlots s(a);
    if (static_cast<int>(in.size()) != s.forward_inputs + extra)
        throw_shape("expects {} inputs (x, {} direction{} of weights{}{}{}{}), got {}", s.forward_inputs + extra + (extra > 0),
                    a.directions(), a.directions() == 1 ? "" : "s", a.has_h0 ? ", h0" : "", a.has_c0 ? ", c0" : "",
                    a.has_lengths ? ", lengths" : "",
                    extra > 0 ? ", the workspace, the forward's outputs and their gradients" : "",
                    in.size() + (extra > 0));
    const TensorDesc& x = in[RnnSlots::x];
    if (x.rank() != 3 || !is_floating(x.dtype))
        throw_shape("x must be a floating [T, N, I] tensor, got {}", desc_str(x));
    if (x.shape[0] < 1 || x.shape[1] < 1 || x.shape[2] < 1)
        throw_shape("x {} must have at least one step, sequence and feature", desc_str(x));
    const TensorDesc& w_hh = in[static_cast<std::size_t>(RnnSlots::weight(0, 1))];
    const int64_t G = rnn_gate_count(a.cell);
    if (w_hh.rank() != 2 || w_hh.shape[1] < 1 || w_hh.shape[0] != G * w_hh.shape[1])
        throw_shape("weight_hh must be [{}·H, H] for the {} cell, got {}", G, rnn_cell_name(a.cell), desc_str(w_hh));
    const RnnGeometry g = rnn_geometry(a, in);
    const char* names[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    const Shape want_w[] = {g.weight_ih_shape(), g.weight_hh_shape(), g.bias_shape(), g.bias_shape()};
    for (int64_t d = 0; d < g.directions(); ++d)
        for (int k = 0; k < 4; ++k) {
            const TensorDesc& w = in[static_cast<std::size_t>(RnnSlots::weight(d, k))];
            const TensorDesc expect{want_w[k], x.dtype};
            if (w != expect)
                throw_shape("{}{} must be {} (x {}, H = {}), got {}", names[k], d ? "_reverse" : "", desc_str(expect),
                            desc_str(x), g.hidden, desc_str(w));
        }
    const TensorDesc state{g.state_shape(), x.dtype};
    if (s.h0 >= 0 && in[static_cast<std::size_t>(s.h0)] != state)
        throw_shape("h0 must be {}, got {}", desc_str(state), desc_str(in[static_cast<std::size_t>(s.h0)]));
    if (s.c0 >= 0 && in[static_cast<std::size_t>(s.c0)] != state)
        throw_shape("c0 must be {}, got {}", desc_str(state), desc_str(in[static_cast<std::size_t>(s.c0)]));
    const TensorDesc lengths{{g.batch}, DType::I64};
    if (s.lengths >= 0 && in[static_cast<std::size_t>(s.lengths)] != lengths)
        throw_shape("lengths must be {} (one per sequence), got {}", desc_str(lengths),
                    desc_str(in[static_cast<std::size_t>(s.lengths)]));
    return g;
}

namespace {

std::vector<TensorDesc> infer_forward(const InferContext& c) {
    const auto& a = c.attrs_as<RnnOpAttrs>();
    const RnnGeometry g = check_rnn_inputs(a, c.inputs, c.op_name, 0);
    const DType dt = c.input(0).dtype;
    std::vector<TensorDesc> out{{g.y_shape(), dt}, {g.state_shape(), dt}};
    if (a.lstm()) out.push_back({g.state_shape(), dt});
    out.push_back(workspace_placeholder());
    return out;
}

// The forward's outputs and their gradients must be what the forward makes.
std::vector<TensorDesc> infer_backward(const InferContext& c) {
    const auto& a = c.attrs_as<RnnOpAttrs>();
    const RnnSlots s(a);
    if (c.inputs.empty() || !is_workspace_placeholder(c.input(RnnSlots::saved_workspace)))
        throw_shape("input 0 must be the forward's workspace, got {}",
                    c.inputs.empty() ? std::string("nothing") : desc_str(c.input(0)));
    const RnnGeometry g = check_rnn_inputs(a, c.inputs.subspan(1), c.op_name, s.backward_inputs - 1 - s.forward_inputs);
    const DType dt = c.input(1).dtype;
    const TensorDesc y{g.y_shape(), dt}, state{g.state_shape(), dt};
    auto expect = [&](int slot, const TensorDesc& want, const char* what) {
        if (slot >= 0 && c.input(static_cast<std::size_t>(slot)) != want)
            throw_shape("{} must be {}, got {}", what, desc_str(want), desc_str(c.input(static_cast<std::size_t>(slot))));
    };
    expect(s.saved_y, y, "the forward's y");
    expect(s.saved_hn, state, "the forward's hn");
    expect(s.saved_cn, state, "the forward's cn");
    expect(s.dy, y, "dy");
    expect(s.dhn, state, "dhn");
    expect(s.dcn, state, "dcn");
    std::vector<TensorDesc> out{{g.x_shape(), dt}};
    for (int64_t d = 0; d < g.directions(); ++d)
        for (const Shape& w : {g.weight_ih_shape(), g.weight_hh_shape(), g.bias_shape(), g.bias_shape()})
            out.push_back({w, dt});
    if (a.has_h0) out.push_back(state);
    if (a.has_c0) out.push_back(state);
    return out;
}

// d(inputs) = one backward node over the inputs, the outputs, the workspace and the outputs'
// gradients (zeros for an unused one); lengths get none.
InputGrads rnn_gradient(GradContext& g) {
    const auto& a = g.attrs<RnnOpAttrs>();
    const RnnSlots s(a);
    std::vector<Value> ins{g.output(static_cast<std::size_t>(s.workspace))};
    for (int i = 0; i < s.forward_inputs; ++i) ins.push_back(g.input(static_cast<std::size_t>(i)));
    ins.push_back(g.output(RnnSlots::y));
    ins.push_back(g.output(RnnSlots::hn));
    if (a.lstm()) ins.push_back(g.output(static_cast<std::size_t>(s.cn)));
    ins.push_back(g.grad_output(RnnSlots::y));
    ins.push_back(g.grad_output(RnnSlots::hn));
    if (a.lstm()) ins.push_back(g.grad_output(static_cast<std::size_t>(s.cn)));
    const std::vector<Value> d = g.graph().add_node(op_def(rnn_backward_op_name(a.cell)), ins, a, g.node().name + ".backward");
    InputGrads out(static_cast<std::size_t>(s.forward_inputs));
    out[RnnSlots::x] = d[RnnSlots::dx];
    for (int64_t dir = 0; dir < a.directions(); ++dir)
        for (int k = 0; k < 4; ++k)
            out[static_cast<std::size_t>(RnnSlots::weight(dir, k))] = d[static_cast<std::size_t>(RnnSlots::dweight(dir, k))];
    if (a.has_h0) out[static_cast<std::size_t>(s.h0)] = d[static_cast<std::size_t>(s.dh0)];
    if (a.has_c0) out[static_cast<std::size_t>(s.c0)] = d[static_cast<std::size_t>(s.dc0)];
    return out;
}

// Elementwise work per hidden unit, step and direction: the gate nonlinearities and the state
// update (LSTM: 3 σ + 2 tanh + 3 products + 1 sum; GRU: 2 σ + tanh + 3 products + 3 sums;
// Elman: the activation), each counted as one flop as elementwise_cost() does.
int64_t rnn_pointwise_flops(RnnCell cell) {
    switch (cell) {
        case RnnCell::Lstm: return 9;
        case RnnCell::Gru: return 9;
        default: return 1;
    }
}

// The projections of every step and direction; backward: data and weight gradients, twice that.
OpCost forward_cost(const RuleContext& c) {
    const RnnGeometry g = rnn_geometry(c.attrs_as<RnnOpAttrs>(), c.inputs);
    const int64_t states = g.directions() * g.seq * g.batch * g.hidden;
    return OpCost{.macs = rnn_forward_macs(g),
                  .flops = states * rnn_pointwise_flops(g.cell),
                  .bytes_read = c.input_bytes(),
                  .bytes_written = c.output_bytes()};
}

OpCost backward_cost(const RuleContext& c) {
    const RnnGeometry g = rnn_geometry(c.attrs_as<RnnOpAttrs>(), std::span<const TensorDesc>(c.inputs).subspan(1));
    const int64_t states = g.directions() * g.seq * g.batch * g.hidden;
    return OpCost{.macs = rnn_backward_macs(g),
                  .flops = 2 * states * rnn_pointwise_flops(g.cell),
                  .bytes_read = c.input_bytes(),
                  .bytes_written = c.output_bytes()};
}

const char* describe_forward(RnnCell cell) {
    switch (cell) {
        case RnnCell::Lstm:
            return "one LSTM layer over [T,N,I] (PyTorch gates i,f,g,o; uni/bidirectional; h0, c0, lengths "
                   "optional): y [T,N,D·H], hn, cn [D,N,H], workspace (oneDNN f32)";
        case RnnCell::Gru:
            return "one GRU layer over [T,N,I] (PyTorch gates r,z,n; uni/bidirectional; h0, lengths optional): "
                   "y [T,N,D·H], hn [D,N,H], workspace (oneDNN lbr_gru f32)";
        default:
            return "one Elman RNN layer over [T,N,I], tanh or relu (uni/bidirectional; h0, lengths optional): "
                   "y [T,N,D·H], hn [D,N,H], workspace (oneDNN f32)";
    }
}

void define_pair(OpRegistry& r, RnnCell cell) {
    const int G = 4;  // the largest input count: x + 2 directions × 4 weights + h0, c0, lengths
    const int max_forward = 1 + 2 * G + (cell == RnnCell::Lstm ? 3 : 2);
    const int max_backward = 1 + max_forward + (cell == RnnCell::Lstm ? 6 : 4);
    r.define(rnn_op_name(cell))
        .arity(5, max_forward)
        .describe(describe_forward(cell))
        .attributes<RnnOpAttrs>()
        .infer_shape(infer_forward)
        .fast_kernel(rnn_forward_fast)
        .reference(rnn_forward_reference)
        .cost(forward_cost)
        .workspace_output(cell == RnnCell::Lstm ? 3 : 2)
        .gradient(rnn_gradient)  // BPTT: one backward node reading the workspace
        .samples([cell] { return rnn_forward_samples(cell); })
        .error_samples([cell] { return rnn_forward_error_samples(cell); });
    r.define(rnn_backward_op_name(cell))
        .arity(1 + 5 + (cell == RnnCell::Lstm ? 6 : 4), max_backward)
        .describe(fmt::format("backpropagation through time of {} over the forward's workspace, which it "
                              "overwrites: dx, d weights and biases, dh0{}",
                              rnn_op_name(cell), cell == RnnCell::Lstm ? ", dc0" : ""))
        .attributes<RnnOpAttrs>()
        .infer_shape(infer_backward)
        .fast_kernel(rnn_backward_fast)
        .reference(rnn_backward_reference)
        .cost(backward_cost)
        .workspace_input(RnnSlots::saved_workspace, WorkspaceUse::Overwrites)
        .not_differentiable("oneDNN's backward overwrites the forward's workspace, so it cannot run twice for one "
                            "forward; second order through a recurrent layer: the graph-code cells "
                            "(models::recurrent without fused)")
        .samples([cell] { return rnn_backward_samples(cell); })
        .error_samples([cell] { return rnn_backward_error_samples(cell); });
}

}  // namespace

RecurrentLayerOutput recurrent_layer(RnnCell cell, Value x, const RecurrentLayerInputs& in, const std::string& name) {
    const char* op = rnn_op_name(cell);
    if (in.directions.size() != 1 && in.directions.size() != 2)
        throw_graph("{} \"{}\": weights for 1 or 2 directions, got {}", op, name, in.directions.size());
    const RnnOpAttrs a{.cell = cell,
                       .bidirectional = in.directions.size() == 2,
                       .has_h0 = in.h0.has_value(),
                       .has_c0 = in.c0.has_value(),
                       .has_lengths = in.lengths.has_value()};
    std::vector<Value> ins{x};
    for (const RecurrentWeights& w : in.directions)
        for (const Value& v : {w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh}) ins.push_back(v);
    for (const auto& v : {in.h0, in.c0, in.lengths})
        if (v) ins.push_back(*v);
    Graph& g = common_graph(op, ins);
    const std::vector<Value> out = g.add_node(op_def(op), ins, a, name);
    RecurrentLayerOutput r{out[RnnSlots::y], out[RnnSlots::hn], std::nullopt};
    if (a.lstm()) r.cn = out[2];
    return r;
}

RecurrentLayerOutput rnn(Value x, const RecurrentLayerInputs& in, RnnCell activation, const std::string& name) {
    if (activation != RnnCell::RnnTanh && activation != RnnCell::RnnRelu)
        throw_graph("rnn \"{}\": the activation must be RnnCell::RnnTanh or RnnCell::RnnRelu, got {}", name,
                    rnn_cell_name(activation));
    return recurrent_layer(activation, x, in, name);
}

RecurrentLayerOutput lstm(Value x, const RecurrentLayerInputs& in, const std::string& name) {
    return recurrent_layer(RnnCell::Lstm, x, in, name);
}

RecurrentLayerOutput gru(Value x, const RecurrentLayerInputs& in, const std::string& name) {
    return recurrent_layer(RnnCell::Gru, x, in, name);
}

void register_rnn_ops(OpRegistry& r) {
    define_pair(r, RnnCell::RnnTanh);  // "rnn": the attributes say tanh or relu
    define_pair(r, RnnCell::Lstm);
    define_pair(r, RnnCell::Gru);
}

}  // namespace gg
