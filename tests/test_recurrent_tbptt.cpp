// Truncated backpropagation through time with the graph-code recurrent layers: one chunk
// covering the sequence is full BPTT; shorter chunks carry the forward exactly (final states
// fed as the next chunk's initial states) and stop the gradient at chunk boundaries.
#include <catch2/catch.hpp>

#include "graphgrad/models/recurrent.h"
#include "graphgrad/ops/ops.h"
#include "recurrent_test_util.h"
#include "test_support.h"

using namespace gg;
using namespace gg::testing;
using models::RecurrentOptions;
using models::RecurrentState;

namespace {

// Truncated BPTT over x [T, N, I] in chunks of K steps with one program compiled for a
// chunk: state inputs fed with the previous chunk's fetched final states, loss Σ y·dy per
// chunk. Returns y and dx over the whole sequence and the parameter gradients summed over
// the chunks (the weights of `c`, one layer, unidirectional).
struct Tbptt {
    std::vector<double> y, dx, dw_ih, dw_hh, db_ih, db_hh;
};

Tbptt run_tbptt(const RnnCase<double>& c, const std::vector<double>& dy, int64_t K) {
    const RnnGeometry& geo = c.geo;
    const int64_t N = geo.batch, I = geo.input, H = geo.hidden;
    const bool lstm = geo.has_cell_state();
    const RecurrentOptions o{.cell = geo.cell, .hidden = H};
    Graph g;
    Value x = g.input("x", {K, N, I}, DType::F64);
    RecurrentState init = models::recurrent_state_inputs(g, o, N, "rnn", DType::F64);
    auto out = models::recurrent(x, o, "rnn", init);
    copy_weights(g, c, 0);
    Value seed = g.input("dy", {K, N, H}, DType::F64);
    Value loss = sum(out.y * seed);
    std::vector<Value> wrt{x, g.find("rnn.weight_ih_l0"), g.find("rnn.weight_hh_l0"), g.find("rnn.bias_ih_l0"),
                           g.find("rnn.bias_hh_l0")};
    auto grads = grad(loss, wrt);
    std::vector<Value> fetches{out.y, *out.final.h};
    if (lstm) fetches.push_back(*out.final.c);
    fetches.insert(fetches.end(), grads.begin(), grads.end());
    CompiledGraph step = compile(g, fetches);

    Tbptt r;
    Tensor h = tensor(c.h0, geo.state_shape()), cs = lstm ? tensor(c.c0, geo.state_shape()) : Tensor();
    const auto chunk = [&](const std::vector<double>& v, int64_t t0, int64_t width) {
        return tensor(std::vector<double>(v.begin() + t0 * N * width, v.begin() + (t0 + K) * N * width), {K, N, width});
    };
    auto add = [](std::vector<double>& acc, const std::vector<double>& v) {
        if (acc.empty()) acc.assign(v.size(), 0.0);
        for (std::size_t i = 0; i < v.size(); ++i) acc[i] += v[i];
    };
    for (int64_t t0 = 0; t0 < geo.seq; t0 += K) {
        Feeds feeds{{x, chunk(c.x, t0, I)}, {seed, chunk(dy, t0, H)}, {*init.h, h}};
        if (lstm) feeds.push_back({*init.c, cs});
        const auto o2 = step.run(feeds);
        std::size_t k = 0;
        const auto y = values<double>(o2[k++]);
        r.y.insert(r.y.end(), y.begin(), y.end());
        h = o2[k++].clone();  // the next chunk starts here; fed as an input, the gradient stops
        if (lstm) cs = o2[k++].clone();
        const auto dx = values<double>(o2[k++]);
        r.dx.insert(r.dx.end(), dx.begin(), dx.end());
        add(r.dw_ih, values<double>(o2[k++]));
        add(r.dw_hh, values<double>(o2[k++]));
        add(r.db_ih, values<double>(o2[k++]));
        add(r.db_hh, values<double>(o2[k++]));
    }
    return r;
}

}  // namespace

TEST_CASE("truncated BPTT: one chunk is full BPTT; chunks carry the forward exactly and stop the gradient",
          "[rnn][models][tbptt]") {
    for (RnnCell cell : {RnnCell::Lstm, RnnCell::Gru, RnnCell::RnnTanh}) {
        INFO(rnn_cell_name(cell));
        const RnnGeometry geo{.cell = cell, .seq = 6, .batch = 2, .input = 3, .hidden = 4};
        const auto c = RnnCase<double>::random(geo, 50);
        RnnOutputGrads<double> og = c.random_output_grads(51);
        std::fill(og.dhn.begin(), og.dhn.end(), 0.0);  // the loss reads y only
        std::fill(og.dcn.begin(), og.dcn.end(), 0.0);
        const RnnResult<double> full = run_reference(c, og);

        const Tbptt whole = run_tbptt(c, og.dy, geo.seq);
        CHECK(max_rel_diff(whole.y, full.y) < 1e-12);
        CHECK(max_rel_diff(whole.dx, full.dx) < 1e-10);
        CHECK(max_rel_diff(whole.dw_hh, full.dw_hh[0]) < 1e-10);
        CHECK(max_rel_diff(whole.db_ih, full.db_ih[0]) < 1e-10);

        // Chunks of 2: the same forward; each chunk's gradients are those of the chunk alone
        // with its carried initial state held constant.
        const int64_t K = 2, N = geo.batch, I = geo.input, H = geo.hidden;
        const Tbptt chunked = run_tbptt(c, og.dy, K);
        CHECK(max_rel_diff(chunked.y, full.y) < 1e-12);
        RnnResult<double> sum;
        std::vector<double> dx;
        for (int64_t t0 = 0; t0 < geo.seq; t0 += K) {
            RnnCase<double> part = c;
            part.geo.seq = K;
            part.x.assign(c.x.begin() + t0 * N * I, c.x.begin() + (t0 + K) * N * I);
            if (t0 > 0) {  // the carried state: the full forward's output at step t0 − 1
                part.h0.assign(full.y.begin() + (t0 - 1) * N * H, full.y.begin() + t0 * N * H);
                if (geo.has_cell_state()) {
                    RnnCase<double> prefix = c;
                    prefix.geo.seq = t0;
                    prefix.x.resize(static_cast<std::size_t>(t0 * N * I));
                    part.c0 = run_reference(prefix, {}, false).cn;
                }
            }
            RnnOutputGrads<double> pg;
            pg.dy.assign(og.dy.begin() + t0 * N * H, og.dy.begin() + (t0 + K) * N * H);
            pg.dhn.assign(static_cast<std::size_t>(N * H), 0.0);
            if (geo.has_cell_state()) pg.dcn.assign(static_cast<std::size_t>(N * H), 0.0);
            const RnnResult<double> r = run_reference(part, pg);
            dx.insert(dx.end(), r.dx.begin(), r.dx.end());
            if (sum.dw_hh[0].empty()) sum.dw_hh[0].assign(r.dw_hh[0].size(), 0.0);
            for (std::size_t i = 0; i < r.dw_hh[0].size(); ++i) sum.dw_hh[0][i] += r.dw_hh[0][i];
        }
        CHECK(max_rel_diff(chunked.dx, dx) < 1e-10);
        CHECK(max_rel_diff(chunked.dw_hh, sum.dw_hh[0]) < 1e-10);
        // Truncation changes the gradient of the early steps (the later losses no longer reach them).
        CHECK(max_rel_diff(std::vector<double>(chunked.dx.begin(), chunked.dx.begin() + N * I),
                           std::vector<double>(full.dx.begin(), full.dx.begin() + N * I)) > 1e-6);
    }
}

TEST_CASE("truncated BPTT: an early input gets exactly zero gradient from a later chunk's loss", "[rnn][models][tbptt]") {
    const int64_t T = 6, K = 3, N = 2, I = 3, H = 4;
    for (bool truncated : {false, true}) {
        INFO((truncated ? "truncated" : "connected"));
        Graph g;
        Value x = g.input("x", {T, N, I}, DType::F64);
        const RecurrentOptions o{.cell = RnnCell::Lstm, .hidden = H};
        auto first = models::recurrent(slice_axis(x, 0, 0, K), o, "rnn");
        // The second chunk shares the first chunk's parameters (looked up by name).
        RecurrentOptions shared = o;
        shared.params = [&](const std::string& name, const Shape&, const Initializer&) { return g.find(name); };
        RecurrentState carry = truncated ? models::recurrent_state_inputs(g, o, N, "carry", DType::F64) : first.final;
        auto second = models::recurrent(slice_axis(x, 0, K, T), shared, "rnn", carry);
        Value loss = sum(second.y * second.y);
        Value dx = grad(loss, {x})[0];
        std::vector<Value> fetches{second.y, dx, *first.final.h, *first.final.c};
        CompiledGraph prog = compile(g, fetches);
        const Tensor xv = uniform_tensor({T, N, I}, 7, DType::F64);
        Feeds feeds{{x, xv}};
        if (truncated) {  // fed with the first chunk's final states, computed by a first run
            const auto pre = compile(g, {*first.final.h, *first.final.c}).run({{x, xv}});
            feeds.push_back({*carry.h, pre[0].clone()});
            feeds.push_back({*carry.c, pre[1].clone()});
        }
        const auto out = prog.run(feeds);
        const auto d = values<double>(out[1]);
        double early = 0, late = 0;
        for (int64_t i = 0; i < K * N * I; ++i) early = std::max(early, std::abs(d[static_cast<std::size_t>(i)]));
        for (int64_t i = K * N * I; i < T * N * I; ++i) late = std::max(late, std::abs(d[static_cast<std::size_t>(i)]));
        CHECK(late > 1e-3);
        if (truncated) CHECK(early == 0.0);
        else CHECK(early > 1e-4);
    }
}
