// Transfer learning (train/transfer.h, train/class_subset.h, the checkpoint `keep` rule):
// glob selection, that freezing builds no backward node for a frozen prefix, that training
// leaves frozen tensors bit-identical while the rest moves, the classifier head found by
// shape, loading a checkpoint into a model with a replaced head, and class subsets.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "graphgrad/io/checkpoint.h"
#include "graphgrad/optim/optim.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/train/class_subset.h"
#include "graphgrad/train/classification.h"
#include "graphgrad/train/transfer.h"
#include "test_support.h"

using namespace gg;
using namespace gg::train;

namespace {

std::vector<std::string> names(const std::vector<Value>& vs) {
    std::vector<std::string> out;
    for (const Value& v : vs) out.push_back(v.name());
    return out;
}

std::map<std::string, int> op_counts(const Graph& g) {
    std::map<std::string, int> n;
    for (int32_t i = 0; i < g.num_nodes(); ++i) ++n[g.node(i).op_name()];
    return n;
}

// count images of 28x28 noise with labels cycling through `classes`.
io::ImageDataset noise_images(int64_t count, int64_t classes, uint64_t seed) {
    io::ImageDataset d;
    d.count = count;
    d.rows = d.cols = 28;
    d.num_classes = classes;
    for (int64_t i = 0; i < count * 28 * 28; ++i)
        d.pixels.push_back(static_cast<uint8_t>(random_bits(seed, 1, static_cast<uint64_t>(i)) & 0xff));
    for (int64_t i = 0; i < count; ++i) d.labels.push_back(static_cast<uint8_t>(i % classes));
    return d;
}

// Nodes from `first` on that feed none of `grads` (backward nodes built for nothing).
std::vector<std::string> dead_nodes(const Graph& g, int32_t first, const std::vector<Value>& grads) {
    std::vector<char> live(static_cast<std::size_t>(g.num_nodes()), 0);
    for (const Value& d : grads) live[static_cast<std::size_t>(d.node)] = 1;
    for (int32_t i = g.num_nodes() - 1; i >= 0; --i)
        if (live[static_cast<std::size_t>(i)])
            for (const Value& in : g.node(i).inputs) live[static_cast<std::size_t>(in.node)] = 1;
    std::vector<std::string> dead;
    for (int32_t i = first; i < g.num_nodes(); ++i)
        if (!live[static_cast<std::size_t>(i)]) dead.push_back(g.node(i).name + " (" + g.node(i).op_name() + ")");
    return dead;
}

std::map<std::string, Tensor> snapshot(const ParameterStore& store) {
    std::map<std::string, Tensor> out;
    for (const auto& [name, e] : store.entries()) out[name] = e.value.clone();
    return out;
}

bool same(const Tensor& a, const Tensor& b) { return a.to_doubles() == b.to_doubles(); }

}  // namespace

TEST_CASE("glob patterns select parameters by name; a pattern matching nothing is named", "[train][transfer]") {
    CHECK(glob_matches("conv*", "conv1.weight"));
    CHECK(glob_matches("layer1.*", "layer1.0.bn1.weight"));
    CHECK_FALSE(glob_matches("layer1.*", "layer10.weight"));
    CHECK_FALSE(glob_matches("conv*", "layer1.0.conv1.weight"));  // whole names: no implicit prefix
    CHECK(glob_matches("*.bias", "fc3.bias"));
    CHECK(split_patterns("conv*,layer1.*") == std::vector<std::string>{"conv*", "layer1.*"});
    CHECK_THROWS_WITH(split_patterns("conv*,,fc*"), Catch::Contains("an empty pattern"));

    auto p = build_model_program("lenet5", 2, {1, 28, 28}, 1, false);
    ParameterSplit s = select_parameters(p->params, "conv*,fc1.weight");
    CHECK(names(s.matched) == std::vector<std::string>{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight"});
    CHECK(s.rest.size() == p->params.size() - 5);
    CHECK_THROWS_WITH(select_parameters(p->params, "conv*,layer1.*"),
                      Catch::Contains("pattern \"layer1.*\" matches no parameter") && Catch::Contains("conv1.weight"));
}

TEST_CASE("a frozen prefix of the network gets no backward node", "[train][transfer]") {
    // Freezing conv1 of LeNet-5, whose input is a plain input: nothing before conv2 needs a
    // gradient, so no conv2d_backward_weights for conv1, no conv2d_backward_data at all (not
    // into the input, not through conv2), and only the second pooling's backward.
    auto full = build_model_program("lenet5", 2, {1, 28, 28}, 1, true);
    auto frozen = build_model_program("lenet5", 2, {1, 28, 28}, 1, false);
    const int32_t forward_nodes = frozen->graph->num_nodes();
    CHECK(freeze_parameters(*frozen, "conv1.*") == std::vector<std::string>{"conv1.weight", "conv1.bias"});
    auto nf = op_counts(*full->graph), nz = op_counts(*frozen->graph);
    CHECK(nf["conv2d_backward_weights"] == 2);
    CHECK(nf["conv2d_backward_data"] == 1);  // through conv2 only: x is an input, so none for conv1
    CHECK(nz["conv2d_backward_weights"] == 1);
    CHECK(nz["conv2d_backward_data"] == 0);
    CHECK(nf["max_pool2d_backward"] == 2);
    CHECK(nz["max_pool2d_backward"] == 1);
    // No node built by grad() reads conv1's weight or bias.
    const Graph& g = *frozen->graph;
    const std::set<int32_t> conv1{g.find("conv1.weight").node, g.find("conv1.bias").node};
    CHECK(g.num_nodes() > forward_nodes);
    for (int32_t i = forward_nodes; i < g.num_nodes(); ++i)
        for (const Value& in : g.node(i).inputs) CHECK(conv1.count(in.node) == 0);
    // Every node grad() added feeds some gradient: no dead backward node is left for compile()
    // to prune (rules skip the inputs GradContext::needs_input_grad() says nobody uses).
    CHECK(dead_nodes(g, forward_nodes, frozen->grads).empty());
    // The same for a residual network frozen up to its first stage (batch norm, shortcuts).
    auto r = build_model_program("resnet20", 2, {1, 28, 28}, 1, false);
    const int32_t r_forward = r->graph->num_nodes();
    freeze_parameters(*r, "conv1.*,bn1.*,layer1.*");
    const auto dead = dead_nodes(*r->graph, r_forward, r->grads);
    CHECK(dead == std::vector<std::string>{});
    CHECK(names(frozen->params) == std::vector<std::string>{"conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias",
                                                            "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"});
    CHECK(frozen->grads.size() == frozen->params.size());
    CHECK_THROWS_WITH(freeze_parameters(*full, "conv1.*"), Catch::Contains("already has gradients"));
    auto all = build_model_program("lenet5", 2, {1, 28, 28}, 1, false);
    CHECK_THROWS_WITH(freeze_parameters(*all, "*"), Catch::Contains("freezes every parameter"));
}

TEST_CASE("training leaves frozen tensors unchanged and moves the others; frozen batch norm keeps tracking statistics",
          "[train][transfer]") {
    auto p = build_model_program("resnet20", 8, {1, 28, 28}, 1, false);
    const auto frozen = freeze_parameters(*p, "conv1.*,bn1.*,layer1.*");
    CHECK(std::find(frozen.begin(), frozen.end(), "bn1.weight") != frozen.end());
    auto opt = optim::make_optimizer("sgd", *p->graph, p->params, {.lr = 0.05, .momentum = 0.9});
    const auto before = snapshot(p->graph->store());
    const io::ImageDataset data = noise_images(32, 10, 3);
    train_classifier(*p, data, data, *opt, nullptr, {.trainer = {.epochs = 1, .progress = false}, .batch = 8});
    const auto& store = p->graph->store();
    int checked_frozen = 0, checked_trainable = 0;
    for (const auto& [name, e] : store.entries()) {
        if (name.rfind("optim.", 0) == 0 || !before.count(name)) continue;
        const bool is_frozen = std::find(frozen.begin(), frozen.end(), name) != frozen.end();
        INFO(name);
        if (is_frozen) {
            CHECK(same(e.value, before.at(name)));
            ++checked_frozen;
        } else if (std::find_if(p->params.begin(), p->params.end(), [&](const Value& v) { return v.name() == name; }) !=
                   p->params.end()) {
            CHECK_FALSE(same(e.value, before.at(name)));
            ++checked_trainable;
        }
    }
    CHECK(checked_frozen == static_cast<int>(frozen.size()));
    CHECK(checked_trainable == static_cast<int>(p->params.size()));
    // PyTorch's requires_grad=False semantics: the frozen bn1 still follows the batches.
    CHECK_FALSE(same(store.get("bn1.running_mean"), before.at("bn1.running_mean")));
    // The optimizer holds state only for what it trains.
    for (const auto& [name, e] : store.entries())
        if (name.rfind("optim.", 0) == 0) CHECK(name.find("layer1.") == std::string::npos);
}

TEST_CASE("the classifier head is what follows the class count; --init skips exactly it", "[train][transfer]") {
    CHECK(classifier_head(find_zoo_model("lenet5").build, {1, 28, 28}, "lenet5") ==
          std::vector<std::string>{"fc3.bias", "fc3.weight"});
    CHECK(classifier_head(find_zoo_model("resnet20").build, {1, 28, 28}, "resnet20") ==
          std::vector<std::string>{"fc.bias", "fc.weight"});
    // Logits straight from the pixels: no parameter depends on the class count.
    auto fixed = [](Value x, int64_t k) { return slice_axis(reshape(x, {x.dim(0), -1}), 1, 0, k); };
    CHECK_THROWS_WITH(classifier_head(fixed, {1, 4, 4}, "fixed"),
                      Catch::Contains("fixed has no classifier layer"));

    gg::testing::TempDir dir("gg_transfer");
    const std::string ckpt = dir.file("ten.safetensors");
    auto ten = build_model_program("lenet5", 2, {1, 28, 28}, 7, false, 10);
    io::save_checkpoint(ten->graph->store(), ckpt);
    auto five = build_model_program("lenet5", 2, {1, 28, 28}, 8, false, 5);
    const auto fresh = snapshot(five->graph->store());
    // Without the rule the head's shapes clash; with it, everything else comes from the file.
    CHECK_THROWS_WITH(io::load_checkpoint(five->graph->store(), ckpt, {.weights_only = true}),
                      Catch::Contains("fc3.weight (file f32[10,84], model f32[5,84])"));
    io::load_checkpoint(five->graph->store(), ckpt, {.weights_only = true, .keep = {"fc3.weight", "fc3.bias"}});
    for (const auto& [name, e] : five->graph->store().entries()) {
        INFO(name);
        if (name.rfind("fc3.", 0) == 0) CHECK(same(e.value, fresh.at(name)));
        else CHECK(same(e.value, ten->graph->store().get(name)));
    }
    // Any other mismatch is still an error: a resnet20 checkpoint into lenet5, a kept name the model lacks.
    auto r = build_model_program("resnet20", 2, {1, 28, 28}, 1, false, 10);
    io::save_checkpoint(r->graph->store(), dir.file("r20.safetensors"));
    CHECK_THROWS_WITH(io::load_checkpoint(five->graph->store(), dir.file("r20.safetensors"), {.weights_only = true, .keep = {"fc3.weight", "fc3.bias"}}),
                      Catch::Contains("checkpoint does not match the model"));
    CHECK_THROWS_WITH(io::load_checkpoint(five->graph->store(), ckpt, {.keep = {"fc.weight"}}),
                      Catch::Contains("\"fc.weight\" is to keep its value but the model has no such tensor"));
}

TEST_CASE("class subsets relabel in order; N per class is exact and reproducible", "[train][transfer]") {
    CHECK(parse_class_list("5-9", 10) == std::vector<int64_t>{5, 6, 7, 8, 9});
    CHECK(parse_class_list("0,2,7-8", 10) == std::vector<int64_t>{0, 2, 7, 8});
    CHECK_THROWS_WITH(parse_class_list("3-12", 10), Catch::Contains("class 12 is outside 0-9"));
    CHECK_THROWS_WITH(parse_class_list("4", 10), Catch::Contains("at least 2 classes"));
    CHECK_THROWS_WITH(parse_class_list("1,1", 10), Catch::Contains("class 1 is listed twice"));
    CHECK_THROWS_WITH(parse_class_list("a-3", 10), Catch::Contains("\"a\" is not a class number"));
    CHECK_THROWS_WITH(parse_class_list("5-2", 10), Catch::Contains("runs backwards"));

    const io::ImageDataset data = noise_images(100, 10, 5);  // 10 images per class
    const io::ImageDataset sub = select_classes(data, {7, 2});
    REQUIRE(sub.count == 20);
    CHECK(sub.num_classes == 2);
    for (int64_t i = 0; i < sub.count; ++i) {
        // Original order kept: the images of classes 2 and 7 alternate (2 comes first).
        const int64_t original = (i / 2) * 10 + (i % 2 == 0 ? 2 : 7);
        CHECK(sub.labels[static_cast<std::size_t>(i)] == (i % 2 == 0 ? 1 : 0));
        CHECK(std::equal(sub.image(i), sub.image(i) + 28 * 28, data.image(original)));
    }
    const io::ImageDataset a = take_per_class(data, 3, 11), b = take_per_class(data, 3, 11), c = take_per_class(data, 3, 12);
    CHECK(a.count == 30);
    std::vector<int> per(10, 0);
    for (uint8_t l : a.labels) ++per[l];
    CHECK(per == std::vector<int>(10, 3));
    CHECK(a.pixels == b.pixels);
    CHECK(a.pixels != c.pixels);
    CHECK_THROWS_WITH(take_per_class(data, 11, 1), Catch::Contains("class 0 has 10 images, fewer than the 11 per class"));
}
