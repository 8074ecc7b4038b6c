// `graphgrad summary`'s figures (tools/model_summary.h) against numbers known by hand:
// parameter counts, multiply-adds, receptive fields and layer grouping.
#include <catch2/catch.hpp>

#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/conv.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/ops/pooling.h"
#include "graphgrad/train/model_summary.h"

using namespace gg;
using gg::train::ReceptiveField;

namespace {

const train::LayerSummary& layer(const train::ModelSummary& s, const std::string& name) {
    for (const auto& l : s.layers)
        if (l.name == name) return l;
    FAIL("no layer named " << name);
    return s.layers.front();
}

}  // namespace

TEST_CASE("layers are named by their scope prefix", "[tools][summary]") {
    CHECK(train::layer_group("conv1.conv2d_7") == "conv1");
    CHECK(train::layer_group("conv1.weight") == "conv1");
    CHECK(train::layer_group("layer1.0.conv2.conv2d_31") == "layer1.0");
    CHECK(train::layer_group("features.3.1.running_mean") == "features.3");
    CHECK(train::layer_group("relu_12") == "relu_12");
}

TEST_CASE("LeNet-5 has 61,706 parameters", "[tools][summary][models]") {
    Graph g;
    Value x = g.input("x", {1, 1, 28, 28});
    Value logits = models::lenet5(x, 10);
    train::ModelSummary s = train::summarize_graph(g, x, logits);
    CHECK(s.params == 61706);
    CHECK(s.state == 0);
    CHECK(layer(s, "conv1").params == 6 * 1 * 25 + 6);
    CHECK(layer(s, "conv1").macs == 6 * 28 * 28 * 25);  // N·O·Ho·Wo·C·kh·kw
    CHECK(layer(s, "conv1").output == Shape{1, 6, 28, 28});
    CHECK(layer(s, "fc3").params == 84 * 10 + 10);
    CHECK(layer(s, "fc3").macs == 84 * 10);
    // conv 5 → pool 2 → conv 5 → pool 2, jumps 1, 1, 2, 2: 5 + 1·1 + 4·2 + 1·2 = 16
    REQUIRE(s.receptive_field);
    CHECK(*s.receptive_field == ReceptiveField{16, 16});
    CHECK(*layer(s, "conv2").receptive_field == ReceptiveField{14, 14});
    CHECK(s.layers.front().name == "input");
    CHECK(s.layers.back().output == Shape{1, 10});
}

TEST_CASE("two stacked 3x3 stride-2 convs have a receptive field of 7", "[tools][summary]") {
    Graph g;
    Value x = g.input("x", {2, 3, 32, 32});
    Value w1 = g.parameter("w1", {8, 3, 3, 3}, init::kaiming_uniform());
    Value w2 = g.parameter("w2", {8, 8, 3, 3}, init::kaiming_uniform());
    Conv2dOptions o{.stride = {2, 2}, .padding = pad_all(1)};
    Value h = conv2d(x, w1, std::nullopt, o, "c1");
    Value y = conv2d(h, w2, std::nullopt, o, "c2");
    train::ModelSummary s = train::summarize_graph(g, x, y);
    REQUIRE(s.layers.size() == 3);
    CHECK(*layer(s, "c1").receptive_field == ReceptiveField{3, 3});
    CHECK(*layer(s, "c2").receptive_field == ReceptiveField{7, 7});  // 3 + (3 − 1)·2
    CHECK(layer(s, "c2").output == Shape{2, 8, 8, 8});
    CHECK(layer(s, "c2").macs == 2 * 8 * 8 * 8 * 8 * 9);
    CHECK(s.params == 8 * 3 * 9 + 8 * 8 * 9);
}

TEST_CASE("a depthwise-separable layer has Dk^2*M + M*N weights", "[tools][summary]") {
    const int64_t m = 8, n = 16, dk = 3, hw = 14;
    Graph g;
    Value x = g.input("x", {1, m, hw, hw});
    Value dw = g.parameter("dw", {m, 1, dk, dk}, init::kaiming_uniform());
    Value pw = g.parameter("pw", {n, m, 1, 1}, init::kaiming_uniform());
    Value h = conv2d(x, dw, std::nullopt, {.padding = pad_all(1), .groups = m}, "depthwise");
    Value y = conv2d(h, pw, std::nullopt, {}, "pointwise");
    train::ModelSummary s = train::summarize_graph(g, x, y);
    CHECK(s.params == dk * dk * m + m * n);
    CHECK(layer(s, "depthwise").macs == m * hw * hw * dk * dk);  // one input channel per group
    CHECK(layer(s, "pointwise").macs == n * hw * hw * m);
    CHECK(*s.receptive_field == ReceptiveField{3, 3});

    // The zoo's block adds batch norm after each conv: γ and β trainable, statistics state.
    Graph g2;
    Value x2 = g2.input("x", {1, m, hw, hw});
    Value y2 = models::depthwise_separable(x2, n, 1, "ds");
    train::ModelSummary s2 = train::summarize_graph(g2, x2, y2);
    CHECK(s2.params == dk * dk * m + m * n + 2 * (m + n));
    CHECK(s2.state >= 2 * (m + n));  // running mean and variance (num_batches_tracked if it is a node input)
}

TEST_CASE("matmul multiply-adds and pooling strides come from shapes", "[tools][summary]") {
    Graph g;
    Value x = g.input("x", {4, 1, 28, 28});
    Value p = max_pool2d(x, {.kernel = {2, 2}});
    Value flat = reshape(p, {4, 14 * 14});
    Value w = g.parameter("w", {14 * 14, 10}, init::kaiming_uniform());
    Value y = matmul(flat, w, "fc");
    train::ModelSummary s = train::summarize_graph(g, x, y);
    CHECK(layer(s, "fc").macs == 4 * 10 * 14 * 14);
    CHECK(s.macs == 4 * 10 * 14 * 14);
    CHECK(*s.receptive_field == ReceptiveField{2, 2});
    CHECK_FALSE(layer(s, "fc").receptive_field);  // [N, C] outputs have none
}

TEST_CASE("summarize_model reports the planner's training and inference peaks", "[tools][summary][models]") {
    train::ModelSummary s = train::summarize_model("lenet5", {1, 28, 28}, 8);
    CHECK(s.params == 61706);
    CHECK(s.input == Shape{8, 1, 28, 28});
    CHECK(s.inference_peak_bytes > 0);
    CHECK(s.train_peak_bytes > s.inference_peak_bytes);  // gradients and saved activations
    CHECK(s.train_peak_bytes <= s.train_unplanned_bytes);
}
