// Recurrent layers unrolled over time (see recurrent.h). Everything here is graph code a user
// could write: the only cleverness is that each layer projects all T inputs with one matmul
// before the time loop, so the loop holds only the recurrent matmul and the cell's
// elementwise ops.
#include "graphgrad/models/recurrent.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "graphgrad/graph/checkpoint.h"
#include "graphgrad/graph/errors.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/linalg.h"
#include "graphgrad/ops/random.h"
#include "graphgrad/ops/rnn.h"
#include "graphgrad/ops/shape_ops.h"

namespace gg::models {

namespace {

struct DirectionWeights {
    Value w_ih, w_hh;
    std::optional<Value> b_ih, b_hh;
};

// The G gate blocks [N, H] of a [N, G·H] value. split, not G slices: its gradient is one
// concat instead of G zero-padded copies of the whole value.
std::vector<Value> gates(Value v, int64_t G, int64_t H) { return split(v, 1, std::vector<int64_t>(G, H)); }

// The K entries [N, H] of a [K, N, H] value (states, or a layer's projections of T steps):
// one split of its [K·N, H] rows, no per-entry reshape (each would be a node and a copy).
std::vector<Value> unstack(Value v) {
    const int64_t K = v.dim(0), N = v.dim(1);
    if (K == 1) return {reshape(v, {N, v.dim(2)})};
    return split(reshape(v, {K * N, v.dim(2)}), 0, std::vector<int64_t>(static_cast<std::size_t>(K), N));
}

// Stacks K values [N, H] into [K, N, H]: one concat of their rows. Not a concat of K [1, N, H]
// reshapes: those copies would all wait for the concat at the end of the sequence, and its
// gradient would be K more copies.
Value stack(const std::vector<Value>& vs) {
    if (vs.size() == 1) return reshape(vs[0], {1, vs[0].dim(0), vs[0].dim(1)});
    return reshape(concat(vs, 0), {static_cast<int64_t>(vs.size()), vs[0].dim(0), vs[0].dim(1)});
}

// One step of the cell. xt: this step's input projection [N, G·H] (for RNN and LSTM it already
// holds both biases); h, c: the previous states [N, H]. Returns h' (and c' for the LSTM).
std::pair<Value, std::optional<Value>> cell_step(RnnCell cell, Value xt, Value h, std::optional<Value> c,
                                                 const DirectionWeights& w, int64_t H) {
    Value hh = matmul(h, w.w_hh, false, true);  // h W_hhᵀ: [N, G·H]
    switch (cell) {
        case RnnCell::RnnTanh: return {tanh(xt + hh), std::nullopt};
        case RnnCell::RnnRelu: return {relu(xt + hh), std::nullopt};
        case RnnCell::Lstm: {
            const std::vector<Value> a = gates(xt + hh, 4, H);
            Value i = sigmoid(a[0]), f = sigmoid(a[1]), g = tanh(a[2]), o = sigmoid(a[3]);
            Value c_next = f * *c + i * g;
            return {o * tanh(c_next), c_next};
        }
        case RnnCell::Gru: {
            if (w.b_hh) hh = hh + *w.b_hh;  // b_hn must stay inside r ⊙ (...)
            const std::vector<Value> a = gates(xt, 3, H), b = gates(hh, 3, H);
            Value r = sigmoid(a[0] + b[0]);
            Value z = sigmoid(a[1] + b[1]);
            Value n = tanh(a[2] + r * b[2]);
            return {n + z * (h - n), std::nullopt};  // (1 − z) ⊙ n + z ⊙ h
        }
    }
    throw_graph("internal error: unknown recurrent cell");
}

struct DirectionResult {
    Value y;  // [T, N, H]
    Value h;  // [N, H]
    std::optional<Value> c;
};

// One direction of one layer over the whole sequence xin [T, N, C].
DirectionResult run_direction(RnnCell cell, Value xin, const DirectionWeights& w, Value h, std::optional<Value> c,
                              const std::vector<Value>& masks, bool reverse, int64_t H, int64_t segments,
                              int64_t chunks) {
    const int64_t T = xin.dim(0), N = xin.dim(1), C = xin.dim(2), GH = rnn_gate_count(cell) * H;
    // The input projection of the steps [t0, t1) at once: [(t1−t0)·N, C] × [C, G·H], plus both
    // biases (the GRU's b_hh is added per step: b_hn sits inside r ⊙ (...)).
    std::vector<Value> steps(static_cast<std::size_t>(T));
    auto project = [&](int64_t t0, int64_t t1) {
        Value xs = t0 == 0 && t1 == T ? xin : slice(xin, {t0, 0, 0}, {t1, N, C});
        Value proj = matmul(reshape(xs, {(t1 - t0) * N, C}), w.w_ih, false, true);
        if (w.b_ih) proj = proj + (cell == RnnCell::Gru ? *w.b_ih : *w.b_ih + *w.b_hh);
        const std::vector<Value> part = unstack(reshape(proj, {t1 - t0, N, GH}));
        std::copy(part.begin(), part.end(), steps.begin() + t0);
    };

    std::vector<Value> outputs(static_cast<std::size_t>(T));
    std::optional<CheckpointScope> region;  // the open checkpoint segment (checkpoint_segments)
    auto segment_of = [&](int64_t s) { return s * segments / T; };
    auto chunk_of = [&](int64_t s) { return s * chunks / T; };
    for (int64_t s = 0; s < T; ++s) {
        const int64_t t = reverse ? T - 1 - s : s;
        if (segment_of(s) + 1 < segments && (s == 0 || segment_of(s - 1) != segment_of(s))) region.emplace(*xin.graph);
        if (s == 0 || chunk_of(s - 1) != chunk_of(s)) {  // this chunk's projection (in the open region)
            int64_t e = s;
            while (e < T && chunk_of(e) == chunk_of(s)) ++e;
            if (reverse) project(T - e, T - s);
            else project(s, e);
        }
        // Keeps the state this step leaves when it ends its segment.
        const bool last_of_segment = region && segment_of(s + 1) != segment_of(s);
        auto [h_next, c_next] = cell_step(cell, steps[static_cast<std::size_t>(t)], h, c, w, H);
        if (masks.empty()) {
            h = h_next;
            c = c_next;
            outputs[static_cast<std::size_t>(t)] = h_next;
        } else {
            // Past a sequence's end its state stays and its output is zero (packed sequences).
            const Value& m = masks[static_cast<std::size_t>(t)];
            h = where(m, h_next, h);
            if (c) c = where(m, *c_next, *c);
            outputs[static_cast<std::size_t>(t)] = where(m, h_next, scalar_like(h_next, 0.0));
        }
        if (last_of_segment) {
            region->keep(h);
            if (c) region->keep(*c);
            region.reset();
        }
    }
    return {stack(outputs), h, c};
}

void check_inputs(Value x, const RecurrentOptions& o, const std::string& name, const RecurrentState& initial,
                  const std::optional<Value>& lengths) {
    const char* kind = rnn_cell_name(o.cell);
    if (x.rank() != 3 || !is_floating(x.dtype()))
        throw_graph("{} \"{}\": x must be a floating [T, N, I] tensor, got {}", kind, name, x.desc());
    if (o.projection_chunks < 1 || o.projection_chunks > x.dim(0))
        throw_graph("{} \"{}\": projection_chunks {} must be in [1, T = {}]", kind, name, o.projection_chunks, x.dim(0));
    if (o.checkpoint_segments < 1 || o.checkpoint_segments > x.dim(0))
        throw_graph("{} \"{}\": checkpoint_segments {} must be in [1, T = {}]", kind, name, o.checkpoint_segments,
                    x.dim(0));
    if (o.hidden < 1 || o.layers < 1)
        throw_graph("{} \"{}\": hidden size {} and layers {} must be at least 1", kind, name, o.hidden, o.layers);
    if (!(o.dropout >= 0.0 && o.dropout < 1.0))
        throw_graph("{} \"{}\": dropout {} is outside [0, 1)", kind, name, o.dropout);
    const Shape state{o.layers * (o.bidirectional ? 2 : 1), x.dim(1), o.hidden};
    const TensorDesc want{state, x.dtype()};
    if (initial.h && initial.h->desc() != want)
        throw_graph("{} \"{}\": initial h must be {}, got {}", kind, name, want, initial.h->desc());
    if (initial.c && o.cell != RnnCell::Lstm)
        throw_graph("{} \"{}\": only the LSTM has a cell state, yet an initial c was given", kind, name);
    if (initial.c && initial.c->desc() != want)
        throw_graph("{} \"{}\": initial c must be {}, got {}", kind, name, want, initial.c->desc());
    if (lengths && lengths->desc() != TensorDesc{{x.dim(1)}, DType::I64})
        throw_graph("{} \"{}\": lengths must be i64[{}] (one per sequence), got {}", kind, name, x.dim(1),
                    lengths->desc());
}

// One direction's parameters of layer l (PyTorch's names; biases absent without o.bias).
DirectionWeights direction_weights(Graph& g, const RecurrentOptions& o, int64_t l, int64_t d, int64_t in_features,
                                   DType dtype) {
    const int64_t GH = rnn_gate_count(o.cell) * o.hidden;
    const double bound = 1.0 / std::sqrt(static_cast<double>(o.hidden));
    const Initializer init = init::uniform(-bound, bound);
    const std::string sfx = fmt::format("_l{}{}", l, d ? "_reverse" : "");
    DirectionWeights w;
    w.w_ih = layer_param(g, o.params, "weight_ih" + sfx, {GH, in_features}, init, dtype);
    w.w_hh = layer_param(g, o.params, "weight_hh" + sfx, {GH, o.hidden}, init, dtype);
    if (o.bias) {
        w.b_ih = layer_param(g, o.params, "bias_ih" + sfx, {GH}, init, dtype);
        w.b_hh = layer_param(g, o.params, "bias_hh" + sfx, {GH}, init, dtype);
    }
    return w;
}

// The stack on the fused op, one node per layer (both directions in it): states in and out
// are [D, N, H] slices of the [layers·D, N, H] ones.
RecurrentOutput fused_layers(Value x, const RecurrentOptions& o, const RecurrentState& initial,
                             const std::optional<Value>& lengths) {
    Graph& g = *x.graph;
    const int64_t D = o.bidirectional ? 2 : 1;
    const std::vector<int64_t> per_layer(static_cast<std::size_t>(o.layers), D);
    std::vector<Value> h_init, c_init;
    if (initial.h) h_init = o.layers == 1 ? std::vector<Value>{*initial.h} : split(*initial.h, 0, per_layer);
    if (initial.c) c_init = o.layers == 1 ? std::vector<Value>{*initial.c} : split(*initial.c, 0, per_layer);
    std::optional<Value> zero_bias;  // oneDNN's primitives always add a bias
    if (!o.bias) zero_bias = g.constant(Tensor::zeros({rnn_gate_count(o.cell) * o.hidden}, x.dtype()), "zero_bias");
    std::vector<Value> h_final, c_final;
    Value layer_in = x;
    for (int64_t l = 0; l < o.layers; ++l) {
        RecurrentLayerInputs in;
        for (int64_t d = 0; d < D; ++d) {
            const DirectionWeights w = direction_weights(g, o, l, d, layer_in.dim(2), x.dtype());
            in.directions.push_back({w.w_ih, w.w_hh, o.bias ? *w.b_ih : *zero_bias, o.bias ? *w.b_hh : *zero_bias});
        }
        const auto k = static_cast<std::size_t>(l);
        if (initial.h) in.h0 = h_init[k];
        if (initial.c) in.c0 = c_init[k];
        in.lengths = lengths;
        const RecurrentLayerOutput r = recurrent_layer(o.cell, layer_in, in, fmt::format("l{}", l));
        h_final.push_back(r.hn);
        if (r.cn) c_final.push_back(*r.cn);
        layer_in = r.y;
        if (o.dropout > 0.0 && l + 1 < o.layers) layer_in = dropout(layer_in, o.dropout);
    }
    auto joined = [](const std::vector<Value>& v) { return v.size() == 1 ? v[0] : concat(v, 0); };
    RecurrentOutput out{layer_in, {joined(h_final), std::nullopt}};
    if (!c_final.empty()) out.final.c = joined(c_final);
    return out;
}

}  // namespace

RecurrentOutput recurrent(Value x, const RecurrentOptions& o, const std::string& name, const RecurrentState& initial,
                          std::optional<Value> lengths) {
    check_inputs(x, o, name, initial, lengths);
    Graph& g = *x.graph;
    if (o.fused) {
        // One node per layer: there are no per-step nodes to checkpoint or chunk (wrap the
        // whole layer in checkpoint() to recompute it).
        if (o.checkpoint_segments != 1 || o.projection_chunks != 1)
            throw_graph("{} \"{}\": checkpoint_segments ({}) and projection_chunks ({}) apply to the graph-code layer, "
                        "not the fused op",
                        "recurrent", name, o.checkpoint_segments, o.projection_chunks);
        NameScope scope(g, name);
        return fused_layers(x, o, initial, lengths);
    }
    const int64_t T = x.dim(0), N = x.dim(1), H = o.hidden, D = o.bidirectional ? 2 : 1;
    const bool lstm = o.cell == RnnCell::Lstm;

    // masks[t] = [t < lengths[n]] as i64 [N, 1]: which sequences are still running at step t.
    std::vector<Value> masks;
    if (lengths) {
        Value len = reshape(*lengths, {N, 1});
        for (int64_t t = 0; t < T; ++t) masks.push_back(greater(len, static_cast<double>(t)));
    }
    std::optional<Value> zeros;  // the absent initial state
    if (!initial.h || (lstm && !initial.c)) zeros = g.constant(Tensor::zeros({N, H}, x.dtype()), name + ".zeros");

    std::vector<Value> h_init, c_init;  // per layer and direction, [N, H]
    if (initial.h) h_init = unstack(*initial.h);
    if (initial.c) c_init = unstack(*initial.c);

    NameScope scope(g, name);
    std::vector<Value> h_final, c_final;
    Value layer_in = x;
    for (int64_t l = 0; l < o.layers; ++l) {
        std::vector<Value> ys;
        for (int64_t d = 0; d < D; ++d) {
            const DirectionWeights w = direction_weights(g, o, l, d, layer_in.dim(2), x.dtype());
            const auto k = static_cast<std::size_t>(l * D + d);
            Value h0 = initial.h ? h_init[k] : *zeros;
            std::optional<Value> c0;
            if (lstm) c0 = initial.c ? c_init[k] : *zeros;
            DirectionResult r =
                run_direction(o.cell, layer_in, w, h0, c0, masks, d == 1, H, o.checkpoint_segments, o.projection_chunks);
            ys.push_back(r.y);
            h_final.push_back(r.h);
            if (lstm) c_final.push_back(*r.c);
        }
        layer_in = D == 1 ? ys[0] : concat(ys, 2);
        // Like nn.LSTM's dropout: on the outputs of every layer but the last.
        if (o.dropout > 0.0 && l + 1 < o.layers) layer_in = dropout(layer_in, o.dropout);
    }
    RecurrentOutput out{layer_in, {stack(h_final), std::nullopt}};
    if (lstm) out.final.c = stack(c_final);
    return out;
}

RecurrentState recurrent_state_inputs(Graph& g, const RecurrentOptions& o, int64_t batch, const std::string& name,
                                      DType dtype) {
    const Shape shape{o.layers * (o.bidirectional ? 2 : 1), batch, o.hidden};
    RecurrentState s{g.input(name + ".h0", shape, dtype), std::nullopt};
    if (o.cell == RnnCell::Lstm) s.c = g.input(name + ".c0", shape, dtype);
    return s;
}

}  // namespace gg::models
