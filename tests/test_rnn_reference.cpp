// The reference recurrent kernels (ops/reference/rnn.h): the forward against the cell
// equations written out per element, every gradient against central differences in f64,
// variable lengths against running each sequence alone, and the reverse direction against
// the forward direction run on the time-flipped sequence.
#include <catch2/catch.hpp>

#include "graphgrad/graph/errors.h"
#include "graphgrad/io/safetensors.h"
#include "rnn_test_util.h"

namespace {

using namespace gg;
using namespace gg::testing;

const RnnCell kCells[] = {RnnCell::RnnTanh, RnnCell::RnnRelu, RnnCell::Lstm, RnnCell::Gru};

double sigm(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// One step of PyTorch's cell equations for batch row n, written out from the documentation
// (torch.nn.RNN/LSTM/GRU), independent of the kernel's loop structure.
void naive_step(const RnnCase<double>& c, int d, const double* x, double* h, double* cs) {
    const int64_t H = c.geo.hidden, I = c.geo.input;
    auto lin = [&](const std::vector<double>& w, const std::vector<double>& b, const double* v, int64_t k, int64_t len) {
        double s = b[static_cast<std::size_t>(k)];
        for (int64_t i = 0; i < len; ++i) s += w[static_cast<std::size_t>(k * len + i)] * v[i];
        return s;
    };
    auto xin = [&](int64_t k) { return lin(c.w_ih[d], c.b_ih[d], x, k, I); };
    auto hid = [&](int64_t k) { return lin(c.w_hh[d], c.b_hh[d], h, k, H); };
    std::vector<double> hn(static_cast<std::size_t>(H)), cn(static_cast<std::size_t>(H));
    for (int64_t j = 0; j < H; ++j) {
        const auto u = static_cast<std::size_t>(j);
        switch (c.geo.cell) {
            case RnnCell::RnnTanh: hn[u] = std::tanh(xin(j) + hid(j)); break;
            case RnnCell::RnnRelu: hn[u] = std::max(0.0, xin(j) + hid(j)); break;
            case RnnCell::Lstm: {
                const double i = sigm(xin(j) + hid(j)), f = sigm(xin(H + j) + hid(H + j));
                const double g = std::tanh(xin(2 * H + j) + hid(2 * H + j)), o = sigm(xin(3 * H + j) + hid(3 * H + j));
                cn[u] = f * cs[j] + i * g;
                hn[u] = o * std::tanh(cn[u]);
                break;
            }
            case RnnCell::Gru: {
                const double r = sigm(xin(j) + hid(j)), z = sigm(xin(H + j) + hid(H + j));
                const double n = std::tanh(xin(2 * H + j) + r * hid(2 * H + j));
                hn[u] = (1 - z) * n + z * h[j];
                break;
            }
        }
    }
    std::copy(hn.begin(), hn.end(), h);
    if (cs) std::copy(cn.begin(), cn.end(), cs);
}

RnnGeometry geo(RnnCell cell, int64_t T, int64_t N, int64_t I, int64_t H, bool bi) {
    return {.cell = cell, .seq = T, .batch = N, .input = I, .hidden = H, .bidirectional = bi};
}

// Sequence n of a batch on its own: its valid steps only, batch 1, the same parameters.
template <typename T>
RnnCase<T> single_sequence(const RnnCase<T>& c, int64_t n) {
    const RnnGeometry& g = c.geo;
    RnnCase<T> s = c;
    s.geo.seq = c.lengths.empty() ? g.seq : c.lengths[static_cast<std::size_t>(n)];
    s.geo.batch = 1;
    s.lengths.clear();
    s.x.assign(c.x.begin(), c.x.begin());
    for (int64_t t = 0; t < s.geo.seq; ++t)
        for (int64_t i = 0; i < g.input; ++i) s.x.push_back(c.x[static_cast<std::size_t>((t * g.batch + n) * g.input + i)]);
    auto state_row = [&](const std::vector<T>& v) {
        std::vector<T> r;
        for (int64_t d = 0; d < g.directions(); ++d)
            for (int64_t j = 0; j < g.hidden; ++j) r.push_back(v[static_cast<std::size_t>((d * g.batch + n) * g.hidden + j)]);
        return r;
    };
    s.h0 = state_row(c.h0);
    if (g.has_cell_state()) s.c0 = state_row(c.c0);
    return s;
}

// Time index of step t of sequence n when each sequence is flipped within its own length.
int64_t flip_time(const RnnCase<double>& c, int64_t n, int64_t t) {
    const int64_t len = c.lengths.empty() ? c.geo.seq : c.lengths[static_cast<std::size_t>(n)];
    return t < len ? len - 1 - t : t;
}

// Flips a [T, N, C] tensor within each sequence's length.
std::vector<double> flip(const RnnCase<double>& c, const std::vector<double>& v, int64_t channels) {
    std::vector<double> out(v.size());
    for (int64_t t = 0; t < c.geo.seq; ++t)
        for (int64_t n = 0; n < c.geo.batch; ++n)
            for (int64_t k = 0; k < channels; ++k)
                out[static_cast<std::size_t>((flip_time(c, n, t) * c.geo.batch + n) * channels + k)] =
                    v[static_cast<std::size_t>((t * c.geo.batch + n) * channels + k)];
    return out;
}

// Channels [c0, c0 + count) of a [rows, C] tensor.
std::vector<double> channels(const std::vector<double>& v, int64_t C, int64_t c0, int64_t count) {
    std::vector<double> out;
    for (std::size_t r = 0; r < v.size() / static_cast<std::size_t>(C); ++r)
        for (int64_t k = 0; k < count; ++k) out.push_back(v[r * static_cast<std::size_t>(C) + static_cast<std::size_t>(c0 + k)]);
    return out;
}

std::vector<double> direction_rows(const std::vector<double>& v, int64_t d, int64_t per_dir) {
    return {v.begin() + d * per_dir, v.begin() + (d + 1) * per_dir};
}

}  // namespace

TEST_CASE("reference rnn forward follows PyTorch's cell equations", "[rnn][reference]") {
    for (RnnCell cell : kCells) {
        INFO(rnn_cell_name(cell));
        auto c = RnnCase<double>::random(geo(cell, 3, 2, 3, 4, false), 7);
        const RnnResult<double> r = run_reference(c, {}, false);
        const int64_t H = c.geo.hidden, N = c.geo.batch;
        for (int64_t n = 0; n < N; ++n) {
            std::vector<double> h(c.h0.begin() + n * H, c.h0.begin() + (n + 1) * H), cs;
            if (c.geo.has_cell_state()) cs.assign(c.c0.begin() + n * H, c.c0.begin() + (n + 1) * H);
            for (int64_t t = 0; t < c.geo.seq; ++t) {
                naive_step(c, 0, c.x.data() + (t * N + n) * c.geo.input, h.data(), cs.empty() ? nullptr : cs.data());
                for (int64_t j = 0; j < H; ++j) CHECK(r.y[static_cast<std::size_t>((t * N + n) * H + j)] == Approx(h[static_cast<std::size_t>(j)]).epsilon(1e-12));
            }
            for (int64_t j = 0; j < H; ++j) {
                CHECK(r.hn[static_cast<std::size_t>(n * H + j)] == Approx(h[static_cast<std::size_t>(j)]).epsilon(1e-12));
                if (!cs.empty()) CHECK(r.cn[static_cast<std::size_t>(n * H + j)] == Approx(cs[static_cast<std::size_t>(j)]).epsilon(1e-12));
            }
        }
    }
}

TEST_CASE("reference rnn gradients equal central differences (f64)", "[rnn][reference][gradcheck]") {
    for (RnnCell cell : kCells)
        for (bool bi : {false, true})
            for (bool with_lengths : {false, true}) {
                INFO(rnn_cell_name(cell) << (bi ? " bidirectional" : " unidirectional") << (with_lengths ? " lengths" : ""));
                auto c = RnnCase<double>::random(geo(cell, 4, 3, 3, 3, bi), 11);
                if (with_lengths) c.lengths = {4, 2, 1};
                const auto og = c.random_output_grads(5);
                const RnnResult<double> r = run_reference(c, og);
                const double eps = 1e-6;
                for (auto& [name, vec] : c.differentiable()) {
                    INFO(name);
                    const std::vector<double>& analytic = gradient_of(r, name);
                    REQUIRE(analytic.size() == vec->size());
                    double worst = 0;
                    for (std::size_t i = 0; i < vec->size(); ++i) {
                        const double keep = (*vec)[i];
                        (*vec)[i] = keep + eps;
                        const double up = output_dot(run_reference(c, og, false), og);
                        (*vec)[i] = keep - eps;
                        const double down = output_dot(run_reference(c, og, false), og);
                        (*vec)[i] = keep;
                        const double numeric = (up - down) / (2 * eps);
                        worst = std::max(worst, std::abs(numeric - analytic[i]) / (1.0 + std::abs(numeric)));
                    }
                    CHECK(worst < 1e-7);
                }
            }
}

TEST_CASE("reference rnn with lengths equals each sequence run alone", "[rnn][reference][lengths]") {
    for (RnnCell cell : kCells)
        for (bool bi : {false, true}) {
            INFO(rnn_cell_name(cell) << (bi ? " bidirectional" : " unidirectional"));
            auto c = RnnCase<double>::random(geo(cell, 5, 3, 2, 3, bi), 3);
            c.lengths = {2, 5, 4};
            const auto og = c.random_output_grads(9);
            const RnnResult<double> r = run_reference(c, og);
            const RnnGeometry& g = c.geo;
            const int64_t H = g.hidden, DH = g.directions() * H, N = g.batch;
            std::vector<double> dw_sum[4][2];
            for (int64_t n = 0; n < N; ++n) {
                INFO("sequence " << n);
                const RnnCase<double> s = single_sequence(c, n);
                const int64_t len = s.geo.seq;
                RnnOutputGrads<double> sg;
                for (int64_t t = 0; t < len; ++t)
                    for (int64_t k = 0; k < DH; ++k) sg.dy.push_back(og.dy[static_cast<std::size_t>((t * N + n) * DH + k)]);
                for (int64_t d = 0; d < g.directions(); ++d)
                    for (int64_t j = 0; j < H; ++j) {
                        sg.dhn.push_back(og.dhn[static_cast<std::size_t>((d * N + n) * H + j)]);
                        if (g.has_cell_state()) sg.dcn.push_back(og.dcn[static_cast<std::size_t>((d * N + n) * H + j)]);
                    }
                const RnnResult<double> a = run_reference(s, sg);
                for (int64_t t = 0; t < g.seq; ++t)
                    for (int64_t k = 0; k < DH; ++k) {
                        const double batched = r.y[static_cast<std::size_t>((t * N + n) * DH + k)];
                        if (t < len) CHECK(batched == Approx(a.y[static_cast<std::size_t>(t * DH + k)]).epsilon(1e-12));
                        else CHECK(batched == 0.0);  // past the end: zero output
                    }
                for (int64_t t = 0; t < g.seq; ++t)
                    for (int64_t i = 0; i < g.input; ++i) {
                        const double batched = r.dx[static_cast<std::size_t>((t * N + n) * g.input + i)];
                        if (t < len) CHECK(batched == Approx(a.dx[static_cast<std::size_t>(t * g.input + i)]).epsilon(1e-10));
                        else CHECK(batched == 0.0);  // ignored input
                    }
                for (int64_t d = 0; d < g.directions(); ++d)
                    for (int64_t j = 0; j < H; ++j) {
                        const auto bi_ = static_cast<std::size_t>((d * N + n) * H + j), si = static_cast<std::size_t>(d * H + j);
                        CHECK(r.hn[bi_] == Approx(a.hn[si]).epsilon(1e-12));
                        CHECK(r.dh0[bi_] == Approx(a.dh0[si]).epsilon(1e-10));
                        if (g.has_cell_state()) {
                            CHECK(r.cn[bi_] == Approx(a.cn[si]).epsilon(1e-12));
                            CHECK(r.dc0[bi_] == Approx(a.dc0[si]).epsilon(1e-10));
                        }
                    }
                // The batch's parameter gradients are the sums of the sequences' own.
                for (int d = 0; d < g.directions(); ++d) {
                    const std::vector<double>* parts[4] = {&a.dw_ih[d], &a.dw_hh[d], &a.db_ih[d], &a.db_hh[d]};
                    for (int p = 0; p < 4; ++p) {
                        if (dw_sum[p][d].empty()) dw_sum[p][d].assign(parts[p]->size(), 0.0);
                        for (std::size_t i = 0; i < parts[p]->size(); ++i) dw_sum[p][d][i] += (*parts[p])[i];
                    }
                }
            }
            for (int d = 0; d < g.directions(); ++d) {
                CHECK(max_rel_diff(r.dw_ih[d], dw_sum[0][d]) < 1e-12);
                CHECK(max_rel_diff(r.dw_hh[d], dw_sum[1][d]) < 1e-12);
                CHECK(max_rel_diff(r.db_ih[d], dw_sum[2][d]) < 1e-12);
                CHECK(max_rel_diff(r.db_hh[d], dw_sum[3][d]) < 1e-12);
            }
        }
}

TEST_CASE("reference rnn reverse direction is the forward direction on the flipped sequence",
          "[rnn][reference][bidirectional]") {
    for (RnnCell cell : kCells)
        for (bool with_lengths : {false, true}) {
            INFO(rnn_cell_name(cell) << (with_lengths ? " lengths" : ""));
            auto c = RnnCase<double>::random(geo(cell, 4, 3, 3, 2, true), 21);
            if (with_lengths) c.lengths = {4, 1, 3};
            const auto og = c.random_output_grads(4);
            const RnnResult<double> r = run_reference(c, og);
            const RnnGeometry& g = c.geo;
            const int64_t H = g.hidden, NH = g.batch * H;
            std::vector<double> dx_sum(r.dx.size(), 0.0);

            // Direction d alone, as a unidirectional layer; d = 1 on the flipped sequence.
            for (int d = 0; d < 2; ++d) {
                INFO("direction " << d);
                RnnCase<double> u = c;
                u.geo.bidirectional = false;
                u.w_ih[0] = c.w_ih[d];
                u.w_hh[0] = c.w_hh[d];
                u.b_ih[0] = c.b_ih[d];
                u.b_hh[0] = c.b_hh[d];
                u.h0 = direction_rows(c.h0, d, NH);
                if (g.has_cell_state()) u.c0 = direction_rows(c.c0, d, NH);
                if (d == 1) u.x = flip(c, c.x, g.input);
                RnnOutputGrads<double> ug;
                ug.dy = channels(og.dy, 2 * H, d * H, H);
                if (d == 1) ug.dy = flip(c, ug.dy, H);
                ug.dhn = direction_rows(og.dhn, d, NH);
                if (g.has_cell_state()) ug.dcn = direction_rows(og.dcn, d, NH);
                const RnnResult<double> a = run_reference(u, ug);

                std::vector<double> y = a.y, dx = a.dx;
                if (d == 1) {
                    y = flip(c, y, H);
                    dx = flip(c, dx, g.input);
                }
                CHECK(max_rel_diff(channels(r.y, 2 * H, d * H, H), y) < 1e-12);
                CHECK(max_rel_diff(direction_rows(r.hn, d, NH), a.hn) < 1e-12);
                CHECK(max_rel_diff(direction_rows(r.dh0, d, NH), a.dh0) < 1e-12);
                if (g.has_cell_state()) CHECK(max_rel_diff(direction_rows(r.dc0, d, NH), a.dc0) < 1e-12);
                CHECK(max_rel_diff(r.dw_ih[d], a.dw_ih[0]) < 1e-12);
                CHECK(max_rel_diff(r.dw_hh[d], a.dw_hh[0]) < 1e-12);
                CHECK(max_rel_diff(r.db_ih[d], a.db_ih[0]) < 1e-12);
                CHECK(max_rel_diff(r.db_hh[d], a.db_hh[0]) < 1e-12);
                for (std::size_t i = 0; i < dx.size(); ++i) dx_sum[i] += dx[i];
            }
            CHECK(max_rel_diff(r.dx, dx_sum) < 1e-12);  // dx sums both directions' contributions
        }
}

TEST_CASE("reference rnn: zero-length sequences and bad lengths", "[rnn][reference][lengths]") {
    auto c = RnnCase<double>::random(geo(RnnCell::Lstm, 3, 2, 2, 2, true), 1);
    c.lengths = {0, 3};
    const auto og = c.random_output_grads(2);
    const RnnResult<double> r = run_reference(c, og);
    const int64_t H = 2, N = 2;
    for (int64_t t = 0; t < 3; ++t)
        for (int64_t k = 0; k < 2 * H; ++k) CHECK(r.y[static_cast<std::size_t>((t * N + 0) * 2 * H + k)] == 0.0);
    for (int64_t d = 0; d < 2; ++d)
        for (int64_t j = 0; j < H; ++j) {
            const auto i = static_cast<std::size_t>((d * N + 0) * H + j);
            CHECK(r.hn[i] == c.h0[i]);  // the state never updated
            CHECK(r.cn[i] == c.c0[i]);
            CHECK(r.dh0[i] == og.dhn[i]);  // and its gradient passes straight through
            CHECK(r.dc0[i] == og.dcn[i]);
        }

    c.lengths = {2, 4};
    CHECK_THROWS_WITH(run_reference(c, og),
                      Catch::Contains("lstm: length 4 of sequence 1 is outside [0, 3]"));
    c.lengths = {-1, 2};
    CHECK_THROWS_AS(run_reference(c, og), gg::RuntimeError);
}

TEST_CASE("reference rnn kernels equal PyTorch's nn.RNN/LSTM/GRU (f64 fixture)", "[rnn][reference][pytorch]") {
    // tools/compare/rnn_fixture.py: PyTorch 1.13 in f64, one layer, full and packed batches.
    const auto file = io::SafetensorsFile::open(std::string(GG_TEST_DATA_DIR) + "/rnn_pytorch.safetensors");
    auto vec = [&](const std::string& name) { return file.tensor(name).to_doubles(); };
    int cases = 0;
    for (RnnCell cell : kCells)
        for (bool bi : {false, true})
            for (bool packed : {false, true}) {
                const std::string key =
                    fmt::format("{}.{}.{}.", rnn_cell_name(cell), bi ? "bi" : "uni", packed ? "packed" : "full");
                INFO(key);
                const Shape xs = file.entries().at(key + "x").shape;
                const Shape hs = file.entries().at(key + "h0").shape;
                RnnCase<double> c;
                c.geo = {.cell = cell, .seq = xs[0], .batch = xs[1], .input = xs[2], .hidden = hs[2], .bidirectional = bi};
                c.x = vec(key + "x");
                c.h0 = vec(key + "h0");
                if (c.geo.has_cell_state()) c.c0 = vec(key + "c0");
                if (packed)
                    for (double v : vec(key + "lengths")) c.lengths.push_back(static_cast<int64_t>(v));
                RnnOutputGrads<double> og{vec(key + "dy"), vec(key + "dhn"), {}};
                if (c.geo.has_cell_state()) og.dcn = vec(key + "dcn");
                for (int d = 0; d < c.geo.directions(); ++d) {
                    const std::string sfx = d ? "_l0_reverse" : "_l0";
                    c.w_ih[d] = vec(key + "weight_ih" + sfx);
                    c.w_hh[d] = vec(key + "weight_hh" + sfx);
                    c.b_ih[d] = vec(key + "bias_ih" + sfx);
                    c.b_hh[d] = vec(key + "bias_hh" + sfx);
                }
                const RnnResult<double> r = run_reference(c, og);
                CHECK(max_rel_diff(r.y, vec(key + "y")) < 1e-12);
                CHECK(max_rel_diff(r.hn, vec(key + "hn")) < 1e-12);
                CHECK(max_rel_diff(r.dx, vec(key + "grad.x")) < 1e-12);
                CHECK(max_rel_diff(r.dh0, vec(key + "grad.h0")) < 1e-12);
                if (c.geo.has_cell_state()) {
                    CHECK(max_rel_diff(r.cn, vec(key + "cn")) < 1e-12);
                    CHECK(max_rel_diff(r.dc0, vec(key + "grad.c0")) < 1e-12);
                }
                for (int d = 0; d < c.geo.directions(); ++d) {
                    const std::string sfx = d ? "_l0_reverse" : "_l0";
                    CHECK(max_rel_diff(r.dw_ih[d], vec(key + "grad.weight_ih" + sfx)) < 1e-12);
                    CHECK(max_rel_diff(r.dw_hh[d], vec(key + "grad.weight_hh" + sfx)) < 1e-12);
                    CHECK(max_rel_diff(r.db_ih[d], vec(key + "grad.bias_ih" + sfx)) < 1e-12);
                    CHECK(max_rel_diff(r.db_hh[d], vec(key + "grad.bias_hh" + sfx)) < 1e-12);
                }
                ++cases;
            }
    CHECK(cases == 16);
}
