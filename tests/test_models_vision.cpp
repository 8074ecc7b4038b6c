// AlexNet, DenseNet-BC, Xception and EfficientNet (models/vision_models.h): `graphgrad summary`'s
// parameter and multiply-add totals (train/model_summary.h) against closed forms written out
// from each paper's layer table, names, shapes, compound scaling, stochastic depth, SiLU's
// values at the extremes, and an f64 gradient check through a small instance of each network.
// (Every zoo model also trains a few steps and evaluates in test_models.cpp.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "graphgrad/graph/gradcheck.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/models/vision_models.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/train/model_summary.h"

using namespace gg;
using Catch::Matchers::Contains;

namespace {

struct Counts {
    int64_t params = 0, macs = 0;
};

Tensor random_tensor(const Shape& shape, uint64_t seed, DType dtype = DType::F32) {
    Tensor t(TensorDesc{shape, dtype});
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, 2.0 * uniform01(seed, 0, static_cast<uint64_t>(i)) - 1.0);
    return t;
}

bool has_parameter(const Graph& g, const std::string& name, const Shape& shape) {
    for (const Value& p : g.parameters(false))
        if (p.name() == name) return p.shape() == shape;
    return false;
}

// d(logits)/dx of a whole network in f64, batch 2: the full Jacobian up to `jacobian_limit`
// input·output elements, random directions beyond.
void gradcheck_network(const std::string& label, const Shape& x_shape, const std::function<Value(Value)>& build,
                       int64_t jacobian_limit = 1 << 14) {
    GraphFunction f = [&](Graph&, const std::vector<Value>& in) { return std::vector<Value>{build(in[0])}; };
    GradcheckOptions o;
    o.full_jacobian_limit = jacobian_limit;
    const auto results = gradcheck_function(label, "x", f, {random_tensor(x_shape, 11, DType::F64)}, {true}, o);
    REQUIRE(results.size() == 2);
    for (const GradcheckResult& r : results) {
        INFO(r.describe());
        CHECK(r.passed);
    }
}

train::ModelSummary zoo_summary(const std::string& model) { return train::summarize_model(model, {1, 28, 28}, 1); }

// Conv2d k×k from i to o channels (groups g) producing an h×h map: weights and multiply-adds.
Counts conv(int64_t i, int64_t o, int64_t k, int64_t h, int64_t groups = 1, bool bias = false) {
    return {o * (i / groups) * k * k + (bias ? o : 0), o * h * h * (i / groups) * k * k};
}
Counts linear(int64_t i, int64_t o) { return {i * o + o, i * o}; }
Counts bn(int64_t c) { return {2 * c, 0}; }  // γ, β (running statistics are state)
Counts& operator+=(Counts& a, Counts b) {
    a.params += b.params;
    a.macs += b.macs;
    return a;
}

// ---- AlexNet: 5x5 conv at 28, pool to 13, 5x5 conv, pool to 6, three 3x3 convs, pool to 2 ----
Counts alexnet_counts(const models::AlexNetOptions& o, int64_t classes) {
    const auto& c = o.channels;
    Counts n;
    n += conv(1, c[0], 5, 28, 1, true);
    n += conv(c[0], c[1], 5, 13, 1, true);
    n += conv(c[1], c[2], 3, 6, 1, true);
    n += conv(c[2], c[3], 3, 6, 1, true);
    n += conv(c[3], c[4], 3, 6, 1, true);
    n += linear(c[4] * 2 * 2, o.hidden);
    n += linear(o.hidden, o.hidden);
    n += linear(o.hidden, classes);
    return n;
}

// ---- DenseNet-BC: per block of n layers with input c0 at h×h, the sums over l of
// c_l = c0 + l·k are n·c0 + k·n(n−1)/2 --------------------------------------------------------
Counts densenet_counts(const models::DenseNetOptions& o, int64_t classes) {
    const int64_t n = (o.depth - 4) / 6, k = o.growth, b = o.bottleneck * o.growth;
    Counts t = conv(1, 2 * k, 3, 28);
    int64_t c = 2 * k, h = 28;
    for (int block = 1; block <= 3; ++block) {
        const int64_t sum_c = n * c + k * n * (n - 1) / 2;  // Σ_l c_l
        // per layer: norm1 2c_l, conv1 c_l·b, norm2 2b, conv2 9·b·k
        t.params += 2 * sum_c + sum_c * b + n * (2 * b + 9 * b * k);
        t.macs += h * h * (sum_c * b + n * 9 * b * k);
        c += n * k;
        if (block < 3) {
            const auto kept = static_cast<int64_t>(std::floor(o.compression * static_cast<double>(c)));
            t += bn(c);
            t += conv(c, kept, 1, h);
            c = kept;
            h /= 2;
        }
    }
    t += bn(c);
    t += linear(c, classes);
    return t;
}

// ---- Xception: separable conv = 9·i depthwise + i·o pointwise weights, at h×h ----------------
Counts sep(int64_t i, int64_t o, int64_t h) { return {9 * i + i * o, (9 * i + i * o) * h * h}; }
Counts xception_counts(const models::XceptionOptions& o, int64_t classes) {
    Counts t = conv(1, o.stem[0], 3, 28);
    t += bn(o.stem[0]);
    t += conv(o.stem[0], o.stem[1], 3, 28);
    t += bn(o.stem[1]);
    auto down_block = [&t](int64_t in, int64_t a, int64_t b, int64_t h) {  // h → ⌈h/2⌉
        t += sep(in, a, h);
        t += bn(a);
        t += sep(a, b, h);
        t += bn(b);
        t += conv(in, b, 1, (h + 1) / 2);
        t += bn(b);
    };
    int64_t in = o.stem[1], h = 28;
    for (int64_t w : o.entry) {
        down_block(in, w, w, h);
        in = w;
        h = (h + 1) / 2;
    }
    REQUIRE(h == 4);
    const int64_t m = o.entry[2];
    for (int64_t b = 0; b < o.middle_blocks; ++b)
        for (int i = 0; i < 3; ++i) {
            t += sep(m, m, 4);
            t += bn(m);
        }
    down_block(m, o.exit[0], o.exit[1], 4);
    t += sep(o.exit[1], o.head[0], 2);
    t += bn(o.head[0]);
    t += sep(o.head[0], o.head[1], 2);
    t += bn(o.head[1]);
    t += linear(o.head[1], classes);
    return t;
}

// ---- EfficientNet-B0 from the paper's stage table, per block -------------------------------
struct Stage {
    int64_t expand, kernel, stride, out, repeats;
};
const Stage kB0[] = {{1, 3, 1, 16, 1}, {6, 3, 2, 24, 2}, {6, 5, 2, 40, 2}, {6, 3, 2, 80, 3},
                     {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4}, {6, 3, 1, 320, 1}};
Counts efficientnet_b0_counts(int64_t classes) {
    Counts t = conv(1, 32, 3, 28);
    t += bn(32);
    int64_t in = 32, h = 28;
    for (const Stage& s : kB0)
        for (int64_t r = 0; r < s.repeats; ++r) {
            const int64_t stride = r == 0 ? s.stride : 1, ho = (h + stride - 1) / stride;
            const int64_t hidden = in * s.expand, squeeze = std::max<int64_t>(1, in / 4);
            if (s.expand != 1) {
                t += conv(in, hidden, 1, h);
                t += bn(hidden);
            }
            t += conv(hidden, hidden, s.kernel, ho, hidden);  // depthwise
            t += bn(hidden);
            t += conv(hidden, squeeze, 1, 1, 1, true);        // SE fc1, fc2 on [N, C, 1, 1]
            t += conv(squeeze, hidden, 1, 1, 1, true);
            t += conv(hidden, s.out, 1, ho);                  // projection
            t += bn(s.out);
            in = s.out;
            h = ho;
        }
    REQUIRE(h == 2);
    t += conv(320, 1280, 1, h);
    t += bn(1280);
    t += linear(1280, classes);
    return t;
}

}  // namespace

TEST_CASE("AlexNet's summary matches its layer table, dropout only in training", "[models][vision]") {
    const train::ModelSummary s = zoo_summary("alexnet");
    const Counts want = alexnet_counts({}, 10);
    CHECK(s.params == want.params);
    CHECK(s.macs == want.macs);
    CHECK(s.params == 2'197'866);  // the formula above, evaluated once by hand for the README
    CHECK(s.layers.back().output == Shape{1, 10});
    // Other widths follow the same formula.
    Graph g;
    Value x = g.input("x", {2, 1, 28, 28});
    const models::AlexNetOptions o{.channels = {8, 16, 24, 16, 12}, .hidden = 40, .dropout = 0.5};
    Value logits = models::alexnet(x, 7, o);
    const train::ModelSummary t = train::summarize_graph(g, x, logits);
    CHECK(t.params == alexnet_counts(o, 7).params);
    CHECK(t.macs == 2 * alexnet_counts(o, 7).macs);  // batch 2
    CHECK(has_parameter(g, "features.10.weight", {12, 16, 3, 3}));
    CHECK(has_parameter(g, "classifier.1.weight", {40, 12 * 2 * 2}));
    CHECK(has_parameter(g, "classifier.6.bias", {7}));
    // Evaluation is deterministic (dropout is the identity); training draws new masks.
    auto eval = compile(g, {logits});
    const Tensor in = random_tensor(x.shape(), 5);
    const auto a = eval.run({{x, in}})[0].to_doubles();
    CHECK(eval.run({{x, in}})[0].to_doubles() == a);
    auto train_step = compile(g, {logits}, {.training = true});
    const auto b = train_step.run({{x, in}})[0].to_doubles();
    CHECK(b != a);
    CHECK(train_step.run({{x, in}})[0].to_doubles() != b);  // a new mask every run
}

TEST_CASE("DenseNet-BC's summary matches the per-layer sums, torchvision's names", "[models][vision]") {
    const train::ModelSummary s = zoo_summary("densenet_bc");
    const Counts want = densenet_counts({}, 10);
    CHECK(s.params == want.params);
    CHECK(s.macs == want.macs);
    Graph g;
    Value x = g.input("x", {2, 1, 28, 28});
    const models::DenseNetOptions o{.depth = 22, .growth = 8, .compression = 0.5, .bottleneck = 4};
    Value logits = models::densenet_bc(x, 10, o);
    const train::ModelSummary t = train::summarize_graph(g, x, logits);
    CHECK(t.params == densenet_counts(o, 10).params);
    CHECK(t.macs == 2 * densenet_counts(o, 10).macs);
    // 16 → +3·8 = 40 → ⌊40/2⌋ = 20 → 44 → 22 → 46 channels.
    CHECK(has_parameter(g, "features.conv0.weight", {16, 1, 3, 3}));
    CHECK(has_parameter(g, "features.denseblock1.denselayer3.conv1.weight", {32, 32, 1, 1}));
    CHECK(has_parameter(g, "features.denseblock1.denselayer3.conv2.weight", {8, 32, 3, 3}));
    CHECK(has_parameter(g, "features.transition1.conv.weight", {20, 40, 1, 1}));
    CHECK(has_parameter(g, "features.transition2.norm.weight", {44}));
    CHECK(has_parameter(g, "features.norm5.bias", {46}));
    CHECK(has_parameter(g, "classifier.weight", {10, 46}));
    // The summary groups a dense block's layers into one row.
    bool found = false;
    for (const auto& l : t.layers) found = found || (l.name == "features.denseblock2" && l.output == Shape{2, 44, 14, 14});
    CHECK(found);
    Graph bad;
    CHECK_THROWS_WITH(models::densenet_bc(bad.input("x", {1, 1, 28, 28}), 10, {.depth = 41}), Contains("6n + 4"));
    CHECK_THROWS_WITH(models::densenet_bc(bad.input("y", {1, 1, 28, 28}), 10, {.compression = 0.0}),
                      Contains("compression"));
}

TEST_CASE("Xception's summary matches its flows, Keras's layer names", "[models][vision]") {
    const train::ModelSummary s = zoo_summary("xception");
    const Counts want = xception_counts({}, 10);
    CHECK(s.params == want.params);
    CHECK(s.macs == want.macs);
    Graph g;
    Value x = g.input("x", {2, 1, 28, 28});
    const models::XceptionOptions o{.stem = {8, 8}, .entry = {16, 24, 32}, .middle_blocks = 3, .exit = {32, 40}, .head = {48, 56}};
    Value logits = models::xception(x, 10, o);
    const train::ModelSummary t = train::summarize_graph(g, x, logits);
    CHECK(t.params == xception_counts(o, 10).params);
    CHECK(t.macs == 2 * xception_counts(o, 10).macs);
    CHECK(has_parameter(g, "block1_conv1.weight", {8, 1, 3, 3}));
    CHECK(has_parameter(g, "block2_sepconv1.depthwise.weight", {8, 1, 3, 3}));
    CHECK(has_parameter(g, "block2_sepconv1.pointwise.weight", {16, 8, 1, 1}));
    CHECK(has_parameter(g, "block4_residual.weight", {32, 24, 1, 1}));
    CHECK(has_parameter(g, "block7_sepconv3_bn.weight", {32}));  // the third middle block
    CHECK(has_parameter(g, "block8_residual.weight", {40, 32, 1, 1}));
    CHECK(has_parameter(g, "block9_sepconv2.pointwise.weight", {56, 48, 1, 1}));
    CHECK(has_parameter(g, "predictions.weight", {10, 56}));
    // The paper's widths, 8 middle blocks, RGB and 1000 classes: Keras's Xception has
    // 22,855,952 trainable parameters (22,910,480 with the batch-norm moving statistics).
    Graph full;
    const models::XceptionOptions paper{.stem = {32, 64}, .entry = {128, 256, 728}, .middle_blocks = 8, .exit = {728, 1024}, .head = {1536, 2048}};
    models::xception(full.input("x", {1, 3, 28, 28}), 1000, paper);
    int64_t params = 0;
    for (const Value& p : full.parameters()) params += p.numel();
    CHECK(params == 22'855'952);
}

TEST_CASE("EfficientNet-B0's summary matches the stage table, per block", "[models][vision]") {
    const train::ModelSummary s = zoo_summary("efficientnet_b0");
    const Counts want = efficientnet_b0_counts(10);
    CHECK(s.params == want.params);
    CHECK(s.macs == want.macs);
    Graph g;
    Value x = g.input("x", {2, 1, 28, 28});
    Value logits = models::efficientnet(x, 10);
    CHECK(logits.shape() == Shape{2, 10});
    CHECK(has_parameter(g, "features.0.0.weight", {32, 1, 3, 3}));
    CHECK(has_parameter(g, "features.1.0.block.0.0.weight", {32, 1, 3, 3}));   // expand 1: depthwise first
    CHECK(has_parameter(g, "features.1.0.block.1.fc1.weight", {8, 32, 1, 1}));  // SE: 32/4
    CHECK(has_parameter(g, "features.2.1.block.2.fc1.weight", {6, 144, 1, 1}));  // 24/4 of the block input
    CHECK(has_parameter(g, "features.6.3.block.3.0.weight", {192, 1152, 1, 1}));
    CHECK(has_parameter(g, "features.8.0.weight", {1280, 320, 1, 1}));
    CHECK(has_parameter(g, "classifier.1.weight", {10, 1280}));
    // RGB and 1000 classes: torchvision's efficientnet_b0 has 5,288,548 parameters.
    Graph rgb;
    models::efficientnet(rgb.input("x", {1, 3, 28, 28}), 1000);
    int64_t params = 0;
    for (const Value& p : rgb.parameters()) params += p.numel();
    CHECK(params == 5'288'548);
    // Stochastic depth: one per-sample drop on every residual block (9 of B0's 16), plus the
    // classifier's dropout.
    int dropouts = 0;
    for (int32_t i = 0; i < g.num_nodes(); ++i) dropouts += g.node(i).op_name() == "dropout";
    CHECK(dropouts == 9 + 1);
}

TEST_CASE("EfficientNet's compound scaling rounds like torchvision", "[models][vision]") {
    CHECK(models::make_divisible(32 * 1.1) == 32);
    CHECK(models::make_divisible(40 * 1.1) == 48);
    CHECK(models::make_divisible(112 * 1.1) == 120);
    CHECK(models::make_divisible(192 * 1.1) == 208);
    CHECK(models::make_divisible(3.0) == 8);       // at least the divisor
    CHECK(models::make_divisible(20.0, 16) == 32); // 16 would lose 20%: rounded up
    const int64_t heads[] = {1280, 1280, 1408, 1536, 1792, 2048, 2304, 2560};  // torchvision's features.8
    const int64_t sides[] = {28, 30, 33, 38, 48, 57, 66, 75};
    for (int b = 0; b <= 7; ++b) {
        const models::EfficientNetVariant v = models::efficientnet_variant(b);
        CHECK(v.input_side == sides[b]);
        Graph g;
        Value x = g.input("x", {1, 1, v.input_side, v.input_side});
        models::efficientnet(x, 10, v.options);
        INFO("B" << b);
        CHECK(has_parameter(g, "classifier.1.weight", {10, heads[b]}));
    }
    // B1: depth 1.1 makes the repeats ⌈1.1·(1, 2, 2, 3, 3, 4, 1)⌉ = 2, 3, 3, 4, 4, 5, 2.
    Graph g;
    models::efficientnet(g.input("x", {1, 1, 30, 30}), 10, models::efficientnet_variant(1).options);
    CHECK(has_parameter(g, "features.1.1.block.2.0.weight", {16, 16, 1, 1}));
    CHECK(has_parameter(g, "features.6.4.block.0.0.weight", {1152, 192, 1, 1}));
    CHECK_FALSE(has_parameter(g, "features.6.5.block.0.0.weight", {1152, 192, 1, 1}));
    CHECK(has_parameter(g, "features.7.1.block.0.0.weight", {1920, 320, 1, 1}));
    CHECK_THROWS_WITH(models::efficientnet_variant(8), Contains("B8"));
}

TEST_CASE("drop_path scales whole samples in training and is the identity in evaluation", "[models][vision]") {
    Graph g;
    const int64_t n = 400;
    Value x = g.input("x", {n, 2, 3, 3});
    Value w = g.parameter("w", {1}, init::ones());
    Value y = models::drop_path(x * w, 0.25);
    auto train_step = compile(g, {y, grad(sum(y), {w})[0]});
    auto eval = compile(g, {y});
    REQUIRE(train_step.training());
    Tensor in(TensorDesc{x.shape(), DType::F32});
    for (int64_t i = 0; i < in.numel(); ++i) in.set(i, 1.0 + static_cast<double>(i % 7));
    const auto out = train_step.run({{x, in}})[0].to_doubles();
    int64_t dropped = 0;
    for (int64_t s = 0; s < n; ++s) {
        const double scale = out[static_cast<std::size_t>(s * 18)] / in.get(s * 18);
        REQUIRE((scale == 0.0 || scale == Approx(1.0 / 0.75)));
        for (int64_t e = 0; e < 18; ++e) CHECK(out[static_cast<std::size_t>(s * 18 + e)] == Approx(scale * in.get(s * 18 + e)));
        dropped += scale == 0.0;
    }
    CHECK(dropped > 70);   // 100 expected: binomial(400, 0.25), σ ≈ 8.7
    CHECK(dropped < 130);
    CHECK(eval.run({{x, in}})[0].to_doubles() == in.to_doubles());
    CHECK(models::drop_path(x, 0.0).node == x.node);  // rate 0 adds nothing
}

TEST_CASE("silu is x·σ(x) at the extremes, fast f32 and reference f64 kernels", "[ops][vision]") {
    const std::vector<double> v{-1000, -80, -20, -1.5, -1e-3, 0, 1e-3, 0.5, 3, 20, 80, 1000};
    for (DType dt : {DType::F32, DType::F64}) {
        Graph g;
        Value x = g.input("x", {static_cast<int64_t>(v.size())}, dt);
        Value dy = g.input("dy", x.shape(), dt);
        auto p = compile(g, {silu(x), silu_backward(dy, x)});
        Tensor in = Tensor::from_vector<double>(v, x.shape()).cast(dt);
        Tensor ones = Tensor::from_vector<double>(std::vector<double>(v.size(), 1.0), x.shape()).cast(dt);
        const auto out = p.run({{x, in}, {dy, ones}});
        for (std::size_t i = 0; i < v.size(); ++i) {
            const long double xi = v[i], s = 1.0L / (1.0L + std::exp(-xi));
            INFO(dtype_name(dt) << " x = " << v[i]);
            CHECK(out[0].get(static_cast<int64_t>(i)) == Approx(static_cast<double>(xi * s)).margin(1e-30));
            CHECK(out[1].get(static_cast<int64_t>(i)) == Approx(static_cast<double>(s * (1 + xi * (1 - s)))).margin(1e-30));
        }
    }
}

TEST_CASE("gradients through small AlexNet, DenseNet-BC, Xception and EfficientNet match f64 differences",
          "[models][vision][gradcheck]") {
    // AlexNet needs 15x15 for its three 3x3/2 poolings (15 → 7 → 3 → 1).
    // Dropout off: gradcheck runs the program many times and needs the same function each run.
    gradcheck_network("alexnet", {2, 1, 15, 15}, [](Value x) {
        return models::alexnet(x, 3, {.channels = {2, 3, 3, 2, 2}, .hidden = 4, .dropout = 0.0});
    });
    gradcheck_network("densenet_bc", {2, 1, 8, 8}, [](Value x) {
        return models::densenet_bc(x, 3, {.depth = 10, .growth = 2, .compression = 0.5, .bottleneck = 2});
    });
    gradcheck_network("xception", {2, 1, 8, 8}, [](Value x) {
        return models::xception(x, 3, {.stem = {2, 2}, .entry = {2, 3, 3}, .middle_blocks = 1, .exit = {3, 4}, .head = {4, 4}});
    });
    // 32x32 so the last stages run at 2x2: batch norm over 2 samples of 1x1 maps is so
    // ill-conditioned (second derivatives ~1e9) that central differences lose their accuracy.
    gradcheck_network("efficientnet", {2, 1, 32, 32}, [](Value x) {
        return models::efficientnet(x, 3, {.width_mult = 0.25, .depth_mult = 0.3, .dropout = 0.0, .stochastic_depth = 0.0});
    }, 4096);
}
