// The global layers of models/attention_layers.h: self-attention and both lambda layers
// against plain loops written from the papers' equations (f64), gradients with respect to the
// input and every weight (gradcheck, weights handed in through ParamSource), the translation
// structure of the relative embeddings, the content-only limit, argument errors, and the zoo
// models built from them (shapes, parameter counts, one training step).
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "graphgrad/graph/gradcheck.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/models/attention_layers.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/ops.h"
#include "test_support.h"

using namespace gg;
using Catch::Matchers::Contains;

namespace {

// f64 by default: these tests feed gradcheck and the reference einsums.
Tensor random_tensor(const Shape& shape, uint64_t seed, DType dt = DType::F64, double lo = -1.0, double hi = 1.0) {
    return testing::uniform_tensor(shape, seed, dt, lo, hi);
}

// A layer under test, built on x with its weights from src.
using LayerFn = std::function<Value(Value x, const models::ParamSource& src)>;

// The weights a layer asks for, in order, with random f64 values (batch-norm γ and β too, so
// nothing is at a special point).
struct Weights {
    std::vector<std::string> names;
    std::map<std::string, Tensor> values;
    const Tensor& at(const std::string& name) const { return values.at(name); }
};

Weights discover(const Shape& x_shape, const LayerFn& layer, uint64_t seed) {
    Graph g;
    Weights w;
    Value x = g.input("x", x_shape, DType::F64);
    layer(x, [&](const std::string& name, const Shape& shape, const Initializer&) {
        w.names.push_back(name);
        w.values[name] = random_tensor(shape, seed + w.names.size());
        return g.constant(Tensor::zeros(shape, DType::F64));
    });
    return w;
}

// The layer's output in f64 for these weights, batch norm with batch statistics.
Tensor run_layer(const Tensor& x, const Weights& w, const LayerFn& layer) {
    Graph g;
    Value xv = g.input("x", x.shape(), DType::F64);
    Value y = layer(xv, [&](const std::string& name, const Shape&, const Initializer&) {
        return g.constant(w.at(name).clone(), name);
    });
    return compile(g, {y}, {.training = true}).run({{xv, x}})[0].clone();
}

void gradcheck_layer(const std::string& label, const Shape& x_shape, const LayerFn& layer, uint64_t seed) {
    const Weights w = discover(x_shape, layer, seed);
    std::vector<Tensor> inputs{random_tensor(x_shape, seed)};
    for (const std::string& n : w.names) inputs.push_back(w.at(n));
    GraphFunction f = [&](Graph&, const std::vector<Value>& in) {
        std::map<std::string, Value> fed;
        for (std::size_t i = 0; i < w.names.size(); ++i) fed.emplace(w.names[i], in[i + 1]);
        auto src = [&](const std::string& name, const Shape&, const Initializer&) { return fed.at(name); };
        return std::vector<Value>{layer(in[0], src)};
    };
    GradcheckOptions o;
    o.full_jacobian_limit = 1 << 20;  // every element of every gradient, not random directions
    o.second_order = true;          // Hessian-vector products through batch norm, softmax, gathers
    const auto results = gradcheck_function(label, shape_str(x_shape), f, inputs, {}, o);
    REQUIRE_FALSE(results.empty());
    for (const GradcheckResult& r : results) {
        std::string names;
        for (const std::string& n : w.names) names += " " + n;
        INFO(r.describe() << " (inputs: x," << names << ")");
        CHECK(r.mode == "jacobian");
        CHECK(r.passed);
    }
}

// ---- loop references ------------------------------------------------------------------------
using Map = std::vector<double>;  // [B][C][n], row-major

Map conv1x1_ref(const Tensor& x, const Tensor& w, const Tensor* bias) {
    const int64_t B = x.shape()[0], C = x.shape()[1], n = x.shape()[2] * x.shape()[3], O = w.shape()[0];
    Map y(static_cast<std::size_t>(B * O * n));
    for (int64_t b = 0; b < B; ++b)
        for (int64_t o = 0; o < O; ++o)
            for (int64_t p = 0; p < n; ++p) {
                double s = bias ? bias->get(o) : 0.0;
                for (int64_t c = 0; c < C; ++c) s += w.get(o * C + c) * x.get((b * C + c) * n + p);
                y[static_cast<std::size_t>((b * O + o) * n + p)] = s;
            }
    return y;
}

void batch_norm_ref(Map& y, int64_t B, int64_t C, int64_t n, const Tensor& gamma, const Tensor& beta) {
    for (int64_t c = 0; c < C; ++c) {
        double mean = 0, var = 0;
        for (int64_t b = 0; b < B; ++b)
            for (int64_t p = 0; p < n; ++p) mean += y[static_cast<std::size_t>((b * C + c) * n + p)];
        mean /= static_cast<double>(B * n);
        for (int64_t b = 0; b < B; ++b)
            for (int64_t p = 0; p < n; ++p) var += std::pow(y[static_cast<std::size_t>((b * C + c) * n + p)] - mean, 2);
        var /= static_cast<double>(B * n);  // biased, like training-mode batch norm
        for (int64_t b = 0; b < B; ++b)
            for (int64_t p = 0; p < n; ++p) {
                double& e = y[static_cast<std::size_t>((b * C + c) * n + p)];
                e = (e - mean) / std::sqrt(var + 1e-5) * gamma.get(c) + beta.get(c);
            }
    }
}

int64_t rel_index(int64_t a, int64_t m, int64_t H, int64_t W) {
    return (a / W - m / W + H - 1) * (2 * W - 1) + (a % W - m % W + W - 1);
}

// The paper's einsums, literally: Q [b,n,h,k], K [b,m,k,u] (softmax over m), V [b,m,v,u],
// λc = Σ_{m,u} K·V, λp_n = Σ_{m,u} E[n,m]·V, y[b,n,h,v] = Σ_k Q·(λc + λp_n).
// E: global, table[offset(n − m)]; local, pos_conv[k, u, m − n + r/2] inside the window, else 0.
Map lambda_reference(const Tensor& x, const Weights& w, const models::LambdaOptions& o, const std::string& name,
                     bool position = true) {
    const int64_t B = x.shape()[0], H = x.shape()[2], W = x.shape()[3], n = H * W;
    const int64_t h = o.heads, K = o.k, U = o.u, V = o.dim / o.heads, half = o.r / 2;
    Map q = conv1x1_ref(x, w.at(name + ".q.weight"), nullptr);
    batch_norm_ref(q, B, h * K, n, w.at(name + ".norm_q.weight"), w.at(name + ".norm_q.bias"));
    Map keys = conv1x1_ref(x, w.at(name + ".k.weight"), nullptr);
    Map vals = conv1x1_ref(x, w.at(name + ".v.weight"), nullptr);
    batch_norm_ref(vals, B, U * V, n, w.at(name + ".norm_v.weight"), w.at(name + ".norm_v.bias"));
    auto at = [](const Map& m, int64_t C, int64_t n_, int64_t b, int64_t c, int64_t p) {
        return m[static_cast<std::size_t>((b * C + c) * n_ + p)];
    };
    // softmax over m per (b, channel)
    for (int64_t i = 0; i < B * U * K; ++i) {
        double mx = -1e300, s = 0;
        for (int64_t m = 0; m < n; ++m) mx = std::max(mx, keys[static_cast<std::size_t>(i * n + m)]);
        for (int64_t m = 0; m < n; ++m) s += std::exp(keys[static_cast<std::size_t>(i * n + m)] - mx);
        for (int64_t m = 0; m < n; ++m) {
            double& e = keys[static_cast<std::size_t>(i * n + m)];
            e = std::exp(e - mx) / s;
        }
    }
    auto Qf = [&](int64_t b, int64_t p, int64_t hd, int64_t kk) { return at(q, h * K, n, b, hd * K + kk, p); };
    auto Kf = [&](int64_t b, int64_t m, int64_t kk, int64_t uu) { return at(keys, U * K, n, b, uu * K + kk, m); };
    auto Vf = [&](int64_t b, int64_t m, int64_t vv, int64_t uu) { return at(vals, U * V, n, b, uu * V + vv, m); };
    auto Ef = [&](int64_t p, int64_t m, int64_t kk, int64_t uu) -> double {
        if (!position) return 0.0;
        if (o.r == 0) return w.at(name + ".rel_pos_emb").get((rel_index(p, m, H, W) * K + kk) * U + uu);
        const int64_t dy = m / W - p / W, dx = m % W - p % W;  // m − n
        if (std::abs(dy) > half || std::abs(dx) > half) return 0.0;
        return w.at(name + ".pos_conv.weight").get(((kk * U + uu) * o.r + dy + half) * o.r + dx + half);
    };
    Map y(static_cast<std::size_t>(B * h * V * n));
    for (int64_t b = 0; b < B; ++b) {
        std::vector<double> lc(static_cast<std::size_t>(K * V), 0.0);
        for (int64_t kk = 0; kk < K; ++kk)
            for (int64_t vv = 0; vv < V; ++vv)
                for (int64_t m = 0; m < n; ++m)
                    for (int64_t uu = 0; uu < U; ++uu) lc[static_cast<std::size_t>(kk * V + vv)] += Kf(b, m, kk, uu) * Vf(b, m, vv, uu);
        for (int64_t p = 0; p < n; ++p) {
            std::vector<double> lam = lc;
            for (int64_t kk = 0; kk < K; ++kk)
                for (int64_t vv = 0; vv < V; ++vv)
                    for (int64_t m = 0; m < n; ++m)
                        for (int64_t uu = 0; uu < U; ++uu)
                            lam[static_cast<std::size_t>(kk * V + vv)] += Ef(p, m, kk, uu) * Vf(b, m, vv, uu);
            for (int64_t hd = 0; hd < h; ++hd)
                for (int64_t vv = 0; vv < V; ++vv) {
                    double s = 0;
                    for (int64_t kk = 0; kk < K; ++kk) s += Qf(b, p, hd, kk) * lam[static_cast<std::size_t>(kk * V + vv)];
                    y[static_cast<std::size_t>((b * h * V + hd * V + vv) * n + p)] = s;
                }
        }
    }
    return y;
}

// softmax_m(q_nᵀk_m/√d + bias[head, offset(n − m)])·v_m per head, then the output projection.
Map attention_reference(const Tensor& x, const Weights& w, const models::AttentionOptions& o, const std::string& name) {
    const int64_t B = x.shape()[0], H = x.shape()[2], W = x.shape()[3], n = H * W, D = o.dim, dh = o.dim / o.heads;
    Map q = conv1x1_ref(x, w.at(name + ".q.weight"), nullptr);
    Map k = conv1x1_ref(x, w.at(name + ".k.weight"), nullptr);
    Map v = conv1x1_ref(x, w.at(name + ".v.weight"), nullptr);
    auto at = [&](const Map& m, int64_t b, int64_t c, int64_t p) { return m[static_cast<std::size_t>((b * D + c) * n + p)]; };
    Tensor o_map = Tensor::zeros({B, D, H, W}, DType::F64);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t hd = 0; hd < o.heads; ++hd)
            for (int64_t p = 0; p < n; ++p) {
                std::vector<double> s(static_cast<std::size_t>(n));
                double mx = -1e300, z = 0;
                for (int64_t m = 0; m < n; ++m) {
                    double e = 0;
                    for (int64_t j = 0; j < dh; ++j) e += at(q, b, hd * dh + j, p) * at(k, b, hd * dh + j, m);
                    e /= std::sqrt(static_cast<double>(dh));
                    if (o.relative_bias)
                        e += w.at(name + ".rel_pos_bias").get(hd * (2 * H - 1) * (2 * W - 1) + rel_index(p, m, H, W));
                    s[static_cast<std::size_t>(m)] = e;
                    mx = std::max(mx, e);
                }
                for (double& e : s) z += (e = std::exp(e - mx));
                for (int64_t j = 0; j < dh; ++j) {
                    double acc = 0;
                    for (int64_t m = 0; m < n; ++m) acc += s[static_cast<std::size_t>(m)] / z * at(v, b, hd * dh + j, m);
                    o_map.set((b * D + hd * dh + j) * n + p, acc);
                }
            }
    if (!o.out_proj) return o_map.to_doubles();
    const Tensor& bias = w.at(name + ".out.bias");
    return conv1x1_ref(o_map, w.at(name + ".out.weight"), &bias);
}

double max_abs_diff(const Tensor& a, const Map& b) {
    REQUIRE(static_cast<std::size_t>(a.numel()) == b.size());
    double d = 0;
    for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::abs(a.get(i) - b[static_cast<std::size_t>(i)]));
    return d;
}

double max_abs(const Map& m) {
    double d = 0;
    for (double e : m) d = std::max(d, std::abs(e));
    return d;
}

LayerFn lambda_fn(models::LambdaOptions o) {
    return [o](Value x, const models::ParamSource& src) {
        models::LambdaOptions oo = o;
        oo.params = src;
        return models::lambda_layer(x, oo, "lam");
    };
}

LayerFn attention_fn(models::AttentionOptions o) {
    return [o](Value x, const models::ParamSource& src) {
        models::AttentionOptions oo = o;
        oo.params = src;
        return models::self_attention(x, oo, "attn");
    };
}

const models::LambdaOptions kGlobal{.dim = 8, .k = 4, .heads = 2, .u = 1, .r = 0};
const models::LambdaOptions kLocal{.dim = 8, .k = 4, .heads = 2, .u = 2, .r = 3};
const models::LambdaOptions kGlobalU2{.dim = 8, .k = 3, .heads = 2, .u = 2, .r = 0};
const Shape kSmall{2, 4, 4, 4};  // N = 2, C = 4, a 4x4 map

int64_t trainable_params(const Graph& g) {
    int64_t n = 0;
    for (Value p : g.parameters()) n += p.numel();
    return n;
}

bool all_finite(const Tensor& t) {
    for (double v : t.to_doubles())
        if (!std::isfinite(v)) return false;
    return true;
}

// One training step (loss and every gradient) and one evaluation pass, finite throughout.
void check_classifier_step(Graph& g, Value x, Value logits) {
    Value y = g.input("y", {x.dim(0)}, DType::I64);
    Value loss = cross_entropy(logits, y);
    auto params = g.parameters();
    auto grads = grad(loss, params);
    std::vector<Value> fetches{loss, logits};
    fetches.insert(fetches.end(), grads.begin(), grads.end());
    Tensor labels = Tensor::zeros({x.dim(0)}, DType::I64);
    for (int64_t i = 0; i < x.dim(0); ++i) labels.set(i, static_cast<double>((3 * i + 1) % logits.dim(1)));
    Tensor xb = random_tensor(x.shape(), 7, DType::F32, 0.0, 1.0);
    auto results = compile(g, fetches).run({{x, xb}, {y, labels}});
    for (std::size_t i = 0; i < results.size(); ++i) {
        INFO("fetch " << i << (i >= 2 ? " (gradient of " + params[i - 2].name() + ")" : ""));
        CHECK(all_finite(results[i]));
    }
    auto eval = compile(g, {logits});
    CHECK(all_finite(eval.run({{x, xb}})[0]));
}

// Trainable parameters for 1x28x28 and 10 classes (convs without bias, BN γ and β):
//   stem conv1 1·32·9 + bn1 2·32 = 352;  layer1.0 2 × (32·32·9 + 2·32) = 18,560;  fc 256·10 + 10 = 2,570
//   lambda layer (in 64, k 16, 4 heads, v 16, u 1): q 64·64 + norm_q 128 + k 16·64 + v 16·64 + norm_v 32
//     = 6,304, plus rel_pos_emb 27·27·16 = 11,664 (14x14) or 13·13·16 = 2,704 (7x7)
//   layer2.0: conv1 32·64 + bn1 128 + λ 17,968 + bn2 128 + conv3 64·256 + bn3 512 + ds 32·256 + 512 = 45,872
//   layer3.0: conv1 256·64 + bn1 128 + λ 9,008 + bn2 128 + conv3 16,384 + bn3 512 + ds 256·256 + 512 = 108,592
constexpr int64_t kLambdaResnetParams = 352 + 18560 + 45872 + 108592 + 2570;  // 175,946
//   attention layer (dim 64, 4 heads, no output projection): q, k, v 3·64·64 = 12,288 plus
//     rel_pos_bias 4·27·27 = 2,916 (14x14) or 4·13·13 = 676 (7x7)
//   layer2.0 = 45,872 − 17,968 + 15,204 = 43,108;  layer3.0 = 108,592 − 9,008 + 12,964 = 112,548
constexpr int64_t kAttentionResnetParams = 352 + 18560 + 43108 + 112548 + 2570;  // 177,138

}  // namespace

TEST_CASE("self-attention and lambda layers pass gradcheck w.r.t. input and every weight", "[attention]") {
    SECTION("self-attention") { gradcheck_layer("self_attention", kSmall, attention_fn({.dim = 8, .heads = 2}), 11); }
    SECTION("self-attention with relative bias") {
        gradcheck_layer("self_attention", kSmall, attention_fn({.dim = 8, .heads = 2, .relative_bias = true}), 12);
    }
    SECTION("global lambda layer") { gradcheck_layer("lambda_layer global", kSmall, lambda_fn(kGlobal), 13); }
    SECTION("global lambda layer u 2") { gradcheck_layer("lambda_layer global u2", kSmall, lambda_fn(kGlobalU2), 14); }
    SECTION("lambda convolution r 3") { gradcheck_layer("lambda_layer local", kSmall, lambda_fn(kLocal), 15); }
    SECTION("lambda convolution on a non-square map") {
        gradcheck_layer("lambda_layer local", {2, 3, 3, 5}, lambda_fn(kLocal), 16);
    }
}

TEST_CASE("the lambda layer matches the paper's einsums written as loops", "[attention]") {
    struct Case {
        const char* label;
        Shape x;
        models::LambdaOptions o;
    };
    const std::vector<Case> cases{
        {"global", kSmall, kGlobal},
        {"global u 2 on 3x5", {2, 3, 3, 5}, kGlobalU2},
        {"local r 3 u 2", kSmall, kLocal},
        {"local r 5 on 3x5 (window wider than the map)", {2, 3, 3, 5}, {.dim = 6, .k = 2, .heads = 3, .u = 3, .r = 5}},
    };
    for (const Case& c : cases) {
        DYNAMIC_SECTION(c.label) {
            const LayerFn f = lambda_fn(c.o);
            const Weights w = discover(c.x, f, 21);
            const Tensor x = random_tensor(c.x, 22);
            const Tensor y = run_layer(x, w, f);
            CHECK(y.shape() == Shape{c.x[0], c.o.dim, c.x[2], c.x[3]});
            const Map ref = lambda_reference(x, w, c.o, "lam");
            CHECK(max_abs(ref) > 0.1);
            CHECK(max_abs_diff(y, ref) < 1e-10);
        }
    }
}

TEST_CASE("relative embeddings depend only on the offset and scatter-add their gradient", "[attention]") {
    const int64_t H = 3, W = 4, n = H * W, rows = (2 * H - 1) * (2 * W - 1), K = 2, U = 3;
    Graph g;
    Value table = g.input("table", {rows, K, U}, DType::F64);
    Value e = models::relative_embeddings(table, H, W);
    REQUIRE(e.shape() == Shape{n, n, K, U});
    Value dtable = grad(sum(e), {table})[0];
    const Tensor t = random_tensor({rows, K, U}, 31);
    auto out = compile(g, {e, dtable}).run({{table, t}});
    const Tensor& E = out[0];
    auto row = [&](int64_t a, int64_t m) {  // E[a, m] as K·U numbers
        std::vector<double> r;
        for (int64_t i = 0; i < K * U; ++i) r.push_back(E.get((a * n + m) * K * U + i));
        return r;
    };
    auto table_row = [&](int64_t r) {
        std::vector<double> v;
        for (int64_t i = 0; i < K * U; ++i) v.push_back(t.get(r * K * U + i));
        return v;
    };
    int64_t shifts = 0;
    for (int64_t a = 0; a < n; ++a)
        for (int64_t m = 0; m < n; ++m) {
            for (int64_t ty = -(H - 1); ty < H; ++ty)
                for (int64_t tx = -(W - 1); tx < W; ++tx) {
                    const int64_t ay = a / W + ty, ax = a % W + tx, my = m / W + ty, mx = m % W + tx;
                    if (ay < 0 || ay >= H || ax < 0 || ax >= W || my < 0 || my >= H || mx < 0 || mx >= W) continue;
                    CHECK(row(a, m) == row(ay * W + ax, my * W + mx));  // E[n, m] = E[n + t, m + t]
                    ++shifts;
                }
            const int64_t dy = a / W - m / W, dx = a % W - m % W;
            CHECK(row(a, m) == table_row((dy + H - 1) * (2 * W - 1) + dx + W - 1));
        }
    CHECK(shifts > n * n);
    CHECK(row(5, 5) == table_row((H - 1) * (2 * W - 1) + W - 1));  // offset 0: the table's centre
    // d Σ E / d table[offset] = number of (n, m) pairs at that offset = (H − |dy|)(W − |dx|).
    for (int64_t dy = -(H - 1); dy < H; ++dy)
        for (int64_t dx = -(W - 1); dx < W; ++dx) {
            const int64_t r = (dy + H - 1) * (2 * W - 1) + dx + W - 1;
            for (int64_t i = 0; i < K * U; ++i)
                CHECK(out[1].get(r * K * U + i) == static_cast<double>((H - std::abs(dy)) * (W - std::abs(dx))));
        }
}

TEST_CASE("with E equal to zero the lambda layer is its content path", "[attention]") {
    for (const auto& [label, o, table] : std::vector<std::tuple<std::string, models::LambdaOptions, std::string>>{
             {"global", kGlobal, "lam.rel_pos_emb"}, {"local", kLocal, "lam.pos_conv.weight"}}) {
        DYNAMIC_SECTION(label) {
            const LayerFn f = lambda_fn(o);
            Weights w = discover(kSmall, f, 41);
            const Tensor x = random_tensor(kSmall, 42);
            const Map content = lambda_reference(x, w, o, "lam", false);
            // With the learned positions the output differs from the content path ...
            CHECK(max_abs_diff(run_layer(x, w, f), content) > 1e-2);
            // ... and with a zero table (zero pos_conv kernel) it is exactly the content path.
            w.values[table] = Tensor::zeros(w.at(table).shape(), DType::F64);
            CHECK(max_abs_diff(run_layer(x, w, f), content) < 1e-12);
        }
    }
}

TEST_CASE("self-attention matches a loop reference", "[attention]") {
    const std::vector<std::pair<std::string, models::AttentionOptions>> cases{
        {"plain", {.dim = 8, .heads = 2}},
        {"relative bias", {.dim = 8, .heads = 4, .relative_bias = true}},
        {"no output projection", {.dim = 6, .heads = 3, .relative_bias = true, .out_proj = false}},
    };
    for (const auto& [label, o] : cases) {
        DYNAMIC_SECTION(label) {
            const Shape xs{2, 3, 3, 4};
            const LayerFn f = attention_fn(o);
            const Weights w = discover(xs, f, 51);
            const Tensor x = random_tensor(xs, 52);
            const Tensor y = run_layer(x, w, f);
            CHECK(y.shape() == Shape{2, o.dim, 3, 4});
            CHECK(max_abs_diff(y, attention_reference(x, w, o, "attn")) < 1e-12);
        }
    }
    SECTION("the default source makes PyTorch-named parameters in x's dtype") {
        Graph g;
        Value x = g.input("x", {2, 5, 4, 4});
        Value y = models::self_attention(x, {.dim = 8, .heads = 2, .relative_bias = true}, "attn");
        CHECK(y.shape() == Shape{2, 8, 4, 4});
        CHECK(g.store().get("attn.q.weight").shape() == Shape{8, 5, 1, 1});
        CHECK(g.store().get("attn.out.bias").shape() == Shape{8});
        CHECK(g.store().get("attn.rel_pos_bias").shape() == Shape{2, 49});
        CHECK(trainable_params(g) == 3 * 8 * 5 + 8 * 8 + 8 + 2 * 49);
    }
}

TEST_CASE("lambda layer parameters follow the paper's sizes", "[attention]") {
    Graph g;
    Value x = g.input("x", {2, 32, 7, 7});
    Value y = models::lambda_layer(x, {.dim = 64, .k = 16, .heads = 4, .u = 1}, "lam");
    Value z = models::lambda_layer(x, {.dim = 64, .k = 16, .heads = 4, .u = 4, .r = 23}, "lamc");
    CHECK(y.shape() == Shape{2, 64, 7, 7});
    CHECK(z.shape() == Shape{2, 64, 7, 7});
    const ParameterStore& s = g.store();
    CHECK(s.get("lam.q.weight").shape() == Shape{64, 32, 1, 1});  // k·heads
    CHECK(s.get("lam.k.weight").shape() == Shape{16, 32, 1, 1});  // k·u
    CHECK(s.get("lam.v.weight").shape() == Shape{16, 32, 1, 1});  // v·u, v = 64 / 4
    CHECK(s.get("lam.rel_pos_emb").shape() == Shape{169, 16, 1});
    CHECK(s.contains("lam.norm_q.running_mean"));
    CHECK(s.get("lam.norm_v.weight").shape() == Shape{16});
    CHECK(s.get("lamc.v.weight").shape() == Shape{64, 32, 1, 1});
    CHECK(s.get("lamc.pos_conv.weight").shape() == Shape{16, 4, 23, 23});
    CHECK_FALSE(s.contains("lamc.rel_pos_emb"));
    // f32 training step through both variants (oneDNN kernels) gives finite gradients.
    Value loss = mean(y * y) + mean(z * z);
    auto grads = grad(loss, g.parameters());
    std::vector<Value> fetches{loss};
    fetches.insert(fetches.end(), grads.begin(), grads.end());
    for (const Tensor& t : compile(g, fetches).run({{x, random_tensor(x.shape(), 3, DType::F32)}})) CHECK(all_finite(t));
}

TEST_CASE("bad arguments name the layer and the sizes", "[attention]") {
    Graph g;
    Value x = g.input("x", {2, 4, 4, 4});
    CHECK_THROWS_WITH(models::self_attention(x, {.dim = 10, .heads = 4}, "attn"),
                      Contains("self_attention \"attn\"") && Contains("dim 10 is not divisible by heads 4") &&
                          Contains("f32[2,4,4,4]"));
    CHECK_THROWS_WITH(models::lambda_layer(x, {.dim = 10, .k = 4, .heads = 4}, "lam"),
                      Contains("lambda_layer \"lam\"") && Contains("dim 10 is not divisible by heads 4"));
    CHECK_THROWS_WITH(models::lambda_layer(x, {.dim = 8, .k = 4, .heads = 2, .u = 2, .r = 4}, "lam"),
                      Contains("lambda_layer \"lam\"") && Contains("r must be 0 (global) or odd, got 4"));
    CHECK_THROWS_WITH(models::lambda_layer(x, {.dim = 8, .k = 0, .heads = 2}, "lam"), Contains("must be positive"));
    CHECK_THROWS_WITH(models::lambda_layer(g.input("t", {2, 4, 16}), {.dim = 8, .k = 4, .heads = 2}, "lam"),
                      Contains("x must be [N, C, H, W]"));
    CHECK_THROWS_WITH(models::relative_embeddings(g.input("table", {48, 4}), 4, 4),
                      Contains("relative_embeddings") && Contains("49") && Contains("[48,4]"));
    CHECK_THROWS_WITH(models::transformer_block(g.input("tok", {2, 5, 10}), 4, 4, "blocks.0"),
                      Contains("transformer_block \"blocks.0\"") && Contains("[2,5,10]"));
    CHECK_THROWS_WITH(models::vit(g.input("img", {2, 1, 28, 28}), 10, 5), Contains("patch 5") && Contains("[2,1,28,28]"));
    CHECK_THROWS_WITH(models::lambda_bottleneck(x, 8, 3, {}, "block"),
                      Contains("lambda_bottleneck \"block\"") && Contains("stride 3"));
}

TEST_CASE("transformer block keeps the token shape and uses timm names", "[attention]") {
    Graph g;
    Value x = g.input("x", {2, 5, 16});
    Value y = models::transformer_block(x, 4, 2, "blocks.0");
    CHECK(y.shape() == Shape{2, 5, 16});
    const ParameterStore& s = g.store();
    CHECK(s.get("blocks.0.norm1.weight").shape() == Shape{16});
    CHECK(s.get("blocks.0.attn.qkv.weight").shape() == Shape{48, 16});
    CHECK(s.get("blocks.0.attn.proj.bias").shape() == Shape{16});
    CHECK(s.get("blocks.0.mlp.fc1.weight").shape() == Shape{32, 16});
    CHECK(s.get("blocks.0.mlp.fc2.weight").shape() == Shape{16, 32});
    // 2·16 (norm1) + 48·16 + 48 + 16·16 + 16 + 2·16 (norm2) + 32·16 + 32 + 16·32 + 16
    CHECK(trainable_params(g) == 32 + 816 + 272 + 32 + 544 + 528);
}

TEST_CASE("ViT and the global ResNets: shapes, parameter counts, one training step", "[attention]") {
    SECTION("vit") {
        // patch_embed 64·16 + 64 = 1,088; cls_token 64; pos_embed 50·64 = 3,200;
        // 4 blocks × (2·64 + 64·192 + 192 + 64·64 + 64 + 2·64 + 64·256 + 256 + 256·64 + 64) = 4 × 49,984;
        // norm 128; head 64·10 + 10 = 650.
        Graph g;
        Value x = g.input("x", {2, 1, 28, 28});
        Value logits = models::vit(x);
        CHECK(logits.shape() == Shape{2, 10});
        CHECK(trainable_params(g) == 1088 + 64 + 3200 + 4 * 49984 + 128 + 650);
        CHECK(g.store().get("patch_embed.proj.weight").shape() == Shape{64, 1, 4, 4});
        CHECK(g.store().get("pos_embed").shape() == Shape{1, 50, 64});
        CHECK(g.store().get("blocks.3.mlp.fc2.bias").shape() == Shape{64});
        check_classifier_step(g, x, logits);
    }
    SECTION("lambda_resnet") {
        Graph g;
        Value x = g.input("x", {2, 1, 28, 28});
        Value logits = models::lambda_resnet(x);
        CHECK(logits.shape() == Shape{2, 10});
        CHECK(trainable_params(g) == kLambdaResnetParams);
        const ParameterStore& s = g.store();
        CHECK(s.get("layer2.0.conv2.rel_pos_emb").shape() == Shape{27 * 27, 16, 1});  // 14x14
        CHECK(s.get("layer3.0.conv2.rel_pos_emb").shape() == Shape{13 * 13, 16, 1});  // 7x7
        CHECK(s.get("layer2.0.conv2.q.weight").shape() == Shape{64, 64, 1, 1});
        CHECK(s.get("layer3.0.conv3.weight").shape() == Shape{256, 64, 1, 1});
        CHECK(s.get("layer2.0.downsample.1.weight").shape() == Shape{256, 32, 1, 1});
        check_classifier_step(g, x, logits);
    }
    SECTION("attention_resnet") {
        Graph g;
        Value x = g.input("x", {2, 1, 28, 28});
        Value logits = models::attention_resnet(x);
        CHECK(logits.shape() == Shape{2, 10});
        CHECK(trainable_params(g) == kAttentionResnetParams);
        CHECK(g.store().get("layer2.0.conv2.rel_pos_bias").shape() == Shape{4, 27 * 27});
        CHECK_FALSE(g.store().contains("layer2.0.conv2.out.weight"));
        check_classifier_step(g, x, logits);
    }
    SECTION("the zoo knows them") {
        // Registered with a builder that makes the model for their default input.
        for (const char* name : {"lambda_resnet", "attention_resnet", "vit"}) {
            const models::ModelEntry& e = models::find_model(name);
            Graph g;
            Shape in{2};
            in.insert(in.end(), e.default_input.begin(), e.default_input.end());
            CHECK(e.build(g.input("x", in), 10).shape() == Shape{2, 10});
        }
    }
}
