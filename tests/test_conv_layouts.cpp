// Blocked oneDNN layouts flowing through a compiled convolution network: consecutive
// convolutions (and the elementwise ops between them) keep the primitive's layout, compile()
// converts only where a plain op reads a value or it is fetched, and every result equals the
// reference loops on plain memory.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include <dnnl.hpp>

#include "graphgrad/graph/op_def.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/ops.h"
#include "test_support.h"

using namespace gg;

namespace {

using testing::relative_difference;
using testing::uniform_tensor;

struct Net {
    Graph g;
    Value x, w1, w2, w3, loss;
    std::vector<Value> fetches;

    // conv(16→16) → relu → conv(16→16) + skip → relu → 1x1 conv(16→32) → mean. The skip add
    // and the relus are elementwise on the blocked values; mean is a plain op.
    Net() {
        x = g.input("x", {4, 16, 10, 10});
        w1 = g.input("w1", {16, 16, 3, 3});
        w2 = g.input("w2", {16, 16, 3, 3});
        w3 = g.input("w3", {32, 16, 1, 1});
        Conv2dOptions same;
        same.padding = pad_all(1);
        Value h = relu(conv2d(x, w1, std::nullopt, same));
        Value z = relu(conv2d(h, w2, std::nullopt, same) + h);
        Value y = conv2d(z, w3, std::nullopt, {});
        loss = mean(y * y);
        auto grads = grad(loss, {x, w1, w2, w3});
        fetches = {loss};
        fetches.insert(fetches.end(), grads.begin(), grads.end());
    }
    Feeds feeds() const {
        return {{x, uniform_tensor(x.shape(), 1)},
                {w1, uniform_tensor(w1.shape(), 2)},
                {w2, uniform_tensor(w2.shape(), 3)},
                {w3, uniform_tensor(w3.shape(), 4)}};
    }
};

}  // namespace

TEST_CASE("blocked layouts flow between convolutions and match the reference loops", "[conv][layout]") {
    Net net;
    CompiledGraph fast = compile(net.g, net.fetches);
    CompileOptions ref_options;
    ref_options.reference_kernels = true;
    CompiledGraph ref = compile(net.g, net.fetches, ref_options);

    std::set<int32_t> fetched;
    for (const Value& f : net.fetches) fetched.insert(f.node);
    int blocked_convs = 0, blocked_elementwise = 0, conversions = 0, input_conversions = 0, fetch_conversions = 0;
    std::string listed;
    for (const StepInfo& s : fast.steps()) {
        if (s.conversion) {
            const Node& n = net.g.node(s.node);
            listed += fmt::format("{}({}) -> {}; ", n.op->name, n.name, s.output_layout.empty() ? "plain" : s.output_layout);
            if (n.op->is_source) ++input_conversions;
            else if (fetched.count(s.node)) ++fetch_conversions;
            else ++conversions;
            continue;
        }
        const std::string& op = net.g.node(s.node).op->name;
        if (s.output_layout.empty()) continue;
        if (op.rfind("conv2d", 0) == 0) ++blocked_convs;
        if (op == "relu" || op == "add" || op == "relu_backward") ++blocked_elementwise;
    }
    INFO("blocked conv outputs " << blocked_convs << ", blocked elementwise " << blocked_elementwise
                                 << ", conversions " << conversions << ": " << listed);
    // Every forward convolution and the backward-data ops feeding relu_backward keep oneDNN's
    // layout; relu, add and relu_backward carry it along, forward and backward.
    // oneDNN picks blocked layouts from the CPU's ISA: these counts are AVX2's and above's
    // (where its direct convolutions run); below, the values still have to match.
    if (static_cast<int>(dnnl::get_effective_cpu_isa()) >= static_cast<int>(dnnl::cpu_isa::avx2)) {
        CHECK(blocked_convs >= 5);
        CHECK(blocked_elementwise >= 6);
        // Two conversions between ops: y·y into the plain mean, and mean's plain gradient into
        // the blocked chain (converted to blocked rather than the chain to plain). Without
        // propagation every convolution would convert its inputs and outputs on its own.
        CHECK(conversions == 2);
        // The fetched gradients (dx, dw1..dw3), written blocked, are converted once each; the
        // fed x and weights are converted just before each convolution reading them (forward
        // and backward weights read x, forward and backward data read each w).
        CHECK(fetch_conversions == 4);
        CHECK(input_conversions == 8);
    } else {
        WARN("layout counts not checked: oneDNN's ISA here is below AVX2");
    }

    const Feeds feeds = net.feeds();
    std::vector<Tensor> a = fast.run(feeds), b = ref.run(feeds);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        INFO("fetch " << i);
        CHECK(relative_difference(a[i], b[i]) < 2e-5);
    }
    // Running again reuses the primitives and the arena: same answer. (Fetches are views of
    // the arena, so the first answer is copied before the arena is overwritten.)
    std::vector<Tensor> first;
    for (const Tensor& t : a) first.push_back(t.clone());
    std::vector<Tensor> again = fast.run(feeds);
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(relative_difference(again[i], first[i]) == 0);
}

TEST_CASE("a fetched convolution output is converted right after it; reference kernels get plain inputs",
          "[conv][layout]") {
    Graph g;
    Value x = g.input("x", {2, 8, 9, 9});
    Value w1 = g.input("w1", {16, 8, 3, 3});
    Value w2 = g.input("w2", {16, 16, 3, 3});
    Conv2dOptions same;
    same.padding = pad_all(1);
    Value h = relu(conv2d(x, w1, std::nullopt, same));
    Value y = conv2d(h, w2, std::nullopt, same);
    // h (relu of a blocked conv output) and y (a blocked conv output) are fetched through
    // conversions placed right after the steps writing them.
    CompiledGraph prog = compile(g, {h, y});
    const auto& steps = prog.steps();
    int checked = 0;
    for (std::size_t i = 0; i + 1 < steps.size(); ++i) {
        if (steps[i].conversion || (steps[i].node != y.node && steps[i].node != h.node)) continue;
        CHECK_FALSE(steps[i].output_layout.empty());
        CHECK(steps[i + 1].conversion);
        CHECK(steps[i + 1].node == steps[i].node);
        CHECK(steps[i + 1].output_layout.empty());
        ++checked;
    }
    CHECK(checked == 2);
    CompileOptions ref_options;
    ref_options.reference_kernels = true;
    CompiledGraph ref = compile(g, {h, y}, ref_options);
    Feeds feeds{{x, uniform_tensor(x.shape(), 5)}, {w1, uniform_tensor(w1.shape(), 6)}, {w2, uniform_tensor(w2.shape(), 7)}};
    auto a = prog.run(feeds), b = ref.run(feeds);
    CHECK(relative_difference(a[0], b[0]) < 1e-5);
    CHECK(relative_difference(a[1], b[1]) < 1e-5);
}

TEST_CASE("inference programs keep the layouts training would choose", "[conv][layout]") {
    // Left free, oneDNN's inference convolutions pick channels-last here, on which the next
    // depthwise convolution ran 100x slower than on the blocked layout training uses.
    Graph g;
    Value x = g.input("x", {8, 1, 28, 28});
    Value logits = models::mobilenet_v1(x, 10);
    CompileOptions train_options, eval_options;
    train_options.training = true;
    eval_options.training = false;
    CompiledGraph train = compile(g, {logits}, train_options), eval = compile(g, {logits}, eval_options);
    std::map<int32_t, std::string> train_layout;
    for (const StepInfo& s : train.steps())
        if (!s.conversion) train_layout[s.node] = s.output_layout;
    int compared = 0;
    for (const StepInfo& s : eval.steps()) {
        if (s.conversion || g.node(s.node).op->name != "conv2d") continue;
        INFO("node " << g.node(s.node).name);
        CHECK(s.output_layout == train_layout.at(s.node));
        ++compared;
    }
    CHECK(compared >= 10);
}
