// oneDNN recurrent layers (ops/dnn/rnn.h) against the reference kernels: forward outputs and
// every gradient, for the three cells (and both Elman activations), one and two directions,
// several shapes (T = 1, N = 1, I ≠ H), absent optional states, repeated runs (the primitive
// accumulates weight gradients), and nothing written outside the outputs.
#include <cstdlib>
#include <limits>
#include <memory>

#include <catch2/catch.hpp>

#include "graphgrad/graph/errors.h"
#include "graphgrad/ops/dnn/rnn.h"
#include "rnn_test_util.h"

namespace {

using namespace gg;
using namespace gg::testing;

const RnnCell kCells[] = {RnnCell::RnnTanh, RnnCell::RnnRelu, RnnCell::Lstm, RnnCell::Gru};

// 64-byte aligned bytes (what the arena gives kernels).
struct Aligned {
    explicit Aligned(std::size_t bytes) : p(static_cast<char*>(std::aligned_alloc(64, std::max<std::size_t>(64, (bytes + 63) / 64 * 64)))) {}
    ~Aligned() { std::free(p); }
    Aligned(const Aligned&) = delete;
    Aligned& operator=(const Aligned&) = delete;
    char* p;
};

constexpr std::size_t kGuard = 16;

// Output vectors with NaN guards after the data: the kernel must not write past an output.
struct Guarded {
    std::vector<float> v;
    std::size_t n = 0;
    explicit Guarded(std::size_t size) : v(size + kGuard, std::numeric_limits<float>::quiet_NaN()), n(size) {}
    float* data() { return n ? v.data() : nullptr; }
    bool guards_intact() const {
        for (std::size_t i = n; i < v.size(); ++i)
            if (!std::isnan(v[i])) return false;
        return true;
    }
    std::vector<float> values() const { return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n)}; }
};

struct DnnRun {
    RnnResult<float> r;
    bool guards_intact = true;
};

// Which optional states the caller passes to the oneDNN kernels.
struct Present {
    bool h0 = true, dhn = true, dh0 = true;
};

DnnRun run_dnn(dnn::RnnForward& fwd, dnn::RnnBackward& bwd, const RnnCase<float>& c, const RnnOutputGrads<float>& og,
               Present present = {}) {
    const RnnGeometry& g = c.geo;
    const RnnResult<float> shape = sized_result<float>(g);
    Guarded y(shape.y.size()), hn(shape.hn.size()), cn(shape.cn.size()), dx(shape.dx.size()), dh0(shape.dh0.size()),
        dc0(shape.dc0.size());
    std::vector<Guarded> pg;
    for (int d = 0; d < g.directions(); ++d)
        for (const auto* v : {&shape.dw_ih[d], &shape.dw_hh[d], &shape.db_ih[d], &shape.db_hh[d]}) pg.emplace_back(v->size());
    RnnParamGrads<float> grads;
    for (int d = 0; d < g.directions(); ++d) {
        grads.weight_ih[d] = pg[static_cast<std::size_t>(4 * d)].data();
        grads.weight_hh[d] = pg[static_cast<std::size_t>(4 * d + 1)].data();
        grads.bias_ih[d] = pg[static_cast<std::size_t>(4 * d + 2)].data();
        grads.bias_hh[d] = pg[static_cast<std::size_t>(4 * d + 3)].data();
    }
    REQUIRE(fwd.workspace_bytes() == bwd.workspace_bytes());
    Aligned ws(fwd.workspace_bytes()), s1(fwd.scratch_bytes()), s2(bwd.scratch_bytes());
    const float* h0 = present.h0 ? data_or_null(c.h0) : nullptr;
    const float* c0 = present.h0 ? data_or_null(c.c0) : nullptr;
    fwd.run({.x = c.x.data(), .h0 = h0, .c0 = c0, .params = c.params(), .y = y.data(), .hn = hn.data(),
             .cn = cn.data(), .workspace = ws.p},
            s1.p);
    bwd.run({.x = c.x.data(), .h0 = h0, .c0 = c0, .params = c.params(), .y = y.data(), .hn = hn.data(),
             .cn = cn.data(), .workspace = ws.p, .dy = og.dy.data(),
             .dhn = present.dhn ? data_or_null(og.dhn) : nullptr, .dcn = present.dhn ? data_or_null(og.dcn) : nullptr,
             .dx = dx.data(), .dh0 = present.dh0 ? dh0.data() : nullptr, .dc0 = present.dh0 ? dc0.data() : nullptr,
             .grads = grads},
            s2.p);
    DnnRun out;
    out.r.y = y.values();
    out.r.hn = hn.values();
    out.r.cn = cn.values();
    out.r.dx = dx.values();
    out.r.dh0 = dh0.values();
    out.r.dc0 = dc0.values();
    for (int d = 0; d < g.directions(); ++d) {
        out.r.dw_ih[d] = pg[static_cast<std::size_t>(4 * d)].values();
        out.r.dw_hh[d] = pg[static_cast<std::size_t>(4 * d + 1)].values();
        out.r.db_ih[d] = pg[static_cast<std::size_t>(4 * d + 2)].values();
        out.r.db_hh[d] = pg[static_cast<std::size_t>(4 * d + 3)].values();
    }
    for (const Guarded* v : {&y, &hn, &cn, &dx, &dh0, &dc0}) out.guards_intact = out.guards_intact && v->guards_intact();
    for (const Guarded& v : pg) out.guards_intact = out.guards_intact && v.guards_intact();
    return out;
}

// The same case in f64 on the reference kernels: the oracle.
RnnCase<double> to_f64(const RnnCase<float>& c) {
    RnnCase<double> d;
    d.geo = c.geo;
    auto cv = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
    d.x = cv(c.x);
    d.h0 = cv(c.h0);
    d.c0 = cv(c.c0);
    for (int k = 0; k < 2; ++k) {
        d.w_ih[k] = cv(c.w_ih[k]);
        d.w_hh[k] = cv(c.w_hh[k]);
        d.b_ih[k] = cv(c.b_ih[k]);
        d.b_hh[k] = cv(c.b_hh[k]);
    }
    return d;
}
RnnOutputGrads<double> to_f64(const RnnOutputGrads<float>& g) {
    return {{g.dy.begin(), g.dy.end()}, {g.dhn.begin(), g.dhn.end()}, {g.dcn.begin(), g.dcn.end()}};
}

void check_close(const RnnResult<float>& a, const RnnResult<double>& ref, const RnnGeometry& g, double tol,
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

struct Dims {
    int64_t T, N, I, H;
};

}  // namespace

TEST_CASE("oneDNN rnn kernels equal the reference (forward and every gradient)", "[rnn][dnn]") {
    dnn::Context ctx;
    const Dims shapes[] = {{1, 1, 3, 4}, {5, 3, 7, 5}, {4, 2, 8, 8}, {12, 6, 20, 33}};
    for (RnnCell cell : kCells)
        for (bool bi : {false, true})
            for (const Dims& s : shapes) {
                INFO(rnn_cell_name(cell) << (bi ? " bidirectional" : " unidirectional") << " T=" << s.T << " N=" << s.N
                                         << " I=" << s.I << " H=" << s.H);
                const RnnGeometry g{.cell = cell, .seq = s.T, .batch = s.N, .input = s.I, .hidden = s.H, .bidirectional = bi};
                auto fwd = dnn::make_rnn_forward(ctx, g);
                auto bwd = dnn::make_rnn_backward(ctx, g);
                REQUIRE(fwd);
                REQUIRE(bwd);
                const auto c = RnnCase<float>::random(g, 31);
                const auto og = c.random_output_grads(32);
                const RnnResult<double> ref = run_reference(to_f64(c), to_f64(og));
                const DnnRun first = run_dnn(*fwd, *bwd, c, og);
                CHECK(first.guards_intact);
                check_close(first.r, ref, g, 1e-5);
                // Again: weight gradients are accumulated by the primitive, so each run must
                // start them from zero; results repeat exactly.
                const DnnRun second = run_dnn(*fwd, *bwd, c, og);
                CHECK(max_rel_diff(second.r.dw_hh[0], first.r.dw_hh[0]) == 0.0);
                CHECK(max_rel_diff(second.r.db_ih[0], first.r.db_ih[0]) == 0.0);
                CHECK(max_rel_diff(second.r.dx, first.r.dx) == 0.0);
            }
}

TEST_CASE("oneDNN rnn kernels: absent initial states and state gradients are zeros", "[rnn][dnn]") {
    dnn::Context ctx;
    for (RnnCell cell : kCells)
        for (bool bi : {false, true}) {
            INFO(rnn_cell_name(cell) << (bi ? " bidirectional" : " unidirectional"));
            const RnnGeometry g{.cell = cell, .seq = 4, .batch = 3, .input = 5, .hidden = 6, .bidirectional = bi};
            dnn::RnnForward fwd(ctx, g);
            dnn::RnnBackward bwd(ctx, g);
            auto c = RnnCase<float>::random(g, 2);
            auto og = c.random_output_grads(3);
            const DnnRun absent = run_dnn(fwd, bwd, c, og, {.h0 = false, .dhn = false, .dh0 = false});
            CHECK(absent.guards_intact);
            // The reference with explicit zeros.
            std::fill(c.h0.begin(), c.h0.end(), 0.0f);
            std::fill(c.c0.begin(), c.c0.end(), 0.0f);
            std::fill(og.dhn.begin(), og.dhn.end(), 0.0f);
            std::fill(og.dcn.begin(), og.dcn.end(), 0.0f);
            const RnnResult<double> ref = run_reference(to_f64(c), to_f64(og));
            check_close(absent.r, ref, g, 1e-5, /*states=*/false);
        }
}

TEST_CASE("oneDNN rnn kernels: one workspace size for forward and backward, lengths declined", "[rnn][dnn]") {
    dnn::Context ctx;
    const RnnGeometry g{.cell = RnnCell::Lstm, .seq = 6, .batch = 2, .input = 3, .hidden = 4};
    dnn::RnnForward fwd(ctx, g);
    dnn::RnnBackward bwd(ctx, g);
    CHECK(fwd.workspace_bytes() == bwd.workspace_bytes());
    // At least the gates of every step (it also holds states and their gradients).
    CHECK(fwd.workspace_bytes() >= static_cast<std::size_t>(g.seq * g.batch * 4 * g.hidden) * sizeof(float));
    CHECK(dnn::make_rnn_forward(ctx, {.cell = RnnCell::Gru, .seq = 0, .batch = 2, .input = 3, .hidden = 4}) == nullptr);
    // The forward wants ldigo (a transpose of PyTorch's layout); the backward reads a
    // unidirectional LSTM's W_ih as it is when oneDNN pads nothing (I a multiple of 16
    // floats); the GRU's gates are reordered block by block.
    CHECK_THAT(fwd.conversions(), Catch::StartsWith("weight_ih: 1 reorder"));
    CHECK_THAT(bwd.conversions(), Catch::StartsWith("weight_ih: 1 reorder"));  // I = 3: padded to 16
    dnn::RnnBackward wide(ctx, {.cell = RnnCell::Lstm, .seq = 6, .batch = 2, .input = 64, .hidden = 32});
    CHECK_THAT(wide.conversions(), Catch::StartsWith("weight_ih: bound in place"));
    dnn::RnnForward gru(ctx, {.cell = RnnCell::Gru, .seq = 6, .batch = 2, .input = 3, .hidden = 4, .bidirectional = true});
    CHECK_THAT(gru.conversions(), Catch::StartsWith("weight_ih: 6 reorders"));

    const auto c = RnnCase<float>::random(g, 1);
    const std::vector<int64_t> lengths{6, 3};
    Aligned ws(fwd.workspace_bytes()), scratch(fwd.scratch_bytes());
    std::vector<float> y(static_cast<std::size_t>(numel(g.y_shape()))), hn(16), cn(16);
    CHECK_THROWS_WITH(fwd.run({.x = c.x.data(), .params = c.params(), .lengths = lengths.data(), .y = y.data(),
                               .hn = hn.data(), .cn = cn.data(), .workspace = ws.p},
                              scratch.p),
                      Catch::Contains("lstm: oneDNN's RNN primitives have no per-sequence lengths"));
}
