// The lambda layer of LambdaNetworks (Bello, ICLR 2021), following the paper's equations:
//
//   Q = BN(conv_q(x))  [b, n, h, k]      K = softmax_m(conv_k(x))  [b, m, k, u]
//   V = BN(conv_v(x))  [b, m, v, u]
//   λc[b, k, v]    = Σ_{m,u} K[b, m, k, u] · V[b, m, v, u]          (shared by all positions)
//   λp[b, n, k, v] = Σ_{m,u} E[n, m, k, u] · V[b, m, v, u]
//   y[b, n, h, v]  = Σ_k Q[b, n, h, k] · (λc + λp)[b, n, k, v]       → [N, h·v, H, W]
//
// How the graph computes it (sizes for the zoo's 14x14 layer: n = 196, k = 16, u = 1, v = 16).
// Layouts are chosen so that every product is a plain or batched matmul and only three tensors
// are moved (two tiled transposes of [b, 64, n] and one [b, v, n, k] → [b, n, v, k] copy):
// - Queries once transposed to Q' [b, n, h, k] (positions leading); the content and position
//   terms are two matmuls over that, y = Q'·λc + Q'·λp_n, so λc is never broadcast to λp's size.
// - Global (r = 0): E [u, m, n, k] is one index_select of the table (as [u, R, k], a reshape
//   when u = 1) with the constant, transposed offset index [m, n]; it reads as the matrix
//   [(u·m), (n·k)]. λp for the whole batch is then ONE 2-D GEMM with V as [(b·v), (u·m)] (a
//   reshape of the values when u = 1): no batch broadcast, whose gradient would sum a
//   [b, n, ...] product back over b. E is the only quadratic tensor (shared by the batch);
//   the table's gradient is index_add, a scatter-add of dE.
// - Local (r > 0): λp is a convolution of the values, [b·v, u, H, W] ⊛ pos_conv [k, u, r, r]
//   (padding r/2) → [b·v, k, H, W]: E[n, m] = pos_conv[:, :, m − n + r/2] is never built.
// - y_p = Q'·λpᵀ is one batched matmul over (b, n); the heads are concatenated by one
//   transpose [b, n, (h·v)] → [b, (h·v), n] at the end.
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "graphgrad/models/attention_layers.h"
#include "graphgrad/ops/conv.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/indexing.h"
#include "graphgrad/ops/linalg.h"
#include "graphgrad/ops/normalization.h"
#include "graphgrad/ops/reduction.h"
#include "graphgrad/ops/shape_ops.h"
#include "graphgrad/ops/softmax.h"

namespace gg::models {

Value layer_param(Graph& g, const ParamSource& src, const std::string& name, const Shape& shape, const Initializer& init,
                  DType dt) {
    if (!src) return g.parameter(name, shape, init, dt);
    const std::string full = g.scoped(name);
    Value p = src(full, shape, init);
    if (p.shape() != shape || p.dtype() != dt)
        throw std::invalid_argument(fmt::format("parameter source: \"{}\" should be {}, got {}", full,
                                                desc_str(TensorDesc{shape, dt}), p.desc()));
    return p;
}

Value conv1x1(Value x, int64_t out_channels, const std::string& name, const ParamSource& src, bool bias) {
    Graph& g = *x.graph;
    const int64_t in = x.dim(1);
    // nn.Conv2d's default: kaiming_uniform(a = √5) ⇒ U(±1/√fan_in), bias U(±1/√fan_in).
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    Value w;
    std::optional<Value> b;
    {
        NameScope scope(g, name);
        w = layer_param(g, src, "weight", {out_channels, in, 1, 1}, init::uniform(-bound, bound), x.dtype());
        if (bias) b = layer_param(g, src, "bias", {out_channels}, init::uniform(-bound, bound), x.dtype());
    }
    return conv2d(x, w, b, {}, name);
}

Value batch_norm2d(Value x, const std::string& name, const ParamSource& src) {
    if (!src) return batch_norm(x, name);
    Graph& g = *x.graph;
    const int64_t c = x.dim(1);
    const DType dt = x.dtype();
    Value w, b, rm, rv, nbt;
    {
        NameScope scope(g, name);
        w = layer_param(g, src, "weight", {c}, init::ones(), dt);
        b = layer_param(g, src, "bias", {c}, init::zeros(), dt);
        rm = g.state("running_mean", {c}, init::zeros(), dt);
        rv = g.state("running_var", {c}, init::ones(), dt);
        nbt = g.state("num_batches_tracked", {}, init::zeros(), DType::I64);
    }
    return batch_norm(x, w, b, rm, rv, nbt, {}, name);
}

Tensor relative_position_index(int64_t h, int64_t w) {
    if (h < 1 || w < 1) throw std::invalid_argument(fmt::format("relative_position_index: bad size {}x{}", h, w));
    const int64_t n = h * w;
    Tensor idx = Tensor::zeros({n, n}, DType::I64);
    auto* p = idx.data<int64_t>();
    for (int64_t a = 0; a < n; ++a)
        for (int64_t b = 0; b < n; ++b) {
            const int64_t dy = a / w - b / w, dx = a % w - b % w;  // n − m
            p[a * n + b] = (dy + h - 1) * (2 * w - 1) + (dx + w - 1);
        }
    return idx;
}

namespace {

// relative_position_index transposed: idx_t[m][n] = offset(n − m), rows indexed by the context
// position m (the gather behind the lambda layer's E [u, m, n, k]).
Tensor relative_position_index_transposed(int64_t h, int64_t w) {
    const Tensor idx = relative_position_index(h, w);
    const int64_t n = h * w;
    Tensor t = Tensor::zeros({n, n}, DType::I64);
    const auto* s = idx.data<int64_t>();
    auto* d = t.data<int64_t>();
    for (int64_t a = 0; a < n; ++a)
        for (int64_t m = 0; m < n; ++m) d[m * n + a] = s[a * n + m];
    return t;
}

}  // namespace

Value relative_embeddings(Value table, int64_t h, int64_t w) {
    const int64_t rows = (2 * h - 1) * (2 * w - 1);
    if (h < 1 || w < 1 || table.rank() < 1 || table.dim(0) != rows)
        throw std::invalid_argument(fmt::format("relative_embeddings: a {}x{} map needs a table [(2H-1)(2W-1) = {}, ...], "
                                                "got \"{}\" {}",
                                                h, w, rows, table.name(), table.desc()));
    Value idx = table.graph->constant(relative_position_index(h, w), "rel_pos_index");
    return index_select(table, 0, idx);  // [n, n, ...]
}

Value lambda_layer(Value x, const LambdaOptions& o, const std::string& name) {
    Graph& g = *x.graph;
    const std::string full = g.scoped(name);
    auto fail = [&](const std::string& what) {
        throw std::invalid_argument(fmt::format("lambda_layer \"{}\": {} (x {}, dim {}, k {}, heads {}, u {}, r {})", full,
                                                what, x.desc(), o.dim, o.k, o.heads, o.u, o.r));
    };
    if (x.rank() != 4) fail("x must be [N, C, H, W]");
    if (!is_floating(x.dtype())) fail("x must be floating point");
    if (o.dim < 1 || o.k < 1 || o.heads < 1 || o.u < 1) fail("dim, k, heads and u must be positive");
    if (o.dim % o.heads != 0) fail(fmt::format("dim {} is not divisible by heads {}", o.dim, o.heads));
    if (o.r < 0 || (o.r > 0 && o.r % 2 == 0)) fail(fmt::format("r must be 0 (global) or odd, got {}", o.r));

    const int64_t b = x.dim(0), H = x.dim(2), W = x.dim(3), n = H * W;
    const int64_t h = o.heads, k = o.k, u = o.u, v = o.dim / o.heads;
    NameScope scope(g, name);

    Value q = batch_norm2d(conv1x1(x, k * h, "q", o.params), "norm_q", o.params);  // [b, h·k, H, W]
    Value keys = conv1x1(x, k * u, "k", o.params);                                  // [b, u·k, H, W]
    Value vals = batch_norm2d(conv1x1(x, v * u, "v", o.params), "norm_v", o.params);  // [b, u·v, H, W]
    keys = softmax(reshape(keys, {b, u, k, n}), -1);  // normalised over the context positions m
    Value v4 = reshape(vals, {b, u, v, n});

    // Queries with the positions in front: Q' [b, n, h, k] (one tiled transpose per image).
    Value qt = reshape(transpose(reshape(q, {b, h * k, n}), 1, 2), {b, n, h, k});

    // Content: λc = Σ_{m,u} K·V [b, k, v]; y_c[b, n, h, v] = Q'·λc, λc shared by the n·h rows.
    Value lc = matmul(keys, v4, false, true);  // [b, u, k, v]
    lc = u == 1 ? reshape(lc, {b, k, v}) : reshape(sum(lc, {1}, false), {b, k, v});
    Value y = reshape(matmul(reshape(qt, {b, n * h, k}), lc), {b, n, h, v});

    // Position lambdas λp [b, n, v, k], batch-leading so that y_p is one batched matmul.
    Value lp;
    if (o.r == 0) {
        const int64_t rows = (2 * H - 1) * (2 * W - 1);
        Value table = layer_param(g, o.params, "rel_pos_emb", {rows, k, u}, init::normal(0.0, 1.0), x.dtype());
        // E[u, m, n, k] = table[offset(n − m), k, u]: one gather of whole [k] rows from the
        // table as [u, R, k] with the transposed offset index, so that E reads as the matrix
        // [(u·m), (n·k)]. λp for the whole batch is then ONE 2-D GEMM with V as [(b·v), (u·m)]
        // (shared B: its gradient is two GEMMs, no [b, ...] product summed over the batch).
        Value tu = u == 1 ? reshape(table, {1, rows, k}) : permute(table, {2, 0, 1});
        Value idx = g.constant(relative_position_index_transposed(H, W), "rel_pos_index_t");
        Value e = reshape(index_select(tu, 1, idx), {u * n, n * k});
        Value vm = u == 1 ? reshape(v4, {b * v, n}) : reshape(permute(v4, {0, 2, 1, 3}), {b * v, u * n});
        lp = permute(reshape(matmul(vm, e), {b, v, n, k}), {0, 2, 1, 3});  // [b, n, v, k]
    } else {
        // pos_conv like nn.Conv2d(u, k, r, padding = r/2, bias = False): U(±1/√(u·r·r)).
        const double bound = 1.0 / std::sqrt(static_cast<double>(u * o.r * o.r));
        Value kernel = layer_param(g, o.params, "pos_conv.weight", {k, u, o.r, o.r}, init::uniform(-bound, bound),
                                   x.dtype());
        Value vt = u == 1 ? reshape(v4, {b * v, 1, H, W}) : reshape(permute(v4, {0, 2, 1, 3}), {b * v, u, H, W});
        Value c = conv2d(vt, kernel, std::nullopt, {.padding = pad_all(o.r / 2)}, "pos_conv");  // [b·v, k, H, W]
        lp = reshape(transpose(reshape(c, {b, v * k, n}), 1, 2), {b, n, v, k});         // [b, n, v, k]
    }
    // y_p[b, n, h, v] = Σ_k Q'[b, n, h, k] · λp[b, n, v, k]: one batched matmul over (b, n).
    y = y + matmul(qt, lp, false, true);
    // Heads concatenated, positions back last: [b, n, (h·v)] → [b, (h·v), n].
    return reshape(transpose(reshape(y, {b, n, h * v}), 1, 2), {b, h * v, H, W});
}

}  // namespace gg::models
