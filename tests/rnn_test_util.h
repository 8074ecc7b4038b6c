// Shared fixtures for the recurrent-layer tests: one layer's inputs and parameters as plain
// vectors (PyTorch layouts), a forward + backward run on the reference kernels, and helpers
// to cut single sequences out of a batch and to flip sequences in time.
//
//   auto c = gg::testing::RnnCase<double>::random({.cell = gg::RnnCell::Gru, .seq = 3, .batch = 2,
//                                                  .input = 3, .hidden = 2}, /*seed=*/1);
//   auto r = gg::testing::run_reference(c, c.random_output_grads(2));
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "graphgrad/graph/rng.h"
#include "graphgrad/ops/reference/rnn.h"

namespace gg::testing {

template <typename T>
std::vector<T> random_vector(int64_t n, uint64_t seed, uint64_t stream, double lo = -1.0, double hi = 1.0) {
    std::vector<T> v(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        v[static_cast<std::size_t>(i)] = static_cast<T>(lo + (hi - lo) * uniform01(seed, stream, static_cast<uint64_t>(i)));
    return v;
}

// What flows into the backward: the gradients of y, hn and cn.
template <typename T>
struct RnnOutputGrads {
    std::vector<T> dy, dhn, dcn;
};

// Everything one run produces.
template <typename T>
struct RnnResult {
    std::vector<T> y, hn, cn, dx, dh0, dc0;
    std::vector<T> dw_ih[2], dw_hh[2], db_ih[2], db_hh[2];
};

template <typename T>
struct RnnCase {
    RnnGeometry geo;
    std::vector<T> x, h0, c0;
    std::vector<T> w_ih[2], w_hh[2], b_ih[2], b_hh[2];
    std::vector<int64_t> lengths;  // empty: every sequence is full

    // Weights in ±1/√H like PyTorch's init (scaled up a little so that gates saturate unevenly),
    // inputs and states in ±1.
    static RnnCase random(const RnnGeometry& g, uint64_t seed) {
        RnnCase c;
        c.geo = g;
        const int64_t sd = g.directions() * g.batch * g.hidden;
        c.x = random_vector<T>(g.seq * g.batch * g.input, seed, 1);
        c.h0 = random_vector<T>(sd, seed, 2);
        if (g.has_cell_state()) c.c0 = random_vector<T>(sd, seed, 3);
        const double k = 1.5 / std::sqrt(static_cast<double>(g.hidden));
        const int64_t gh = g.gates() * g.hidden;
        for (int d = 0; d < g.directions(); ++d) {
            const uint64_t s = 10 + 10 * static_cast<uint64_t>(d);
            c.w_ih[d] = random_vector<T>(gh * g.input, seed, s, -k, k);
            c.w_hh[d] = random_vector<T>(gh * g.hidden, seed, s + 1, -k, k);
            c.b_ih[d] = random_vector<T>(gh, seed, s + 2, -k, k);
            c.b_hh[d] = random_vector<T>(gh, seed, s + 3, -k, k);
        }
        return c;
    }

    RnnOutputGrads<T> random_output_grads(uint64_t seed) const {
        const int64_t sd = geo.directions() * geo.batch * geo.hidden;
        RnnOutputGrads<T> g;
        g.dy = random_vector<T>(geo.seq * geo.batch * geo.directions() * geo.hidden, seed, 100);
        g.dhn = random_vector<T>(sd, seed, 101);
        if (geo.has_cell_state()) g.dcn = random_vector<T>(sd, seed, 102);
        return g;
    }

    RnnParams<T> params() const {
        RnnParams<T> p;
        for (int d = 0; d < geo.directions(); ++d) {
            p.weight_ih[d] = w_ih[d].data();
            p.weight_hh[d] = w_hh[d].data();
            p.bias_ih[d] = b_ih[d].data();
            p.bias_hh[d] = b_hh[d].data();
        }
        return p;
    }
    const int64_t* lengths_ptr() const { return lengths.empty() ? nullptr : lengths.data(); }

    // Every differentiable input by name, for loops over all of them (gradient checks).
    std::vector<std::pair<std::string, std::vector<T>*>> differentiable() {
        std::vector<std::pair<std::string, std::vector<T>*>> v{{"x", &x}, {"h0", &h0}};
        if (geo.has_cell_state()) v.push_back({"c0", &c0});
        for (int d = 0; d < geo.directions(); ++d) {
            const std::string sfx = d ? "_reverse" : "";
            v.push_back({"weight_ih" + sfx, &w_ih[d]});
            v.push_back({"weight_hh" + sfx, &w_hh[d]});
            v.push_back({"bias_ih" + sfx, &b_ih[d]});
            v.push_back({"bias_hh" + sfx, &b_hh[d]});
        }
        return v;
    }
};

// The gradient a run computed for the input `name` of RnnCase::differentiable().
template <typename T>
const std::vector<T>& gradient_of(const RnnResult<T>& r, const std::string& name) {
    if (name == "x") return r.dx;
    if (name == "h0") return r.dh0;
    if (name == "c0") return r.dc0;
    const int d = name.find("_reverse") != std::string::npos ? 1 : 0;
    if (name.rfind("weight_ih", 0) == 0) return r.dw_ih[d];
    if (name.rfind("weight_hh", 0) == 0) return r.dw_hh[d];
    if (name.rfind("bias_ih", 0) == 0) return r.db_ih[d];
    return r.db_hh[d];
}

// Sizes every result vector for the case's geometry.
template <typename T>
RnnResult<T> sized_result(const RnnGeometry& g) {
    RnnResult<T> r;
    const auto sd = static_cast<std::size_t>(g.directions() * g.batch * g.hidden);
    r.y.resize(static_cast<std::size_t>(numel(g.y_shape())));
    r.hn.resize(sd);
    r.dh0.resize(sd);
    if (g.has_cell_state()) {
        r.cn.resize(sd);
        r.dc0.resize(sd);
    }
    r.dx.resize(static_cast<std::size_t>(numel(g.x_shape())));
    for (int d = 0; d < g.directions(); ++d) {
        r.dw_ih[d].resize(static_cast<std::size_t>(numel(g.weight_ih_shape())));
        r.dw_hh[d].resize(static_cast<std::size_t>(numel(g.weight_hh_shape())));
        r.db_ih[d].resize(static_cast<std::size_t>(numel(g.bias_shape())));
        r.db_hh[d].resize(static_cast<std::size_t>(numel(g.bias_shape())));
    }
    return r;
}

template <typename T>
RnnParamGrads<T> grads_of(RnnResult<T>& r, const RnnGeometry& g) {
    RnnParamGrads<T> p;
    for (int d = 0; d < g.directions(); ++d) {
        p.weight_ih[d] = r.dw_ih[d].data();
        p.weight_hh[d] = r.dw_hh[d].data();
        p.bias_ih[d] = r.db_ih[d].data();
        p.bias_hh[d] = r.db_hh[d].data();
    }
    return p;
}

template <typename T>
const T* data_or_null(const std::vector<T>& v) {
    return v.empty() ? nullptr : v.data();
}
template <typename T>
T* data_or_null(std::vector<T>& v) {
    return v.empty() ? nullptr : v.data();
}

// Forward only (backward = false) or forward and full BPTT on the reference kernels.
template <typename T>
RnnResult<T> run_reference(const RnnCase<T>& c, const RnnOutputGrads<T>& og, bool backward = true) {
    const RnnGeometry& g = c.geo;
    RnnResult<T> r = sized_result<T>(g);
    std::vector<T> ws(reference::rnn_workspace_bytes(g, sizeof(T) == 8 ? DType::F64 : DType::F32) / sizeof(T));
    reference::rnn_forward<T>(g, {.x = c.x.data(), .h0 = data_or_null(c.h0), .c0 = data_or_null(c.c0),
                                  .params = c.params(), .lengths = c.lengths_ptr(), .y = r.y.data(),
                                  .hn = r.hn.data(), .cn = data_or_null(r.cn), .workspace = ws.data()});
    if (!backward) return r;
    reference::rnn_backward<T>(
        g, {.x = c.x.data(), .h0 = data_or_null(c.h0), .c0 = data_or_null(c.c0), .params = c.params(),
            .lengths = c.lengths_ptr(), .y = r.y.data(), .hn = r.hn.data(), .cn = data_or_null(r.cn),
            .workspace = ws.data(), .dy = data_or_null(og.dy), .dhn = data_or_null(og.dhn),
            .dcn = data_or_null(og.dcn), .dx = r.dx.data(), .dh0 = r.dh0.data(), .dc0 = data_or_null(r.dc0),
            .grads = grads_of(r, g)});
    return r;
}

// Σ y·dy + Σ hn·dhn + Σ cn·dcn: the scalar whose gradient the backward computes.
template <typename T>
double output_dot(const RnnResult<T>& r, const RnnOutputGrads<T>& og) {
    double s = 0;
    for (std::size_t i = 0; i < r.y.size(); ++i) s += double(r.y[i]) * double(og.dy[i]);
    for (std::size_t i = 0; i < r.hn.size(); ++i) s += double(r.hn[i]) * double(og.dhn[i]);
    for (std::size_t i = 0; i < r.cn.size(); ++i) s += double(r.cn[i]) * double(og.dcn[i]);
    return s;
}

// max |a − b| / (1 + |b|) over two equally long vectors.
template <typename A, typename B>
double max_rel_diff(const std::vector<A>& a, const std::vector<B>& b) {
    double worst = a.size() == b.size() ? 0.0 : 1e300;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        worst = std::max(worst, std::abs(double(a[i]) - double(b[i])) / (1.0 + std::abs(double(b[i]))));
    return worst;
}

}  // namespace gg::testing
