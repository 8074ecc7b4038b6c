// Reference recurrent layers (see rnn.h). Steps are sequential; each step is parallel over the
// batch rows, which are independent. The backward stores each step's pre-activation gradients
// over the forward's gates in the workspace, so the weight gradients are computed after the
// time loop as sums over all steps, parallel over weight rows (no write races, no atomics).
#include "graphgrad/ops/reference/rnn.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "graphgrad/graph/errors.h"
#include "graphgrad/ops/kernels/kernel_util.h"

namespace gg {

namespace reference {

namespace {

// Element counts of one direction's workspace block, in this order.
struct WorkspaceLayout {
    int64_t gates, states, cells, hn_lin, dh, dc;
    explicit WorkspaceLayout(const RnnGeometry& g) {
        const int64_t nh = g.batch * g.hidden;
        gates = g.seq * g.batch * g.gates() * g.hidden;  // activated gates; backward: their gradients
        states = (g.seq + 1) * nh;                        // h before step 0 ... after step T−1
        cells = g.has_cell_state() ? (g.seq + 1) * nh : 0;
        hn_lin = g.cell == RnnCell::Gru ? g.seq * nh : 0;  // W_hn h + b_hn; backward: its gradient
        dh = nh;                                           // running ∂L/∂h of the backward
        dc = g.has_cell_state() ? nh : 0;
    }
    int64_t total() const { return gates + states + cells + hn_lin + dh + dc; }
};

// One direction's views into the workspace and its parameters.
template <typename T>
struct Direction {
    T *gates, *states, *cells, *hn_lin, *dh, *dc;
    const T *w_ih, *w_hh, *b_ih, *b_hh;
};

template <typename T>
Direction<T> direction(const RnnGeometry& g, void* workspace, const RnnParams<T>& p, int64_t d) {
    const WorkspaceLayout l(g);
    T* base = static_cast<T*>(workspace) + d * l.total();
    Direction<T> v{};
    v.gates = base;
    v.states = v.gates + l.gates;
    v.cells = v.states + l.states;
    v.hn_lin = v.cells + l.cells;
    v.dh = v.hn_lin + l.hn_lin;
    v.dc = v.dh + l.dh;
    const auto u = static_cast<std::size_t>(d);
    v.w_ih = p.weight_ih[u];
    v.w_hh = p.weight_hh[u];
    v.b_ih = p.bias_ih[u];
    v.b_hh = p.bias_hh[u];
    return v;
}

// The time index of processing step s: the reverse direction walks the sequence backwards.
inline int64_t time_of(const RnnGeometry& g, int64_t d, int64_t s) { return d == 0 ? s : g.seq - 1 - s; }
inline bool valid(const int64_t* lengths, int64_t n, int64_t t) { return !lengths || t < lengths[n]; }

template <typename T>
T sigmoid(T v) {
    return T(1) / (T(1) + std::exp(-v));
}

// simd reduction: lets the compiler vectorise the sum (a fixed, deterministic order).
template <typename T>
T dot(const T* a, const T* b, int64_t n) {
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

template <typename T>
void forward_direction(const RnnGeometry& g, const RnnForwardArgs<T>& a, int64_t d) {
    const Direction<T> v = direction(g, a.workspace, a.params, d);
    const int64_t T_ = g.seq, N = g.batch, I = g.input, H = g.hidden, GH = g.gates() * H, DH = g.directions() * H;
    const int64_t NH = N * H;

    // Input projection of every step at once: gates[s][n] = W_ih x_t + b_ih.
    parallel_range(
        T_ * N,
        [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                const int64_t s = r / N, n = r % N;
                const T* x = a.x + (time_of(g, d, s) * N + n) * I;
                T* pre = v.gates + r * GH;
                for (int64_t k = 0; k < GH; ++k) pre[k] = v.b_ih[k] + dot(v.w_ih + k * I, x, I);
            }
        },
        grain_for(GH * I));

    if (a.h0) std::copy_n(a.h0 + d * NH, NH, v.states);
    else std::fill_n(v.states, NH, T(0));
    if (g.has_cell_state()) {
        if (a.c0) std::copy_n(a.c0 + d * NH, NH, v.cells);
        else std::fill_n(v.cells, NH, T(0));
    }

    for (int64_t s = 0; s < T_; ++s) {
        const int64_t t = time_of(g, d, s);
        parallel_range(
            N,
            [&](int64_t n0, int64_t n1) {
                for (int64_t n = n0; n < n1; ++n) {
                    const T* hp = v.states + (s * N + n) * H;
                    T* h = v.states + ((s + 1) * N + n) * H;
                    T* y = a.y + (t * N + n) * DH + d * H;
                    T* pre = v.gates + (s * N + n) * GH;
                    if (!valid(a.lengths, n, t)) {  // past the end: the state carries over, output 0
                        std::copy_n(hp, H, h);
                        if (g.has_cell_state()) std::copy_n(v.cells + (s * N + n) * H, H, v.cells + ((s + 1) * N + n) * H);
                        std::fill_n(y, H, T(0));
                        continue;
                    }
                    // Recurrent projection; the GRU keeps W_hn h + b_hn apart (r scales it).
                    const int64_t added = g.cell == RnnCell::Gru ? 2 * H : GH;
                    for (int64_t k = 0; k < added; ++k) pre[k] += v.b_hh[k] + dot(v.w_hh + k * H, hp, H);
                    switch (g.cell) {
                        case RnnCell::RnnTanh:
                            for (int64_t j = 0; j < H; ++j) h[j] = pre[j] = std::tanh(pre[j]);
                            break;
                        case RnnCell::RnnRelu:
                            for (int64_t j = 0; j < H; ++j) h[j] = pre[j] = std::max(pre[j], T(0));
                            break;
                        case RnnCell::Lstm: {
                            const T* cp = v.cells + (s * N + n) * H;
                            T* c = v.cells + ((s + 1) * N + n) * H;
                            for (int64_t j = 0; j < H; ++j) {
                                const T i = pre[j] = sigmoid(pre[j]);
                                const T f = pre[H + j] = sigmoid(pre[H + j]);
                                const T gg = pre[2 * H + j] = std::tanh(pre[2 * H + j]);
                                const T o = pre[3 * H + j] = sigmoid(pre[3 * H + j]);
                                c[j] = f * cp[j] + i * gg;
                                h[j] = o * std::tanh(c[j]);
                            }
                            break;
                        }
                        case RnnCell::Gru: {
                            T* hl = v.hn_lin + (s * N + n) * H;
                            for (int64_t j = 0; j < H; ++j) hl[j] = v.b_hh[2 * H + j] + dot(v.w_hh + (2 * H + j) * H, hp, H);
                            for (int64_t j = 0; j < H; ++j) {
                                const T r = pre[j] = sigmoid(pre[j]);
                                const T z = pre[H + j] = sigmoid(pre[H + j]);
                                const T nn = pre[2 * H + j] = std::tanh(pre[2 * H + j] + r * hl[j]);
                                h[j] = (T(1) - z) * nn + z * hp[j];
                            }
                            break;
                        }
                    }
                    std::copy_n(h, H, y);
                }
            },
            grain_for(GH * H));
    }
    std::copy_n(v.states + T_ * NH, NH, a.hn + d * NH);
    if (g.has_cell_state()) std::copy_n(v.cells + T_ * NH, NH, a.cn + d * NH);
}

// Pre-activation gradients of step s for row n, written over the gates (and for the GRU
// the gradient of W_hn h + b_hn over hn_lin); dh becomes ∂L/∂h_prev, dc ∂L/∂c_prev.
template <typename T>
void backward_row(const RnnGeometry& g, const Direction<T>& v, int64_t s, int64_t n, T* dh, T* dc) {
    const int64_t N = g.batch, H = g.hidden, GH = g.gates() * H;
    T* ga = v.gates + (s * N + n) * GH;
    switch (g.cell) {
        case RnnCell::RnnTanh:
            for (int64_t j = 0; j < H; ++j) ga[j] = dh[j] * (T(1) - ga[j] * ga[j]);  // ga held h = tanh(a)
            std::fill_n(dh, H, T(0));
            break;
        case RnnCell::RnnRelu:
            for (int64_t j = 0; j < H; ++j) ga[j] = ga[j] > T(0) ? dh[j] : T(0);
            std::fill_n(dh, H, T(0));
            break;
        case RnnCell::Lstm: {
            const T* cp = v.cells + (s * N + n) * H;
            const T* c = v.cells + ((s + 1) * N + n) * H;
            for (int64_t j = 0; j < H; ++j) {
                const T i = ga[j], f = ga[H + j], gg = ga[2 * H + j], o = ga[3 * H + j];
                const T tc = std::tanh(c[j]);
                const T dcj = dc[j] + dh[j] * o * (T(1) - tc * tc);
                ga[j] = dcj * gg * i * (T(1) - i);
                ga[H + j] = dcj * cp[j] * f * (T(1) - f);
                ga[2 * H + j] = dcj * i * (T(1) - gg * gg);
                ga[3 * H + j] = dh[j] * tc * o * (T(1) - o);
                dc[j] = dcj * f;
                dh[j] = 0;
            }
            break;
        }
        case RnnCell::Gru: {
            const T* hp = v.states + (s * N + n) * H;
            T* hl = v.hn_lin + (s * N + n) * H;
            for (int64_t j = 0; j < H; ++j) {
                const T r = ga[j], z = ga[H + j], nn = ga[2 * H + j];
                const T dan = dh[j] * (T(1) - z) * (T(1) - nn * nn);
                ga[j] = dan * hl[j] * r * (T(1) - r);
                ga[H + j] = dh[j] * (hp[j] - nn) * z * (T(1) - z);
                ga[2 * H + j] = dan;
                hl[j] = dan * r;  // the gradient of W_hn h + b_hn
                dh[j] *= z;       // h' = ... + z ⊙ h
            }
            break;
        }
    }
    // dh += W_hhᵀ · (gradient of W_hh h + b_hh): gate rows k, the GRU's n rows from hn_lin.
    for (int64_t k = 0; k < GH; ++k) {
        const T gk = g.cell == RnnCell::Gru && k >= 2 * H ? v.hn_lin[(s * N + n) * H + k - 2 * H] : ga[k];
        if (gk == T(0)) continue;
        const T* w = v.w_hh + k * H;
        for (int64_t j = 0; j < H; ++j) dh[j] += gk * w[j];
    }
}

template <typename T>
void backward_direction(const RnnGeometry& g, const RnnBackwardArgs<T>& a, int64_t d) {
    const Direction<T> v = direction(g, a.workspace, a.params, d);
    const int64_t T_ = g.seq, N = g.batch, I = g.input, H = g.hidden, GH = g.gates() * H, DH = g.directions() * H;
    const int64_t NH = N * H;
    const auto u = static_cast<std::size_t>(d);
    const bool gru = g.cell == RnnCell::Gru;

    if (a.dhn) std::copy_n(a.dhn + d * NH, NH, v.dh);
    else std::fill_n(v.dh, NH, T(0));
    if (g.has_cell_state()) {
        if (a.dcn) std::copy_n(a.dcn + d * NH, NH, v.dc);
        else std::fill_n(v.dc, NH, T(0));
    }
    for (int64_t s = T_ - 1; s >= 0; --s) {
        const int64_t t = time_of(g, d, s);
        parallel_range(
            N,
            [&](int64_t n0, int64_t n1) {
                for (int64_t n = n0; n < n1; ++n) {
                    if (!valid(a.lengths, n, t)) {  // no contribution; dh, dc pass through
                        std::fill_n(v.gates + (s * N + n) * GH, GH, T(0));
                        if (gru) std::fill_n(v.hn_lin + (s * N + n) * H, H, T(0));
                        continue;
                    }
                    T* dh = v.dh + n * H;
                    if (a.dy) {
                        const T* dy = a.dy + (t * N + n) * DH + d * H;
                        for (int64_t j = 0; j < H; ++j) dh[j] += dy[j];
                    }
                    backward_row(g, v, s, n, dh, g.has_cell_state() ? v.dc + n * H : nullptr);
                }
            },
            grain_for(GH * H));
    }
    if (a.dh0) std::copy_n(v.dh, NH, a.dh0 + d * NH);
    if (g.has_cell_state() && a.dc0) std::copy_n(v.dc, NH, a.dc0 + d * NH);

    // Weight and bias gradients: sums over every (step, row), parallel over weight rows k.
    T* dw_ih = a.grads.weight_ih[u];
    T* dw_hh = a.grads.weight_hh[u];
    T* db_ih = a.grads.bias_ih[u];
    T* db_hh = a.grads.bias_hh[u];
    parallel_range(
        GH,
        [&](int64_t k0, int64_t k1) {
            for (int64_t k = k0; k < k1; ++k) {
                T* wi = dw_ih + k * I;
                T* wh = dw_hh + k * H;
                std::fill_n(wi, I, T(0));
                std::fill_n(wh, H, T(0));
                T bi = 0, bh = 0;
                for (int64_t s = 0; s < T_; ++s) {
                    const T* x = a.x + time_of(g, d, s) * N * I;
                    for (int64_t n = 0; n < N; ++n) {
                        const T gi = v.gates[(s * N + n) * GH + k];
                        const T gh = gru && k >= 2 * H ? v.hn_lin[(s * N + n) * H + k - 2 * H] : gi;
                        bi += gi;
                        bh += gh;
                        if (gi != T(0))
                            for (int64_t i = 0; i < I; ++i) wi[i] += gi * x[n * I + i];
                        if (gh != T(0)) {
                            const T* hp = v.states + (s * N + n) * H;
                            for (int64_t j = 0; j < H; ++j) wh[j] += gh * hp[j];
                        }
                    }
                }
                db_ih[k] = bi;
                db_hh[k] = bh;
            }
        },
        grain_for(T_ * N * (I + H)));
}

}  // namespace

std::size_t rnn_workspace_bytes(const RnnGeometry& geo, DType dtype) {
    return static_cast<std::size_t>(geo.directions() * WorkspaceLayout(geo).total()) * dtype_size(dtype);
}

void check_rnn_lengths(const RnnGeometry& geo, const int64_t* lengths, std::string_view who) {
    if (!lengths) return;
    for (int64_t n = 0; n < geo.batch; ++n)
        if (lengths[n] < 0 || lengths[n] > geo.seq)
            throw_runtime("{}: length {} of sequence {} is outside [0, {}] (the sequence has {} steps)", who,
                          lengths[n], n, geo.seq, geo.seq);
}

template <typename T>
void rnn_forward(const RnnGeometry& g, const RnnForwardArgs<T>& a) {
    check_rnn_lengths(g, a.lengths, rnn_cell_name(g.cell));
    for (int64_t d = 0; d < g.directions(); ++d) forward_direction(g, a, d);
}

template <typename T>
void rnn_backward(const RnnGeometry& g, const RnnBackwardArgs<T>& a) {
    check_rnn_lengths(g, a.lengths, rnn_cell_name(g.cell));
    for (int64_t d = 0; d < g.directions(); ++d) backward_direction(g, a, d);

    // dx_t = Σ_d W_ih,dᵀ · (gate gradients of direction d at time t); rows past a sequence's
    // end have zero gate gradients, so their dx is zero.
    const int64_t T_ = g.seq, N = g.batch, I = g.input, GH = g.gates() * g.hidden;
    const int64_t per_dir = WorkspaceLayout(g).total();
    parallel_range(
        T_ * N,
        [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                const int64_t t = r / N, n = r % N;
                T* dx = a.dx + r * I;
                std::fill_n(dx, I, T(0));
                for (int64_t d = 0; d < g.directions(); ++d) {
                    const T* ga = static_cast<const T*>(a.workspace) + d * per_dir + (time_of(g, d, t) * N + n) * GH;
                    const T* w = a.params.weight_ih[static_cast<std::size_t>(d)];
                    for (int64_t k = 0; k < GH; ++k) {
                        if (ga[k] == T(0)) continue;
                        for (int64_t i = 0; i < I; ++i) dx[i] += ga[k] * w[k * I + i];
                    }
                }
            }
        },
        grain_for(g.directions() * GH * I));
}

template void rnn_forward<float>(const RnnGeometry&, const RnnForwardArgs<float>&);
template void rnn_forward<double>(const RnnGeometry&, const RnnForwardArgs<double>&);
template void rnn_backward<float>(const RnnGeometry&, const RnnBackwardArgs<float>&);
template void rnn_backward<double>(const RnnGeometry&, const RnnBackwardArgs<double>&);

}  // namespace reference
}  // namespace gg
