// `graphgrad summary`'s figures (train/model_summary.h) against numbers known by hand:
// multiply-adds, receptive fields and layer grouping; parameter totals against the graph's own
// count (the models' counts are pinned in test_models.cpp). Every figure comes from the ops'
// bundles, so an op defined in a test's own registry gets its row from its rules.
#include <catch2/catch.hpp>

#include "graphgrad/graph/op_registry.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/conv.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/ops/pooling.h"
#include "graphgrad/train/model_program.h"
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

int64_t parameter_count(const Graph& g, bool trainable) {
    int64_t n = 0;
    for (const Value& p : g.parameters(false))  // parameters and state
        if ((p.producer().kind() == NodeKind::Parameter) == trainable) n += p.numel();
    return n;
}

}  // namespace

TEST_CASE("layers are named by their scope prefix", "[tools][summary]") {
    CHECK(train::layer_group("conv1.conv2d_7") == "conv1");
    CHECK(train::layer_group("conv1.weight") == "conv1");
    CHECK(train::layer_group("layer1.0.conv2.conv2d_31") == "layer1.0");
    CHECK(train::layer_group("features.3.1.running_mean") == "features.3");
    CHECK(train::layer_group("features.denseblock1.denselayer2.conv1.conv2d_40") == "features.denseblock1");
    CHECK(train::layer_group("features.conv0.conv2d_3") == "features.conv0");
    CHECK(train::layer_group("features.block.conv2d_3") == "features");  // not numbered
    CHECK(train::layer_group("relu_12") == "relu_12");
}

TEST_CASE("LeNet-5's summary: parameters per layer, multiply-adds, receptive field", "[tools][summary][models]") {
    Graph g;
    Value x = g.input("x", {1, 1, 28, 28});
    Value logits = models::lenet5(x, 10);
    train::ModelSummary s = train::summarize_graph(g, x, logits);
    CHECK(s.params == parameter_count(g, true));
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

TEST_CASE("a depthwise-separable layer: weights and multiply-adds per layer", "[tools][summary]") {
    const int64_t m = 8, n = 16, dk = 3, hw = 14;
    Graph g;
    Value x = g.input("x", {1, m, hw, hw});
    Value dw = g.parameter("dw", {m, 1, dk, dk}, init::kaiming_uniform());
    Value pw = g.parameter("pw", {n, m, 1, 1}, init::kaiming_uniform());
    Value h = conv2d(x, dw, std::nullopt, {.padding = pad_all(1), .groups = m}, "depthwise");
    Value y = conv2d(h, pw, std::nullopt, {}, "pointwise");
    train::ModelSummary s = train::summarize_graph(g, x, y);
    CHECK(layer(s, "depthwise").params == dk * dk * m);
    CHECK(layer(s, "pointwise").params == m * n);
    CHECK(layer(s, "depthwise").macs == m * hw * hw * dk * dk);  // one input channel per group
    CHECK(layer(s, "pointwise").macs == n * hw * hw * m);
    CHECK(*s.receptive_field == ReceptiveField{3, 3});

    // The zoo's block adds batch norm after each conv: γ and β trainable, statistics state.
    Graph g2;
    Value x2 = g2.input("x", {1, m, hw, hw});
    Value y2 = models::depthwise_separable(x2, n, 1, "ds");
    train::ModelSummary s2 = train::summarize_graph(g2, x2, y2);
    CHECK(s2.params == parameter_count(g2, true));
    CHECK(s2.state == parameter_count(g2, false));  // running mean, variance and num_batches_tracked
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
    Graph g;
    Value x = g.input("x", {8, 1, 28, 28});
    CHECK(s.params == train::summarize_graph(g, x, models::lenet5(x, 10)).params);
    CHECK(s.input == Shape{8, 1, 28, 28});
    CHECK(s.inference_peak_bytes > 0);
    CHECK(s.train_peak_bytes > s.inference_peak_bytes);  // gradients and saved activations
    CHECK(s.train_peak_bytes <= s.train_unplanned_bytes);
    // The figures are the planner's for the programs training and inference compile: the
    // same model program compiled here gives the same arenas and the same unplanned sums.
    auto p = train::build_model_program("lenet5", 8, {1, 28, 28}, /*seed=*/1, /*with_grads=*/true);
    std::vector<Value> fetches{p->loss};
    fetches.insert(fetches.end(), p->grads.begin(), p->grads.end());
    const CompiledGraph step = compile(*p->graph, fetches);
    const CompiledGraph infer = compile(*p->graph, {p->logits});
    CHECK(s.train_peak_bytes == step.peak_bytes());
    CHECK(s.train_peak_bytes == step.memory_plan().arena_bytes);
    CHECK(s.train_unplanned_bytes == step.memory_plan().total_bytes);
    CHECK(s.inference_peak_bytes == infer.peak_bytes());
    CHECK(s.inference_unplanned_bytes == infer.memory_plan().total_bytes);
    CHECK(s.unconstrained_train_peak_bytes == s.train_peak_bytes);  // no budget given
}

TEST_CASE("upsampling and transposed convolutions shrink the jump between output pixels", "[tools][summary]") {
    Graph g;
    Value x = g.input("x", {1, 2, 16, 16});
    Value w = g.parameter("w", {2, 2, 3, 3}, init::kaiming_uniform());
    Value wt = g.parameter("wt", {2, 2, 3, 3}, init::kaiming_uniform());
    Conv2dOptions same{.padding = pad_all(1)};
    Value a = conv2d(x, w, std::nullopt, same, "a");                          // r 3, j 1
    Value p = max_pool2d(a, {.kernel = {2, 2}});                               // r 4, j 2
    Value u = upsample_nearest2d(p, 2);                                        // r 4, j 1
    Value b = conv2d(u, w, std::nullopt, same, "b");                           // r 4 + 2·1 = 6
    Value t = conv_transpose2d(max_pool2d(b, {.kernel = {2, 2}}), wt, std::nullopt,
                               {.stride = {2, 2}, .padding = pad_all(1), .output_padding = {1, 1}}, "t");
    // pool: r 6 + 1 = 7, j 2; a stride-2 3x3 transposed conv reaches ⌊2/2⌋ + 1 = 2 inputs: r 7 + 2 = 9, j 1.
    train::ModelSummary s = train::summarize_graph(g, x, t);
    CHECK(*layer(s, "b").receptive_field == ReceptiveField{6, 6});
    CHECK(*layer(s, "t").receptive_field == ReceptiveField{9, 9});
    CHECK(layer(s, "t").output == Shape{1, 2, 16, 16});
    CHECK(layer(s, "t").macs == 2 * 8 * 8 * 2 * 9);  // every input element scatters into (O/g)·kh·kw outputs
}

TEST_CASE("an op of a test's own registry gets its summary row from its bundle", "[tools][summary]") {
    OpRegistry r;
    // A 3x3 stride-3 "pooling" that states it multiplies: the summary has no idea what it is.
    r.define("test_block3")
        .arity(1)
        .describe("test op: one output per 3x3 block")
        .infer_shape([](const InferContext& c) {
            const Shape& s = c.input(0).shape;
            return std::vector<TensorDesc>{TensorDesc{{s[0], s[1], s[2] / 3, s[3] / 3}, c.input(0).dtype}};
        })
        .cost([](const RuleContext& c) { return OpCost{.macs = 9 * c.output(0).numel()}; })
        .receptive_field([](const RuleContext&) {
            const AxisReach a{.kernel = 3, .stride = 3};
            return std::optional(SpatialReach::window(a, a));
        });
    // A mixing op without a reach: its outputs see everything.
    r.define("test_mix").arity(1).describe("test op: mixes positions").infer_shape(same_as_input(0)).cost(elementwise_cost());

    Graph g;
    Value x = g.input("x", {1, 2, 18, 18});
    Value w = g.parameter("w", {2, 2, 3, 3}, init::kaiming_uniform());
    Value h = conv2d(x, w, std::nullopt, {.padding = pad_all(1)}, "conv");  // r 3, j 1
    Value b = g.add_node1(r.get("test_block3"), {h}, {}, "block");        // r 3 + 2 = 5, j 3
    Value c = conv2d(b, w, std::nullopt, {.padding = pad_all(1)}, "conv2");  // r 5 + 2·3 = 11
    Value m = g.add_node1(r.get("test_mix"), {c}, {}, "mix");
    train::ModelSummary s = train::summarize_graph(g, x, m);
    CHECK(layer(s, "block").macs == 9 * 2 * 6 * 6);
    CHECK(layer(s, "block").ops == std::vector<std::string>{"test_block3"});
    CHECK(*layer(s, "block").receptive_field == ReceptiveField{5, 5});
    CHECK(*layer(s, "conv2").receptive_field == ReceptiveField{11, 11});
    CHECK(*layer(s, "mix").receptive_field == ReceptiveField{18, 18});  // the whole input
    CHECK(*s.receptive_field == ReceptiveField{18, 18});

    r.define("test_no_cost").arity(1).describe("test op without a cost rule").infer_shape(same_as_input(0));
    Value n = g.add_node1(r.get("test_no_cost"), {c}, {}, "nocost");
    CHECK_THROWS_WITH(train::summarize_graph(g, x, n), Catch::Contains("test_no_cost") && Catch::Contains("no cost rule"));
}
