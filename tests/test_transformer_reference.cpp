// The pre-norm transformer block and the small ViT against plain-loop references in f64 with
// every weight random (layer-norm scales and shifts too, so nothing sits at a special point):
// timm's equations written out — LayerNorm (eps 1e-5), qkv features ordered (3, heads,
// d_head), softmax(q·kᵀ/√d_head)·v, output projection, exact-erf GELU MLP, residuals; ViT's
// stride-p patch convolution, class token, position embedding, final norm and head on the
// class token.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "graphgrad/models/attention_layers.h"
#include "graphgrad/ops/ops.h"
#include "test_support.h"

using namespace gg;

namespace {

using Mat = std::vector<std::vector<double>>;  // [rows][cols]

// Every entry of the store set to uniform values in [-0.5, 0.5), seeded by position.
void randomize_store(Graph& g, uint64_t seed) {
    for (const auto& [name, e] : g.store().entries()) {
        Tensor& t = g.store().get(name);
        t.copy_from(testing::uniform_tensor(t.shape(), seed++, DType::F64, -0.5, 0.5));
    }
}

double at(const Tensor& t, int64_t i) { return t.get(i); }

Mat layer_norm_ref(const Mat& x, const Tensor& w, const Tensor& b) {
    Mat y = x;
    for (auto& row : y) {
        const auto d = static_cast<double>(row.size());
        double mean = 0, var = 0;
        for (double v : row) mean += v / d;
        for (double v : row) var += (v - mean) * (v - mean) / d;
        for (std::size_t j = 0; j < row.size(); ++j)
            row[j] = (row[j] - mean) / std::sqrt(var + 1e-5) * at(w, static_cast<int64_t>(j)) + at(b, static_cast<int64_t>(j));
    }
    return y;
}

// y = x·Wᵀ + b with W [out, in] as nn.Linear stores it.
Mat linear_ref(const Mat& x, const Tensor& w, const Tensor& b) {
    const int64_t out = w.shape()[0], in = w.shape()[1];
    Mat y(x.size(), std::vector<double>(static_cast<std::size_t>(out)));
    for (std::size_t r = 0; r < x.size(); ++r)
        for (int64_t o = 0; o < out; ++o) {
            double s = at(b, o);
            for (int64_t i = 0; i < in; ++i) s += x[r][static_cast<std::size_t>(i)] * at(w, o * in + i);
            y[r][static_cast<std::size_t>(o)] = s;
        }
    return y;
}

// One sequence's tokens [t][d] through the block "prefix" (weights from the store).
Mat block_ref(const Mat& x, const ParameterStore& s, const std::string& prefix, int64_t heads) {
    auto p = [&](const std::string& n) -> const Tensor& { return s.get(prefix + "." + n); };
    const auto t = x.size();
    const int64_t d = static_cast<int64_t>(x[0].size()), dh = d / heads;
    const Mat qkv = linear_ref(layer_norm_ref(x, p("norm1.weight"), p("norm1.bias")), p("attn.qkv.weight"),
                               p("attn.qkv.bias"));
    auto feature = [&](std::size_t tok, int which, int64_t h, int64_t e) {
        return qkv[tok][static_cast<std::size_t>(which * d + h * dh + e)];
    };
    Mat o(t, std::vector<double>(static_cast<std::size_t>(d), 0.0));
    for (int64_t h = 0; h < heads; ++h)
        for (std::size_t i = 0; i < t; ++i) {
            std::vector<double> score(t);
            double top = -1e300;
            for (std::size_t j = 0; j < t; ++j) {
                double sc = 0;
                for (int64_t e = 0; e < dh; ++e) sc += feature(i, 0, h, e) * feature(j, 1, h, e);
                score[j] = sc / std::sqrt(static_cast<double>(dh));
                top = std::max(top, score[j]);
            }
            double z = 0;
            for (double& sc : score) z += (sc = std::exp(sc - top));
            for (int64_t e = 0; e < dh; ++e) {
                double acc = 0;
                for (std::size_t j = 0; j < t; ++j) acc += score[j] / z * feature(j, 2, h, e);
                o[i][static_cast<std::size_t>(h * dh + e)] = acc;
            }
        }
    Mat y = x;
    const Mat proj = linear_ref(o, p("attn.proj.weight"), p("attn.proj.bias"));
    for (std::size_t i = 0; i < t; ++i)
        for (std::size_t j = 0; j < y[i].size(); ++j) y[i][j] += proj[i][j];
    Mat hid = linear_ref(layer_norm_ref(y, p("norm2.weight"), p("norm2.bias")), p("mlp.fc1.weight"), p("mlp.fc1.bias"));
    for (auto& row : hid)
        for (double& v : row) v = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    const Mat m = linear_ref(hid, p("mlp.fc2.weight"), p("mlp.fc2.bias"));
    for (std::size_t i = 0; i < t; ++i)
        for (std::size_t j = 0; j < y[i].size(); ++j) y[i][j] += m[i][j];
    return y;
}

}  // namespace

TEST_CASE("transformer block matches a loop reference", "[attention]") {
    const int64_t B = 2, T = 5, D = 12, heads = 3;
    Graph g;
    Value x = g.input("x", {B, T, D}, DType::F64);
    Value y = models::transformer_block(x, heads, 2, "blocks.0");
    randomize_store(g, 11);
    const Tensor xv = testing::uniform_tensor({B, T, D}, 3, DType::F64);
    const Tensor got = compile(g, {y}).run({{x, xv}})[0];
    double worst = 0;
    for (int64_t b = 0; b < B; ++b) {
        Mat tokens(static_cast<std::size_t>(T), std::vector<double>(static_cast<std::size_t>(D)));
        for (int64_t t = 0; t < T; ++t)
            for (int64_t d = 0; d < D; ++d) tokens[static_cast<std::size_t>(t)][static_cast<std::size_t>(d)] = xv.get((b * T + t) * D + d);
        const Mat want = block_ref(tokens, g.store(), "blocks.0", heads);
        for (int64_t t = 0; t < T; ++t)
            for (int64_t d = 0; d < D; ++d)
                worst = std::max(worst, std::abs(got.get((b * T + t) * D + d) - want[static_cast<std::size_t>(t)][static_cast<std::size_t>(d)]));
    }
    CHECK(worst < 1e-12);
}

TEST_CASE("ViT matches a loop reference", "[attention]") {
    const int64_t B = 2, C = 2, H = 8, W = 8, patch = 4, dim = 8, depth = 2, heads = 2, classes = 5;
    const int64_t gw = W / patch, t = (H / patch) * gw;
    Graph g;
    Value x = g.input("x", {B, C, H, W}, DType::F64);
    Value logits = models::vit(x, classes, patch, dim, depth, heads);
    randomize_store(g, 21);
    const Tensor xv = testing::uniform_tensor({B, C, H, W}, 4, DType::F64);
    const Tensor got = compile(g, {logits}).run({{x, xv}})[0];
    const ParameterStore& s = g.store();
    const Tensor &pw = s.get("patch_embed.proj.weight"), &pb = s.get("patch_embed.proj.bias");
    double worst = 0;
    for (int64_t b = 0; b < B; ++b) {
        // Token 0 the class token, then patches in row-major order, each plus its position.
        Mat h(static_cast<std::size_t>(t + 1), std::vector<double>(static_cast<std::size_t>(dim)));
        for (int64_t o = 0; o < dim; ++o) h[0][static_cast<std::size_t>(o)] = s.get("cls_token").get(o);
        for (int64_t k = 0; k < t; ++k)
            for (int64_t o = 0; o < dim; ++o) {
                double acc = pb.get(o);
                for (int64_t c = 0; c < C; ++c)
                    for (int64_t ky = 0; ky < patch; ++ky)
                        for (int64_t kx = 0; kx < patch; ++kx)
                            acc += pw.get(((o * C + c) * patch + ky) * patch + kx) *
                                   xv.get(((b * C + c) * H + (k / gw) * patch + ky) * W + (k % gw) * patch + kx);
                h[static_cast<std::size_t>(k + 1)][static_cast<std::size_t>(o)] = acc;
            }
        for (int64_t k = 0; k <= t; ++k)
            for (int64_t o = 0; o < dim; ++o) h[static_cast<std::size_t>(k)][static_cast<std::size_t>(o)] += s.get("pos_embed").get(k * dim + o);
        for (int64_t i = 0; i < depth; ++i) h = block_ref(h, s, "blocks." + std::to_string(i), heads);
        const Mat cls = layer_norm_ref({h[0]}, s.get("norm.weight"), s.get("norm.bias"));
        const Mat want = linear_ref(cls, s.get("head.weight"), s.get("head.bias"));
        for (int64_t c = 0; c < classes; ++c)
            worst = std::max(worst, std::abs(got.get(b * classes + c) - want[0][static_cast<std::size_t>(c)]));
    }
    CHECK(worst < 1e-12);
}
