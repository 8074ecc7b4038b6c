// Graph-code recurrent layers (models/recurrent.h): forward and every gradient against the
// reference kernels on the same weights (1e-5 in f32, 1e-10 in f64) for every cell, one and
// two directions, lengths, absent initial states and two layers; gradcheck in f64;
// dropout between layers; parameter names and initialisation; errors (truncated BPTT:
// test_recurrent_tbptt.cpp).
#include <map>

#include <catch2/catch.hpp>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/gradcheck.h"
#include "graphgrad/models/recurrent.h"
#include "graphgrad/ops/ops.h"
#include "recurrent_test_util.h"
#include "test_support.h"

namespace {

using namespace gg;
using namespace gg::testing;
using models::RecurrentOptions;
using models::RecurrentState;

const RnnCell kCells[] = {RnnCell::RnnTanh, RnnCell::RnnRelu, RnnCell::Lstm, RnnCell::Gru};

// One layer as graph code, with the case's weights copied into the parameter store, run
// forward and backward (the output gradients fed as seeds). give_h0 false: no initial state.
template <typename T>
RnnResult<T> run_graph(const RnnCase<T>& c, const RnnOutputGrads<T>& og, bool give_h0 = true) {
    const RnnGeometry& geo = c.geo;
    const DType dt = dtype_for<T>();
    const bool lstm = geo.has_cell_state();
    Graph g;
    Value x = g.input("x", geo.x_shape(), dt);
    RecurrentState init;
    if (give_h0) {
        init.h = g.input("h0", geo.state_shape(), dt);
        if (lstm) init.c = g.input("c0", geo.state_shape(), dt);
    }
    std::optional<Value> len;
    if (!c.lengths.empty()) len = g.input("lengths", {geo.batch}, DType::I64);
    auto out = models::recurrent(
        x, {.cell = geo.cell, .hidden = geo.hidden, .bidirectional = geo.bidirectional}, "rnn", init, len);

    std::vector<Value> wrt{x};
    if (give_h0) wrt.push_back(*init.h);
    if (give_h0 && lstm) wrt.push_back(*init.c);
    for (int64_t d = 0; d < geo.directions(); ++d) {
        for (const char* kind : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) wrt.push_back(g.find(param_name(kind, 0, d)));
        const auto u = static_cast<std::size_t>(d);
        g.store().get(param_name("weight_ih", 0, d)).copy_from(tensor(c.w_ih[u], geo.weight_ih_shape()));
        g.store().get(param_name("weight_hh", 0, d)).copy_from(tensor(c.w_hh[u], geo.weight_hh_shape()));
        g.store().get(param_name("bias_ih", 0, d)).copy_from(tensor(c.b_ih[u], geo.bias_shape()));
        g.store().get(param_name("bias_hh", 0, d)).copy_from(tensor(c.b_hh[u], geo.bias_shape()));
    }
    Value dy = g.input("dy", geo.y_shape(), dt), dhn = g.input("dhn", geo.state_shape(), dt);
    std::vector<Value> ys{out.y, *out.final.h}, seeds{dy, dhn};
    std::optional<Value> dcn;
    if (lstm) {
        dcn = g.input("dcn", geo.state_shape(), dt);
        ys.push_back(*out.final.c);
        seeds.push_back(*dcn);
    }
    const std::vector<Value> grads = grad(ys, wrt, seeds);
    std::vector<Value> fetches = ys;
    fetches.insert(fetches.end(), grads.begin(), grads.end());
    CompiledGraph prog = compile(g, fetches);

    Feeds feeds{{x, tensor(c.x, geo.x_shape())}, {dy, tensor(og.dy, geo.y_shape())}, {dhn, tensor(og.dhn, geo.state_shape())}};
    if (give_h0) feeds.push_back({*init.h, tensor(c.h0, geo.state_shape())});
    if (give_h0 && lstm) feeds.push_back({*init.c, tensor(c.c0, geo.state_shape())});
    if (lstm) feeds.push_back({*dcn, tensor(og.dcn, geo.state_shape())});
    if (len) feeds.push_back({*len, Tensor::from_vector<int64_t>(c.lengths, {geo.batch})});
    const std::vector<Tensor> o = prog.run(feeds);

    RnnResult<T> r;
    std::size_t k = 0;
    r.y = values<T>(o[k++]);
    r.hn = values<T>(o[k++]);
    if (lstm) r.cn = values<T>(o[k++]);
    r.dx = values<T>(o[k++]);
    if (give_h0) r.dh0 = values<T>(o[k++]);
    if (give_h0 && lstm) r.dc0 = values<T>(o[k++]);
    for (int64_t d = 0; d < geo.directions(); ++d) {
        const auto u = static_cast<std::size_t>(d);
        r.dw_ih[u] = values<T>(o[k++]);
        r.dw_hh[u] = values<T>(o[k++]);
        r.db_ih[u] = values<T>(o[k++]);
        r.db_hh[u] = values<T>(o[k++]);
    }
    return r;
}

template <typename T>
void check_against_reference(const RnnResult<T>& a, const RnnResult<T>& ref, const RnnGeometry& g, double tol,
                             bool states = true) {
    CHECK(max_rel_diff(a.y, ref.y) < tol);
    CHECK(max_rel_diff(a.hn, ref.hn) < tol);
    CHECK(max_rel_diff(a.dx, ref.dx) < tol);
    if (states) CHECK(max_rel_diff(a.dh0, ref.dh0) < tol);
    if (g.has_cell_state()) {
        CHECK(max_rel_diff(a.cn, ref.cn) < tol);
        if (states) CHECK(max_rel_diff(a.dc0, ref.dc0) < tol);
    }
    for (int d = 0; d < g.directions(); ++d) {
        INFO("direction " << d);
        CHECK(max_rel_diff(a.dw_ih[d], ref.dw_ih[d]) < tol);
        CHECK(max_rel_diff(a.dw_hh[d], ref.dw_hh[d]) < tol);
        CHECK(max_rel_diff(a.db_ih[d], ref.db_ih[d]) < tol);
        CHECK(max_rel_diff(a.db_hh[d], ref.db_hh[d]) < tol);
    }
}

template <typename T>
void compare_one_layer(double tol) {
    for (RnnCell cell : kCells)
        for (bool bi : {false, true})
            for (bool with_lengths : {false, true}) {
                INFO(rnn_cell_name(cell) << (bi ? " bidirectional" : " unidirectional") << (with_lengths ? " lengths" : ""));
                const RnnGeometry g{.cell = cell, .seq = 5, .batch = 3, .input = 4, .hidden = 6, .bidirectional = bi};
                auto c = RnnCase<T>::random(g, 17);
                if (with_lengths) c.lengths = {5, 2, 3};
                const auto og = c.random_output_grads(18);
                check_against_reference(run_graph(c, og), run_reference(c, og), g, tol);
            }
}

}  // namespace

TEST_CASE("graph-code recurrent layer equals the reference kernels (f64, 1e-10)", "[rnn][models]") {
    compare_one_layer<double>(1e-10);
}

TEST_CASE("graph-code recurrent layer equals the reference kernels (f32, 1e-5)", "[rnn][models]") {
    compare_one_layer<float>(1e-5);
}

TEST_CASE("graph-code recurrent layer: absent initial states are zeros", "[rnn][models]") {
    for (RnnCell cell : kCells) {
        INFO(rnn_cell_name(cell));
        const RnnGeometry g{.cell = cell, .seq = 4, .batch = 2, .input = 3, .hidden = 5, .bidirectional = true};
        auto c = RnnCase<double>::random(g, 4);
        const auto og = c.random_output_grads(5);
        const RnnResult<double> graph = run_graph(c, og, /*give_h0=*/false);
        std::fill(c.h0.begin(), c.h0.end(), 0.0);
        std::fill(c.c0.begin(), c.c0.end(), 0.0);
        check_against_reference(graph, run_reference(c, og), g, 1e-10, /*states=*/false);
    }
}

namespace {

// Rows [k·NH, (k+1)·NH) of a [K, N, H] state tensor, for entries k in [k0, k0 + count).
std::vector<double> entries(const std::vector<double>& v, int64_t k0, int64_t count, int64_t NH) {
    return {v.begin() + k0 * NH, v.begin() + (k0 + count) * NH};
}

}  // namespace

TEST_CASE("graph-code two-layer bidirectional recurrent equals chained reference layers", "[rnn][models]") {
    for (RnnCell cell : kCells) {
        INFO(rnn_cell_name(cell));
        const int64_t T = 4, N = 2, I = 3, H = 4, D = 2, NH = N * H;
        const RnnGeometry g0{.cell = cell, .seq = T, .batch = N, .input = I, .hidden = H, .bidirectional = true};
        RnnGeometry g1 = g0;
        g1.input = D * H;
        auto c0 = RnnCase<double>::random(g0, 40);
        auto c1 = RnnCase<double>::random(g1, 41);
        const bool lstm = g0.has_cell_state();
        // Final-output gradients of the two-layer stack: dy of layer 1, dhn/dcn of both layers.
        const auto og1 = c1.random_output_grads(42);
        const auto og0 = c0.random_output_grads(43);

        // Reference: layer 0, then layer 1 on its output; backward through 1, then 0.
        const RnnResult<double> f0 = run_reference(c0, og0, false);
        c1.x = f0.y;
        const RnnResult<double> r1 = run_reference(c1, og1);
        RnnOutputGrads<double> g0_in = og0;
        g0_in.dy = r1.dx;
        const RnnResult<double> r0 = run_reference(c0, g0_in);

        Graph g;
        Value x = g.input("x", {T, N, I}, DType::F64);
        const Shape st{2 * D, N, H};
        RecurrentState init{g.input("h0", st, DType::F64), std::nullopt};
        if (lstm) init.c = g.input("c0", st, DType::F64);
        auto out = models::recurrent(x, {.cell = cell, .hidden = H, .layers = 2, .bidirectional = true}, "rnn", init);
        copy_weights(g, c0, 0);
        copy_weights(g, c1, 1);
        Value dy = g.input("dy", {T, N, D * H}, DType::F64), dhn = g.input("dhn", st, DType::F64);
        std::vector<Value> ys{out.y, *out.final.h}, seeds{dy, dhn};
        Value dcn;
        if (lstm) {
            dcn = g.input("dcn", st, DType::F64);
            ys.push_back(*out.final.c);
            seeds.push_back(dcn);
        }
        std::vector<Value> wrt{x, *init.h, g.find("rnn.weight_hh_l0_reverse"), g.find("rnn.bias_ih_l1"),
                               g.find("rnn.weight_ih_l1_reverse")};
        auto grads = grad(ys, wrt, seeds);
        std::vector<Value> fetches = ys;
        fetches.insert(fetches.end(), grads.begin(), grads.end());
        auto cat = [](const std::vector<double>& a, const std::vector<double>& b) {
            std::vector<double> v = a;
            v.insert(v.end(), b.begin(), b.end());
            return v;
        };
        Feeds feeds{{x, tensor(c0.x, {T, N, I})},
                    {*init.h, tensor(cat(c0.h0, c1.h0), st)},
                    {dy, tensor(og1.dy, {T, N, D * H})},
                    {dhn, tensor(cat(og0.dhn, og1.dhn), st)}};
        if (lstm) {
            feeds.push_back({*init.c, tensor(cat(c0.c0, c1.c0), st)});
            feeds.push_back({dcn, tensor(cat(og0.dcn, og1.dcn), st)});
        }
        const auto o = compile(g, fetches).run(feeds);
        std::size_t k = 0;
        CHECK(max_rel_diff(values<double>(o[k++]), r1.y) < 1e-10);
        const auto hn = values<double>(o[k++]);
        CHECK(max_rel_diff(entries(hn, 0, D, NH), f0.hn) < 1e-10);
        CHECK(max_rel_diff(entries(hn, D, D, NH), r1.hn) < 1e-10);
        if (lstm) {
            const auto cn = values<double>(o[k++]);
            CHECK(max_rel_diff(entries(cn, 0, D, NH), f0.cn) < 1e-10);
            CHECK(max_rel_diff(entries(cn, D, D, NH), r1.cn) < 1e-10);
        }
        CHECK(max_rel_diff(values<double>(o[k++]), r0.dx) < 1e-10);
        const auto dh0 = values<double>(o[k++]);
        CHECK(max_rel_diff(entries(dh0, 0, D, NH), r0.dh0) < 1e-10);
        CHECK(max_rel_diff(entries(dh0, D, D, NH), r1.dh0) < 1e-10);
        CHECK(max_rel_diff(values<double>(o[k++]), r0.dw_hh[1]) < 1e-10);
        CHECK(max_rel_diff(values<double>(o[k++]), r1.db_ih[0]) < 1e-10);
        CHECK(max_rel_diff(values<double>(o[k++]), r1.dw_ih[1]) < 1e-10);
    }
}

TEST_CASE("graph-code LSTM and GRU pass gradcheck in f64 (two layers, bidirectional)", "[rnn][models][gradcheck]") {
    for (RnnCell cell : {RnnCell::Lstm, RnnCell::Gru}) {
        INFO(rnn_cell_name(cell));
        const int64_t T = 3, N = 2, I = 2, H = 2;
        const RecurrentOptions base{.cell = cell, .hidden = H, .layers = 2, .bidirectional = true};
        const bool lstm = cell == RnnCell::Lstm;
        // Discover the parameters (names, shapes) the layer asks for.
        std::vector<std::pair<std::string, Shape>> params;
        {
            Graph g;
            RecurrentOptions o = base;
            o.params = [&](const std::string& name, const Shape& shape, const Initializer&) {
                params.emplace_back(name, shape);
                return g.constant(Tensor::zeros(shape, DType::F64));
            };
            models::recurrent(g.input("x", {T, N, I}, DType::F64), o, "rnn");
        }
        REQUIRE(params.size() == 16);
        std::vector<Tensor> inputs{uniform_tensor({T, N, I}, 1, DType::F64), uniform_tensor({4, N, H}, 2, DType::F64),
                                   uniform_tensor({4, N, H}, 3, DType::F64),
                                   Tensor::from_vector<int64_t>({3, 2}, {N})};
        std::vector<bool> differentiable{true, true, lstm, false};
        for (std::size_t i = 0; i < params.size(); ++i) {
            inputs.push_back(uniform_tensor(params[i].second, 10 + i, DType::F64, -0.8, 0.8));
            differentiable.push_back(true);
        }
        GraphFunction f = [&](Graph&, const std::vector<Value>& in) {
            std::map<std::string, Value> fed;
            for (std::size_t i = 0; i < params.size(); ++i) fed.emplace(params[i].first, in[4 + i]);
            RecurrentOptions o = base;
            o.params = [&](const std::string& name, const Shape&, const Initializer&) { return fed.at(name); };
            RecurrentState init{in[1], lstm ? std::optional<Value>(in[2]) : std::nullopt};
            auto out = models::recurrent(in[0], o, "rnn", init, in[3]);
            std::vector<Value> ys{out.y, *out.final.h};
            if (lstm) ys.push_back(*out.final.c);
            return ys;
        };
        GradcheckOptions opts;
        opts.full_jacobian_limit = 1 << 16;
        opts.second_order = false;
        const auto results = gradcheck_function(rnn_cell_name(cell), "T3 N2 I2 H2 L2 bi lengths", f, inputs, differentiable, opts);
        REQUIRE_FALSE(results.empty());
        for (const GradcheckResult& r : results) {
            INFO(r.describe());
            CHECK(r.mode == "jacobian");
            CHECK(r.passed);
        }
    }
}

TEST_CASE("graph-code recurrent dropout acts between layers in training programs only", "[rnn][models]") {
    const int64_t T = 4, N = 3, I = 5, H = 6;
    const Tensor xv = uniform_tensor({T, N, I}, 3, DType::F32);
    auto build = [&](Graph& g, int64_t layers, double p) {
        Value x = g.input("x", {T, N, I});
        return std::make_pair(x, models::recurrent(x, {.cell = RnnCell::Gru, .hidden = H, .layers = layers, .dropout = p}, "rnn").y);
    };
    auto run = [&](Graph& g, Value x, Value y, bool training) {
        return values<float>(compile(g, {y}, {.training = training}).run({{x, xv}})[0]);
    };
    Graph plain, drop;
    auto [xp, yp] = build(plain, 2, 0.0);
    auto [xd, yd] = build(drop, 2, 0.5);
    for (const auto& [name, entry] : plain.store().entries()) drop.store().get(name).copy_from(entry.value);
    const auto reference = run(plain, xp, yp, true);
    CHECK(max_rel_diff(run(drop, xd, yd, false), reference) == 0.0);  // evaluation: no dropout
    CHECK(max_rel_diff(run(drop, xd, yd, true), reference) > 1e-3);   // training: layer 0's outputs dropped

    Graph one;  // a single layer has no layer after it: nothing to drop
    auto [x1, y1] = build(one, 1, 0.5);
    CHECK(max_rel_diff(run(one, x1, y1, true), run(one, x1, y1, false)) == 0.0);
}

TEST_CASE("graph-code recurrent parameters: PyTorch's names, shapes and initialisation", "[rnn][models]") {
    Graph g;
    const int64_t I = 3, H = 8;
    models::recurrent(g.input("x", {5, 2, I}), {.cell = RnnCell::Lstm, .hidden = H, .layers = 2, .bidirectional = true}, "lstm");
    std::map<std::string, Shape> want;
    for (int l = 0; l < 2; ++l)
        for (const char* sfx : {"", "_reverse"}) {
            const std::string s = fmt::format("_l{}{}", l, sfx);
            want["lstm.weight_ih" + s] = {4 * H, l == 0 ? I : 2 * H};
            want["lstm.weight_hh" + s] = {4 * H, H};
            want["lstm.bias_ih" + s] = {4 * H};
            want["lstm.bias_hh" + s] = {4 * H};
        }
    std::map<std::string, Shape> got;
    for (const auto& [name, entry] : g.store().entries()) {
        got[name] = entry.value.shape();
        const double bound = 1.0 / std::sqrt(double(H));
        double lo = 1, hi = -1;
        for (int64_t i = 0; i < entry.value.numel(); ++i) {
            lo = std::min(lo, entry.value.get(i));
            hi = std::max(hi, entry.value.get(i));
        }
        INFO(name);
        CHECK(lo >= -bound);
        CHECK(hi <= bound);
        CHECK(hi - lo > bound);  // spread over the range, not a constant
    }
    CHECK(got == want);
}

TEST_CASE("graph-code recurrent: bad inputs are errors naming the layer", "[rnn][models]") {
    Graph g;
    Value x = g.input("x", {5, 2, 3});
    const RecurrentOptions lstm{.cell = RnnCell::Lstm, .hidden = 4};
    CHECK_THROWS_WITH(models::recurrent(g.input("x2", {5, 3}), lstm, "a"),
                      Catch::Contains("lstm \"a\": x must be a floating [T, N, I] tensor, got f32[5,3]"));
    CHECK_THROWS_WITH(models::recurrent(x, {.cell = RnnCell::Gru, .hidden = 0}, "b"),
                      Catch::Contains("gru \"b\": hidden size 0 and layers 1 must be at least 1"));
    CHECK_THROWS_WITH(models::recurrent(x, lstm, "c", {g.input("h", {2, 2, 4}), std::nullopt}),
                      Catch::Contains("lstm \"c\": initial h must be f32[1,2,4], got f32[2,2,4]"));
    CHECK_THROWS_WITH(models::recurrent(x, {.cell = RnnCell::Gru, .hidden = 4}, "d",
                                        {std::nullopt, g.input("c", {1, 2, 4})}),
                      Catch::Contains("gru \"d\": only the LSTM has a cell state"));
    CHECK_THROWS_WITH(models::recurrent(x, lstm, "e", {}, g.input("len", {2})),
                      Catch::Contains("lstm \"e\": lengths must be i64[2] (one per sequence), got f32[2]"));
    CHECK_THROWS_WITH(models::recurrent(x, {.cell = RnnCell::RnnTanh, .hidden = 4, .layers = 2, .dropout = 1.0}, "f"),
                      Catch::Contains("rnn_tanh \"f\": dropout 1 is outside [0, 1)"));
}
