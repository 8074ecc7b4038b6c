// The fused recurrent ops (ops/rnn.h) inside graphs: models::recurrent with fused = true against
// the unrolled graph code on the same weights, forward and every gradient (1e-5 in f32 — oneDNN
// against oneDNN matmuls and loops — and 1e-10 in f64), for every cell, one and two layers and
// directions, initial states, lengths and no bias; the workspace in the planned peak; which
// kernels run (oneDNN without lengths, the reference loops with them or in f64); repeated runs;
// one backward per forward; inference programs. (Samples, error samples and gradcheck of the
// ops themselves: the generic registry tests.)
#include <catch2/catch.hpp>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/graph/op_rules.h"
#include "graphgrad/models/recurrent.h"
#include "graphgrad/ops/dnn/context.h"
#include "graphgrad/ops/dnn/rnn.h"
#include "graphgrad/ops/internal/rnn_op.h"
#include "graphgrad/ops/ops.h"
#include "recurrent_test_util.h"

namespace {

using namespace gg;
using namespace gg::testing;
using Catch::Matchers::Contains;
using models::RecurrentOptions;

const RnnCell kCells[] = {RnnCell::RnnTanh, RnnCell::RnnRelu, RnnCell::Lstm, RnnCell::Gru};

struct Config {
    std::string label;
    int64_t T, N, I, H, layers;
    bool bidirectional, states, bias;
    std::vector<int64_t> lengths;
};

std::vector<Config> configs() {
    return {
        {"one layer", 5, 3, 4, 6, 1, false, false, true, {}},
        {"two layers, bidirectional, states", 4, 2, 3, 5, 2, true, true, true, {}},
        {"lengths 4,1,0,3, states", 4, 4, 3, 4, 1, false, true, true, {4, 1, 0, 3}},
        {"two layers, bidirectional, lengths", 5, 3, 2, 3, 2, true, false, true, {2, 5, 3}},
        {"no bias", 3, 2, 3, 4, 1, true, true, false, {}},
        {"T1 N1", 1, 1, 3, 4, 1, false, true, true, {}},
    };
}

// A stack of recurrent layers, the gradients of <y, dy> + <hn, dhn> + <cn, dcn> with respect to
// x, the initial states and every parameter, and the feeds that drive it.
struct Net {
    Graph g;
    RecurrentOptions o;
    Value x, dy, dhn;
    std::optional<Value> dcn, lengths;
    models::RecurrentState init;
    models::RecurrentOutput out;
    std::vector<Value> wrt, fetches;

    Net(RnnCell cell, const Config& c, bool fused, DType dt) {
        o = {.cell = cell, .hidden = c.H, .layers = c.layers, .bidirectional = c.bidirectional, .bias = c.bias};
        o.fused = fused;
        const int64_t D = c.bidirectional ? 2 : 1;
        x = g.input("x", {c.T, c.N, c.I}, dt);
        if (c.states) init = models::recurrent_state_inputs(g, o, c.N, "rnn", dt);
        if (!c.lengths.empty()) lengths = g.input("lengths", {c.N}, DType::I64);
        out = models::recurrent(x, o, "rnn", init, lengths);
        dy = g.input("dy", out.y.shape(), dt);
        dhn = g.input("dhn", {c.layers * D, c.N, c.H}, dt);
        std::vector<Value> ys{out.y, *out.final.h}, seeds{dy, dhn};
        if (out.final.c) {
            dcn = g.input("dcn", dhn.shape(), dt);
            ys.push_back(*out.final.c);
            seeds.push_back(*dcn);
        }
        wrt = {x};
        if (init.h) wrt.push_back(*init.h);
        if (init.c) wrt.push_back(*init.c);
        for (const Value& p : g.parameters()) wrt.push_back(p);
        fetches = ys;
        for (const Value& d : grad(ys, wrt, seeds)) fetches.push_back(d);
    }

    Feeds feeds(const Config& c, DType dt) const {
        auto random = [&](const Value& v, uint64_t stream) {
            Tensor t = Tensor::zeros(v.shape(), dt);
            for (int64_t i = 0; i < t.numel(); ++i) t.set(i, -1.0 + 2.0 * uniform01(5, stream, static_cast<uint64_t>(i)));
            return t;
        };
        Feeds f{{x, random(x, 1)}, {dy, random(dy, 2)}, {dhn, random(dhn, 3)}};
        if (dcn) f.push_back({*dcn, random(*dcn, 4)});
        if (init.h) f.push_back({*init.h, random(*init.h, 5)});
        if (init.c) f.push_back({*init.c, random(*init.c, 6)});
        if (lengths) f.push_back({*lengths, Tensor::from_vector<int64_t>(c.lengths, {c.N})});
        return f;
    }
};

// Runs both implementations on the same weights and feeds; returns the worst
// |a − b| / (1 + |b|) over every fetched element, and checks every fetch's shape.
double compare(RnnCell cell, const Config& c, DType dt) {
    Net graph_code(cell, c, false, dt), fused(cell, c, true, dt);
    REQUIRE(graph_code.fetches.size() == fused.fetches.size());
    for (const auto& [name, entry] : graph_code.g.store().entries()) fused.g.store().get(name).copy_from(entry.value);
    CompiledGraph a = compile(graph_code.g, graph_code.fetches), b = compile(fused.g, fused.fetches);
    const auto ra = a.run(graph_code.feeds(c, dt)), rb = b.run(fused.feeds(c, dt));
    double worst = 0;
    for (std::size_t i = 0; i < ra.size(); ++i) {
        INFO("fetch " << i << " (" << graph_code.fetches[i].name() << ")");
        REQUIRE(ra[i].shape() == rb[i].shape());
        for (int64_t k = 0; k < ra[i].numel(); ++k)
            worst = std::max(worst, std::abs(rb[i].get(k) - ra[i].get(k)) / (1.0 + std::abs(ra[i].get(k))));
    }
    return worst;
}

// The kind ("fast", "reference") of the kernel running `op` in a compiled program.
std::string kernel_kind(const CompiledGraph& cg, const std::string& op) {
    for (const auto& k : cg.compile_report().lower.kernels)
        if (k.op == op) return k.kind;
    return "absent";
}

}  // namespace

TEST_CASE("fused recurrent layers equal the graph-code layers, forward and every gradient", "[rnn][fused]") {
    for (RnnCell cell : kCells)
        for (const Config& c : configs()) {
            INFO(rnn_cell_name(cell) << " " << c.label);
            CHECK(compare(cell, c, DType::F32) <= 1e-5);
            CHECK(compare(cell, c, DType::F64) <= 1e-10);
        }
}

TEST_CASE("fused layers run oneDNN in f32, the reference loops with lengths or in f64", "[rnn][fused]") {
    const Config plain = configs()[0], with_lengths = configs()[2];
    for (RnnCell cell : kCells) {
        INFO(rnn_cell_name(cell));
        const std::string op = rnn_op_name(cell);
        Net a(cell, plain, true, DType::F32), b(cell, with_lengths, true, DType::F32), c(cell, plain, true, DType::F64);
        CompiledGraph fa = compile(a.g, a.fetches), fb = compile(b.g, b.fetches), fc = compile(c.g, c.fetches);
        CHECK(kernel_kind(fa, op) == "fast");
        CHECK(kernel_kind(fa, op + "_backward") == "fast");
        CHECK(kernel_kind(fb, op) == "reference");
        CHECK(kernel_kind(fb, op + "_backward") == "reference");
        CHECK(kernel_kind(fc, op) == "reference");
        CHECK(kernel_kind(fc, op + "_backward") == "reference");
    }
}

TEST_CASE("the workspace of every fused layer is planned and counted in the peak", "[rnn][fused][workspace]") {
    const Config c{"", 20, 8, 16, 32, 2, true, true, true, {}};
    Net net(RnnCell::Lstm, c, true, DType::F32);
    CompiledGraph train = compile(net.g, net.fetches);
    const CompileReport& r = train.compile_report();
    dnn::Context ctx;
    const RnnGeometry l0{.cell = RnnCell::Lstm, .seq = 20, .batch = 8, .input = 16, .hidden = 32, .bidirectional = true};
    RnnGeometry l1 = l0;
    l1.input = 64;  // the first layer's two directions
    const std::size_t expected = dnn::RnnForward(ctx, l0).workspace_bytes() + dnn::RnnForward(ctx, l1).workspace_bytes();
    CHECK(r.lower.workspace_values == 2);
    CHECK(r.plan.workspace_bytes == expected);
    CHECK(train.peak_bytes() >= expected);
    // An inference program reads no workspace: oneDNN's forward_inference, none planned.
    CompiledGraph infer = compile(net.g, {net.out.y, *net.out.final.h});
    CHECK(infer.compile_report().plan.workspace_bytes == 0);
    CHECK(infer.peak_bytes() < train.peak_bytes());
    // Without the workspace the inference program computes the training program's outputs.
    const Feeds f = net.feeds(c, DType::F32);
    const auto t = train.run(f);
    const Tensor y = t[0].clone();
    const auto i = infer.run(f);
    for (int64_t k = 0; k < y.numel(); ++k) REQUIRE(i[0].get(k) == Approx(y.get(k)).margin(1e-6));
}

TEST_CASE("the reference workspace of a fused layer with lengths is planned too", "[rnn][fused][workspace]") {
    const Config c{"", 6, 3, 4, 5, 1, false, false, true, {6, 2, 4}};
    Net net(RnnCell::Gru, c, true, DType::F32);
    CompiledGraph train = compile(net.g, net.fetches);
    const RnnGeometry geo{.cell = RnnCell::Gru, .seq = 6, .batch = 3, .input = 4, .hidden = 5};
    CHECK(train.compile_report().plan.workspace_bytes == reference::rnn_workspace_bytes(geo, DType::F32));
}

TEST_CASE("repeated runs of a fused training program give the same results", "[rnn][fused]") {
    // oneDNN's backward accumulates into its weight gradients and overwrites the workspace: the
    // kernels must zero the one and rewrite the other every run.
    const Config c = configs()[1];
    Net net(RnnCell::Gru, c, true, DType::F32);
    CompiledGraph cg = compile(net.g, net.fetches);
    const Feeds f = net.feeds(c, DType::F32);
    std::vector<Tensor> first;
    for (const Tensor& t : cg.run(f)) first.push_back(t.clone());
    const auto second = cg.run(f);
    for (std::size_t i = 0; i < first.size(); ++i)
        for (int64_t k = 0; k < first[i].numel(); ++k) REQUIRE(second[i].get(k) == first[i].get(k));
}

TEST_CASE("one fused forward serves one backward", "[rnn][fused][workspace]") {
    Graph g;
    Value x = g.input("x", {3, 2, 4});
    auto out = models::recurrent(x, {.cell = RnnCell::Lstm, .hidden = 3, .fused = true}, "rnn");
    Value w = g.find("rnn.weight_hh_l0");
    Value a = grad(sum(out.y), {w})[0];
    Value b = grad(sum(*out.final.h), {w})[0];
    CHECK_NOTHROW(compile(g, {a}));
    CHECK_NOTHROW(compile(g, {b}));
    CHECK_THROWS_WITH(compile(g, {a, b}), Contains("lstm_backward") && Contains("overwrites") &&
                                              Contains("one forward node serves one backward node"));
}

TEST_CASE("fused layer builders reject what they cannot build", "[rnn][fused][errors]") {
    Graph g;
    Value x = g.input("x", {3, 2, 4});
    Value w_ih = g.input("w_ih", {4, 4}), w_hh = g.input("w_hh", {4, 4}), b = g.input("b", {4});
    const RecurrentWeights w{w_ih, w_hh, b, b};
    CHECK_THROWS_WITH(rnn(x, {.directions = {w}}, RnnCell::Lstm, "r"), Contains("rnn \"r\"") && Contains("RnnTanh"));
    CHECK_THROWS_WITH(rnn(x, {.directions = {}}, RnnCell::RnnTanh, "r"), Contains("1 or 2 directions, got 0"));
    // An LSTM needs 4 gates: [4H, ...] weights; these are one gate of H = 4.
    CHECK_THROWS_WITH(lstm(x, {.directions = {w}}, "l"), Contains("lstm \"l\"") && Contains("weight_hh must be [4·H, H]"));
    CHECK_THROWS_WITH(gru(x, {.directions = {w}, .c0 = g.input("c0", {1, 2, 4})}, "g"),
                      Contains("only the LSTM has a cell state"));
    auto out = rnn(x, {.directions = {w, w}, .h0 = g.input("h0", {2, 2, 4})});
    CHECK(out.y.shape() == Shape{3, 2, 8});
    CHECK(out.hn.shape() == Shape{2, 2, 4});
    CHECK_FALSE(out.cn.has_value());
}

TEST_CASE("a fused layer's multiply-adds are the unrolled graph code's matmuls", "[rnn][fused][cost]") {
    // The generic cost test counts products by running bilinear ops on ones; a recurrent layer is
    // not bilinear, so its rule is checked against the matmuls of the graph code, whose rule is.
    for (RnnCell cell : kCells)
        for (bool bidirectional : {false, true}) {
            INFO(rnn_cell_name(cell) << (bidirectional ? " bidirectional" : ""));
            auto forward_macs = [&](bool fused) {
                Graph g;
                Value x = g.input("x", {5, 3, 4});
                models::RecurrentOptions o{.cell = cell, .hidden = 6, .bidirectional = bidirectional};
                o.fused = fused;
                models::recurrent(x, o, "rnn");
                int64_t macs = 0;
                for (int32_t n = 0; n < g.num_nodes(); ++n)
                    if (!g.node(n).op->is_source) macs += node_cost(g.node(n)).macs;
                return macs;
            };
            const int64_t expected = (bidirectional ? 2 : 1) * 5 * 3 * rnn_gate_count(cell) * 6 * (4 + 6);
            CHECK(forward_macs(false) == expected);
            CHECK(forward_macs(true) == expected);
        }
}
