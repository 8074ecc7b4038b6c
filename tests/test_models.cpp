// The reference models: parameter counts pinned by hand, PyTorch state_dict names, output
// shapes, training on a fixed tiny batch (finite results, and Adam steps make the loss fall)
// and one evaluation pass per model.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <string>

#include "graphgrad/graph/rng.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/optim/optim.h"

using namespace gg;
using Catch::Matchers::Contains;

namespace {

int64_t trainable_params(const Graph& g) {
    int64_t n = 0;
    for (Value p : g.parameters()) n += p.numel();
    return n;
}

Tensor random_tensor(const Shape& shape, uint64_t seed) {
    Tensor t(TensorDesc{shape, DType::F32});
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, uniform01(seed, 0, static_cast<uint64_t>(i)));
    return t;
}

Tensor random_labels(int64_t n, int64_t classes, uint64_t seed) {
    Tensor t(TensorDesc{{n}, DType::I64});
    for (int64_t i = 0; i < n; ++i) t.set(i, static_cast<double>(random_bits(seed, 1, static_cast<uint64_t>(i)) % classes));
    return t;
}

bool all_finite(const Tensor& t) {
    for (double v : t.to_doubles())
        if (!std::isfinite(v)) return false;
    return true;
}

// Training on one fixed batch (loss and every trainable parameter's gradient): finite numbers,
// and a few Adam steps must lower the loss (gradients that point anywhere else, or never
// reach the weights, cannot); then one evaluation pass. `make_loss` turns the model's output
// into a scalar.
void check_forward_backward(Graph& g, Value x, Value out, const std::function<Value(Value)>& make_loss,
                            const Feeds& extra_feeds = {}) {
    Value loss = make_loss(out);
    auto params = g.parameters();
    auto grads = grad(loss, params);
    std::vector<Value> fetches{loss, out};
    fetches.insert(fetches.end(), grads.begin(), grads.end());
    auto step = compile(g, fetches);
    Feeds feeds{{x, random_tensor(x.shape(), 7)}};
    feeds.insert(feeds.end(), extra_feeds.begin(), extra_feeds.end());
    auto results = step.run(feeds);
    REQUIRE(results.size() == fetches.size());
    for (std::size_t i = 0; i < results.size(); ++i) {
        INFO("fetch " << i << (i >= 2 ? " (gradient of " + params[i - 2].name() + ")" : ""));
        CHECK(all_finite(results[i]));
    }
    const double first = results[0].get(0);
    optim::Adam opt(g, params, {.lr = 1e-3});
    double last = first;
    for (int k = 0; k < 8; ++k) {
        opt.step({results.begin() + 2, results.end()});
        results = step.run(feeds);
        last = results[0].get(0);
    }
    INFO("loss " << first << " → " << last << " after 8 Adam steps on the same batch");
    CHECK(last < first);
    auto eval = compile(g, {out});  // no gradient nodes: batch norm uses running statistics
    CHECK_FALSE(eval.training());
    CHECK(all_finite(eval.run({feeds[0]})[0]));
}

void check_classifier_step(Graph& g, Value x, Value logits) {
    Value y = g.input("y", {x.dim(0)}, DType::I64);
    check_forward_backward(g, x, logits, [y](Value out) { return cross_entropy(out, y); },
                           {{y, random_labels(x.dim(0), logits.dim(1), 3)}});
}

}  // namespace

TEST_CASE("linear is torch.nn.Linear: [out, in] weight, default init, x·Wᵀ + b", "[models]") {
    Graph g;
    Value x = g.input("x", {3, 400});
    Value y = models::linear(x, 120, "fc1");
    CHECK(y.shape() == Shape{3, 120});
    const Tensor& w = g.store().get("fc1.weight");
    const Tensor& b = g.store().get("fc1.bias");
    CHECK(w.shape() == Shape{120, 400});
    CHECK(b.shape() == Shape{120});
    // kaiming_uniform(a = √5) ⇒ U(−1/√in, 1/√in) = U(−0.05, 0.05); the extremes come close.
    double w_max = 0, b_max = 0;
    for (double v : w.to_doubles()) w_max = std::max(w_max, std::abs(v));
    for (double v : b.to_doubles()) b_max = std::max(b_max, std::abs(v));
    CHECK(w_max <= 0.05);
    CHECK(w_max > 0.049);
    CHECK(b_max <= 0.05);
    CHECK(b_max > 0.04);

    // The value: y[0][j] = Σ_i x[0][i]·W[j][i] + b[j].
    Tensor xb = random_tensor({3, 400}, 11);
    Tensor out = compile(g, {y}).run({{x, xb}})[0];
    for (int64_t j : {0, 57, 119}) {
        double expected = b.get(j);
        for (int64_t i = 0; i < 400; ++i) expected += xb.get(i) * w.get(j * 400 + i);
        CHECK(out.get(j) == Approx(expected).epsilon(1e-4));
    }
}

TEST_CASE("the MLP and the autoencoders train on tiny batches", "[models]") {
    SECTION("mlp") {
        Graph g;
        Value x = g.input("x", {4, 1, 28, 28});
        Value logits = models::mlp(x, {32, 16}, 10);
        CHECK(logits.shape() == Shape{4, 10});
        CHECK(g.store().get("fc3.weight").shape() == Shape{10, 16});
        check_classifier_step(g, x, logits);
    }
    SECTION("autoencoder") {
        Graph g;
        Value x = g.input("x", {4, 1, 28, 28});
        Value recon = models::autoencoder(x, 8);
        CHECK(recon.shape() == x.shape());
        CHECK(g.store().get("encoder.2.weight").shape() == Shape{8, 128});
        CHECK(g.store().get("decoder.2.weight").shape() == Shape{784, 128});
        check_forward_backward(g, x, recon, [x](Value r) { return mse(r, x); });
    }
    SECTION("denoising autoencoder: corrupted in training programs, clean in evaluation") {
        Graph g;
        Value x = g.input("x", {4, 1, 28, 28});
        Value recon = models::denoising_autoencoder(x, 0.5, 8);
        CHECK(recon.shape() == x.shape());
        check_forward_backward(g, x, recon, [x](Value r) { return mse(r, x); });
        Tensor xb = random_tensor(x.shape(), 5);
        Tensor clean = compile(g, {recon}).run({{x, xb}})[0].clone();
        Tensor noisy = compile(g, {recon}, {.training = true}).run({{x, xb}})[0].clone();
        int64_t changed = 0;
        for (int64_t i = 0; i < clean.numel(); ++i) changed += clean.get(i) != noisy.get(i);
        CHECK(changed > clean.numel() / 2);
    }
}

TEST_CASE("LeNet-5 has 61,706 parameters named like PyTorch's", "[models]") {
    // conv1 6·1·5·5+6 = 156, conv2 16·6·5·5+16 = 2,416, fc1 16·5·5·120+120 = 48,120,
    // fc2 120·84+84 = 10,164, fc3 84·10+10 = 850.
    Graph g;
    Value x = g.input("x", {2, 1, 28, 28});
    Value logits = models::lenet5(x, 10);
    CHECK(logits.shape() == Shape{2, 10});
    CHECK(trainable_params(g) == 61706);
    CHECK(g.store().get("conv1.weight").shape() == Shape{6, 1, 5, 5});
    CHECK(g.store().get("conv2.weight").shape() == Shape{16, 6, 5, 5});
    CHECK(g.store().get("fc1.weight").shape() == Shape{120, 400});
    CHECK(g.store().get("fc3.bias").shape() == Shape{10});
    // Conv2d's default init: |w| ≤ 1/√(in·k·k) = 1/√25.
    for (double v : g.store().get("conv1.weight").to_doubles()) CHECK(std::abs(v) <= 0.2);
    check_classifier_step(g, x, logits);
}

TEST_CASE("a depthwise-separable layer has D_k²·M + M·N convolution weights", "[models]") {
    const int64_t m = 32, n = 64;
    Graph g;
    Value x = g.input("x", {2, m, 8, 8});
    Value y = models::depthwise_separable(x, n, 2, "block");
    CHECK(y.shape() == Shape{2, n, 4, 4});
    int64_t conv_weights = 0, other = 0;
    for (Value p : g.parameters()) (p.rank() == 4 ? conv_weights : other) += p.numel();
    CHECK(conv_weights == 3 * 3 * m + m * n);  // 288 + 2,048, versus 3·3·M·N = 18,432 dense
    CHECK(other == 2 * m + 2 * n);             // batch-norm γ and β; the convs have no bias
    CHECK(g.store().get("block.0.0.weight").shape() == Shape{m, 1, 3, 3});  // groups = M
    CHECK(g.store().get("block.1.0.weight").shape() == Shape{n, m, 1, 1});
    CHECK(g.store().contains("block.1.1.running_var"));
}

TEST_CASE("ResNet-20 has 272,474 parameters for CIFAR and torchvision's names", "[models]") {
    // Trainable parameters for 3x32x32 and 10 classes (convs have no bias; each BN has γ, β):
    //   stem   conv1 3·16·9 = 432, bn1 32                                          =     464
    //   layer1 3 blocks × (2 × 16·16·9 + 2 × 32)  = 3 × 4,672                      =  14,016
    //   layer2 block 0: 16·32·9 + 32·32·9 + 2·64 + downsample 16·32 + 64 = 14,528
    //          blocks 1–2: 2 × (2 × 32·32·9 + 2·64) = 2 × 18,560 = 37,120          =  51,648
    //   layer3 block 0: 32·64·9 + 64·64·9 + 2·128 + downsample 32·64 + 128 = 57,728
    //          blocks 1–2: 2 × (2 × 64·64·9 + 2·128) = 2 × 73,984 = 147,968        = 205,696
    //   fc     64·10 + 10                                                          =     650
    //   total                                                                        272,474
    // (the paper's option A, parameter-free shortcuts, would have 269,722: "0.27M").
    Graph g;
    Value x = g.input("x", {2, 3, 32, 32});
    Value logits = models::resnet(x, 20, 10);
    CHECK(logits.shape() == Shape{2, 10});
    CHECK(trainable_params(g) == 272474);

    const ParameterStore& s = g.store();
    CHECK(s.get("conv1.weight").shape() == Shape{16, 3, 3, 3});
    CHECK(s.get("layer1.0.bn1.running_mean").shape() == Shape{16});
    CHECK_FALSE(s.entries().at("layer1.0.bn1.running_mean").trainable);
    CHECK(s.contains("layer1.0.bn1.num_batches_tracked"));
    CHECK(s.get("layer3.2.conv2.weight").shape() == Shape{64, 64, 3, 3});
    CHECK(s.get("layer2.0.downsample.0.weight").shape() == Shape{32, 16, 1, 1});
    CHECK(s.contains("layer2.0.downsample.1.running_var"));
    CHECK_FALSE(s.contains("layer1.0.downsample.0.weight"));  // same shape: identity shortcut
    CHECK(s.get("fc.weight").shape() == Shape{10, 64});

    CHECK_THROWS_WITH(models::resnet(x, 19), Contains("6n + 2"));
}

TEST_CASE("MobileNet v1 scales with α and ρ; the inverted residual keeps its shortcut", "[models]") {
    Graph g;
    Value x = g.input("x", {2, 1, 20, 20});  // ρ ≈ 0.71 of 28x28
    Value logits = models::mobilenet_v1(x, 10, 0.5);
    CHECK(logits.shape() == Shape{2, 10});
    CHECK(g.store().get("features.0.0.weight").shape() == Shape{16, 1, 3, 3});  // 32·α
    CHECK(g.store().get("features.7.1.0.weight").shape() == Shape{256, 256, 1, 1});
    CHECK(g.store().get("classifier.weight").shape() == Shape{10, 256});

    Graph g2;
    Value x2 = g2.input("x", {2, 16, 8, 8});
    Value same = models::inverted_residual(x2, 16, 1, 6, "features.1");  // residual: x + F(x)
    Value down = models::inverted_residual(same, 24, 2, 6, "features.2");
    CHECK(same.shape() == Shape{2, 16, 8, 8});
    CHECK(down.shape() == Shape{2, 24, 4, 4});
    CHECK(g2.store().get("features.1.conv.0.0.weight").shape() == Shape{96, 16, 1, 1});  // expand
    CHECK(g2.store().get("features.1.conv.1.0.weight").shape() == Shape{96, 1, 3, 3});   // depthwise
    CHECK(g2.store().get("features.1.conv.2.weight").shape() == Shape{16, 96, 1, 1});    // project
    CHECK(g2.store().contains("features.1.conv.3.running_mean"));
    check_forward_backward(g2, x2, down, [](Value out) { return mean(out * out); });

    // The shortcut is there: with the residual branch's last batch norm zeroed (γ = β = 0, so
    // F(x) = 0), the block is the identity, in training and in evaluation programs.
    const Tensor xv = random_tensor(x2.shape(), 4);
    auto max_change = [&](bool training) {
        const Tensor y = compile(g2, {same}, {.training = training}).run({{x2, xv}})[0].clone();
        double worst = 0;
        for (int64_t i = 0; i < y.numel(); ++i) worst = std::max(worst, std::abs(y.get(i) - xv.get(i)));
        return worst;
    };
    CHECK(max_change(false) > 1e-3);  // the branch contributes while γ = 1
    for (const char* p : {"features.1.conv.3.weight", "features.1.conv.3.bias"}) {
        Tensor& t = g2.store().get(p);
        for (int64_t i = 0; i < t.numel(); ++i) t.set(i, 0.0);
    }
    CHECK(max_change(false) == 0.0);
    CHECK(max_change(true) == 0.0);
}

TEST_CASE("an Inception module concatenates its four branches", "[models]") {
    Graph g;
    Value x = g.input("x", {2, 8, 6, 6});
    Value y = models::inception_module(x, 4, 4, 8, 2, 4, 4, "inc");
    CHECK(y.shape() == Shape{2, 4 + 8 + 4 + 4, 6, 6});
    CHECK(g.store().get("inc.branch3.1.conv.weight").shape() == Shape{4, 2, 5, 5});
    CHECK(g.store().get("inc.branch4.1.bn.weight").shape() == Shape{4});
    check_forward_backward(g, x, y, [](Value out) { return mean(out * out); });
}

TEST_CASE("U-Net maps [N, C, H, W] to per-pixel scores of the same size", "[models]") {
    Graph g;
    Value x = g.input("x", {2, 3, 16, 16});
    Value y = models::unet(x, 2, 4, 2);
    CHECK(y.shape() == Shape{2, 2, 16, 16});
    CHECK(g.store().get("up.0.weight").shape() == Shape{16, 8, 2, 2});        // ConvTranspose2d [in, out, k, k]
    CHECK(g.store().get("up_conv.0.0.weight").shape() == Shape{8, 16, 3, 3});  // skip ⊕ upsampled
    CHECK(g.store().get("head.weight").shape() == Shape{2, 4, 1, 1});
    Value target = g.input("target", y.shape());
    check_forward_backward(g, x, y, [target](Value out) { return mse(out, target); },
                           {{target, random_tensor(y.shape(), 9)}});
    Graph g2;
    CHECK_THROWS_WITH(models::unet(g2.input("x", {1, 1, 28, 28}), 2, 4, 3), Contains("divisible by 2^depth = 8"));
}

TEST_CASE("every zoo model builds, trains and evaluates on its default input", "[models]") {
    for (const auto& entry : models::model_zoo()) {
        DYNAMIC_SECTION(entry.name) {
            Graph g;
            Shape shape{2};
            shape.insert(shape.end(), entry.default_input.begin(), entry.default_input.end());
            Value x = g.input("x", shape);
            Value logits = entry.build(x, 10);
            CHECK(logits.shape() == Shape{2, 10});
            check_classifier_step(g, x, logits);
        }
    }
    CHECK(&models::find_model("lenet5") == &models::model_zoo()[1]);
    CHECK_THROWS_WITH(models::find_model("googlenet"), Contains("googlenet") && Contains("resnet20"));
}
