// Rematerialisation: checkpoint regions (graph/checkpoint.h) and compiling to a memory budget
// (CompileOptions::memory_budget): what is recomputed, that recomputation is exact (dropout
// masks, batch-norm statistics, gradients bitwise equal) and that the arena fits.
#include <algorithm>
#include <cstring>
#include <set>
#include <tuple>

#include <catch2/catch.hpp>

#include "graphgrad/graph/autodiff.h"
#include "graphgrad/graph/checkpoint.h"
#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/passes/passes.h"
#include "graphgrad/graph/passes/remat.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/models/recurrent.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/train/report_format.h"
#include "test_support.h"

using namespace gg;
using Catch::Matchers::Contains;

namespace {

bool bitwise_equal(const Tensor& a, const Tensor& b) {
    return a.desc() == b.desc() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

// conv → batch norm (relu) → dropout, `blocks` times, then a classifier: every block has a
// random op and state updates, and its activations are what checkpointing drops.
struct Net {
    Graph g;
    Value x, labels, loss;
    std::vector<Value> params, grads;

    Net(int segments, int blocks = 6, int64_t batch = 8) {
        x = g.input("x", {batch, 3, 8, 8});
        labels = g.input("labels", {batch}, DType::I64);
        std::vector<Block> chain;
        for (int b = 0; b < blocks; ++b)
            chain.push_back([b](Value h) {
                NameScope s(*h.graph, "block" + std::to_string(b));
                h = batch_norm(models::conv(h, 8, 3, 1, 1, "conv", 1, false), "bn", {.relu = true});
                return dropout(h, 0.25);
            });
        Value h = checkpoint_sequential(chain, segments, x);
        loss = cross_entropy(models::linear(models::flatten(h), 10, "fc"), labels);
        params = g.parameters();
        grads = grad(loss, params);
    }

    std::vector<Value> fetches() const {
        std::vector<Value> f{loss};
        f.insert(f.end(), grads.begin(), grads.end());
        return f;
    }

    Feeds feeds(int step) const {
        Tensor lb(TensorDesc{{x.dim(0)}, DType::I64});
        for (int64_t i = 0; i < lb.numel(); ++i) lb.set(i, static_cast<double>((i * 7 + step) % 10));
        return {{x, testing::uniform_tensor(x.shape(), 100 + static_cast<uint64_t>(step))}, {labels, lb}};
    }
};

// Three training runs (the run counter moves the dropout masks); every fetched value and all
// state after each run.
std::vector<std::vector<Tensor>> run_steps(Net& net, CompiledGraph& cg) {
    std::vector<std::vector<Tensor>> out;
    for (int step = 0; step < 3; ++step) {
        std::vector<Tensor> r;
        for (const Tensor& t : cg.run(net.feeds(step))) r.push_back(t.clone());
        for (const auto& [name, e] : net.g.store().entries())
            if (!e.trainable) r.push_back(e.value.clone());
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace

TEST_CASE("checkpoint_sequential marks every segment but the last and keeps region outputs", "[remat]") {
    Net net(3);
    int in_region = 0, outputs = 0;
    std::set<int32_t> regions;
    for (int32_t id = 0; id < net.g.num_nodes(); ++id) {
        const Node& n = net.g.node(id);
        if (n.is_gradient) CHECK(n.checkpoint == -1);
        if (n.checkpoint < 0) continue;
        ++in_region;
        outputs += n.checkpoint_output;
        regions.insert(n.checkpoint);
    }
    CHECK(regions.size() == 2);
    CHECK(outputs == 2);  // the dropout ending each checkpointed segment
    CHECK(in_region > 0);
    CHECK_THROWS_WITH(checkpoint_sequential({}, 2, net.x), Contains("2 segments for a chain of 0 blocks"));
}

TEST_CASE("checkpointing recomputes before the first backward reader and keeps gradients and running statistics "
          "bitwise equal",
          "[remat]") {
    for (bool reference : {false, true}) {
        DYNAMIC_SECTION((reference ? "reference kernels" : "fast kernels")) {
            Net plain(1), ckpt(3);
            CompileOptions o;
            o.reference_kernels = reference;
            CompiledGraph a = compile(plain.g, plain.fetches(), o);
            CompiledGraph b = compile(ckpt.g, ckpt.fetches(), o);
            const CompileReport::Remat& r = b.compile_report().remat;
            CHECK(a.compile_report().remat.mode == "none");
            CHECK(r.mode == "checkpoints");
            // Segments [0,2), [2,4), [4,6): blocks 0–3 are checkpointed; everything in them is
            // recomputed except each segment's output (its last dropout).
            CHECK(b.compile_report().schedule.recomputed_nodes == r.recomputed.size());
            int bn = 0, conv = 0, drop = 0;
            for (const std::string& name : r.recomputed) {
                bn += name.find(".bn") != std::string::npos;
                conv += name.find(".conv") != std::string::npos;
                drop += name.find("dropout") != std::string::npos;
            }
            CHECK(bn == 4);
            CHECK(conv == 4);
            CHECK(drop == 2);  // the segments' last dropouts are their kept outputs
            // Four 3x3 convolutions on [8, ·, 8, 8] → 8 channels: block0's reads 3 channels.
            CHECK(r.extra_macs == 8 * 64 * 8 * (3 * 9) + 3 * (8 * 64 * 8 * (8 * 9)));
            CHECK(b.peak_bytes() < a.peak_bytes());

            const auto ra = run_steps(plain, a), rb = run_steps(ckpt, b);
            for (std::size_t s = 0; s < ra.size(); ++s) {
                REQUIRE(ra[s].size() == rb[s].size());
                for (std::size_t i = 0; i < ra[s].size(); ++i) {
                    INFO("run " << s << " value " << i);
                    CHECK(bitwise_equal(ra[s][i], rb[s][i]));
                }
            }
            // The statistics moved once per run, not again when recomputed.
            CHECK(ckpt.g.store().get("block0.bn.num_batches_tracked").get(0) == 3);
            // Without checkpoints the same graph compiles to the plain program.
            CompileOptions off = o;
            off.checkpoints = false;
            CHECK(compile(ckpt.g, ckpt.fetches(), off).peak_bytes() == a.peak_bytes());
        }
    }
}

TEST_CASE("recompute_schedule repeats chosen nodes before their first backward reader, inputs first", "[remat]") {
    Graph g;
    auto x = g.input("x", {16});
    auto a = exp(x);
    auto b = tanh(a);
    auto c = sigmoid(b);
    auto dx = grad(sum(c * c), {x})[0];
    Program p = passes::schedule(passes::prune(g, {dx}, {}));
    const Schedule base = p.schedule;
    std::vector<char> chosen(static_cast<std::size_t>(g.num_nodes()), 0);
    chosen[static_cast<std::size_t>(a.node)] = chosen[static_cast<std::size_t>(b.node)] = 1;
    const Schedule s = passes::recompute_schedule(p, base, chosen);
    REQUIRE(s.size() == base.size() + 2);
    // The copies come right before the first backward node reading a or b, a before b; the
    // forward (a, b, c) is unchanged and comes first.
    CHECK(std::equal(base.begin(), base.begin() + 3, s.begin()));
    const auto second_a = std::find(s.begin() + 1, s.end(), a.node);
    REQUIRE(second_a != s.end());
    REQUIRE(second_a + 2 < s.end());
    CHECK(*(second_a + 1) == b.node);
    const Node& reader = g.node(*(second_a + 2));
    CHECK(reader.is_gradient);
    bool reads = false;
    for (const Value& in : reader.inputs) reads = reads || in.node == a.node || in.node == b.node;
    CHECK(reads);
    for (auto it = s.begin(); it != second_a; ++it)  // no backward node before it reads them
        if (g.node(*it).is_gradient)
            for (const Value& in : g.node(*it).inputs) CHECK((in.node != a.node && in.node != b.node));
    p.schedule = s;
    CHECK_NOTHROW(passes::validate_schedule(p));
}

TEST_CASE("a memory budget is never exceeded and keeps gradients bitwise equal, and an impossible one names the "
          "smallest reachable arena",
          "[remat]") {
    Net net(1, 8, 16);
    CompiledGraph free_run = compile(net.g, net.fetches());
    const std::size_t unconstrained = free_run.peak_bytes();

    CompileOptions tiny;
    tiny.memory_budget = 1024;
    std::size_t minimum = 0;
    try {
        compile(net.g, net.fetches(), tiny);
        FAIL("a 1 KiB budget compiled");
    } catch (const MemoryBudgetError& e) {
        minimum = e.minimum_bytes;
        const std::string what = e.what();
        CHECK_THAT(what, Contains("memory budget") && Contains("cannot be met") && Contains(std::to_string(minimum)) &&
                             Contains("the largest:"));
    }
    REQUIRE(minimum > 1024);
    REQUIRE(minimum < unconstrained);
    CHECK(static_cast<double>(minimum) < 0.7 * static_cast<double>(unconstrained));

    // Budgets from the unconstrained peak down to the minimum.
    const std::vector<Tensor> expected = free_run.run(net.feeds(0));
    std::vector<Tensor> want;
    for (const Tensor& t : expected) want.push_back(t.clone());
    for (int k = 0; k <= 5; ++k) {
        const std::size_t budget = unconstrained - (unconstrained - minimum) * static_cast<std::size_t>(k) / 5;
        INFO("budget " << budget << " (unconstrained " << unconstrained << ", minimum " << minimum << ")");
        CompileOptions o;
        o.memory_budget = budget;
        CompiledGraph cg = compile(net.g, net.fetches(), o);
        CHECK(cg.peak_bytes() <= budget);
        CHECK(cg.compile_report().remat.mode == "budget");
        CHECK(cg.compile_report().remat.unconstrained_bytes == unconstrained);
        if (k == 0) CHECK(cg.compile_report().remat.recomputed.empty());
        if (k == 5) CHECK(cg.compile_report().remat.extra_macs > 0);
        // Same run counter as free_run's first run: the same masks, so bitwise the same.
        const std::vector<Tensor> got = cg.run(net.feeds(0));
        for (std::size_t i = 0; i < got.size(); ++i) CHECK(bitwise_equal(got[i], want[i]));
    }
}

TEST_CASE("an LSTM checkpointed over time gives bitwise the same gradients with a smaller peak", "[remat][recurrent]") {
    auto build = [](Graph& g, int64_t segments) {
        Value x = g.input("x", {64, 16, 8});
        Value target = g.input("target", {64, 16, 32});
        models::RecurrentOptions o{.cell = RnnCell::Lstm, .hidden = 32};
        o.checkpoint_segments = segments;
        Value loss = mse(models::recurrent(x, o, "lstm").y, target);
        std::vector<Value> f{loss};
        for (const Value& d : grad(loss, g.parameters())) f.push_back(d);
        return std::make_tuple(x, target, f);
    };
    Graph g1, g5;
    auto [x1, t1, f1] = build(g1, 1);
    // Segments of 16 steps: grad()'s runs of folded weight gradients (autodiff.cpp kFoldRun)
    // end where they do, so both sum the same partials in the same order.
    auto [x5, t5, f5] = build(g5, 4);
    CompiledGraph a = compile(g1, f1), b = compile(g5, f5);
    CHECK(b.compile_report().remat.recomputed.size() > 0);
    CHECK(static_cast<double>(b.peak_bytes()) < 0.8 * static_cast<double>(a.peak_bytes()));
    const Tensor xv = testing::uniform_tensor({64, 16, 8}, 3), tv = testing::uniform_tensor({64, 16, 32}, 4);
    const std::vector<Tensor> ra = a.run({{x1, xv}, {t1, tv}});
    const std::vector<Tensor> rb = b.run({{x5, xv}, {t5, tv}});
    REQUIRE(ra.size() == rb.size());
    for (std::size_t i = 0; i < ra.size(); ++i) CHECK(bitwise_equal(ra[i], rb[i]));
    Graph bad;
    models::RecurrentOptions o{.cell = RnnCell::Lstm, .hidden = 4};
    o.checkpoint_segments = 30;
    CHECK_THROWS_WITH(models::recurrent(bad.input("x", {24, 1, 2}), o, "lstm"), Contains("checkpoint_segments 30"));
}

TEST_CASE("memory budgets parse as people write them", "[remat][cli]") {
    using train::parse_bytes;
    CHECK(parse_bytes("300MiB") == 300u << 20);
    CHECK(parse_bytes("300 mib") == 300u << 20);
    CHECK(parse_bytes("1.5GiB") == 3u << 29);
    CHECK(parse_bytes("64KB") == 64000u);
    CHECK(parse_bytes("4096") == 4096u);
    CHECK_THROWS_AS(parse_bytes("lots"), OptionError);
    CHECK_THROWS_WITH(parse_bytes("12 parsecs"), Contains("\"12 parsecs\" is not a size"));
    CHECK_THROWS_AS(parse_bytes("-5MiB"), OptionError);
}

TEST_CASE("a budget drops residual block outputs, whose recomputation needs the block's dead inputs", "[remat]") {
    // h ← relu(h + W₂·relu(W₁·h)), 12 times: the add is read only by the relu after it, so
    // recomputing a block output needs the add (and what it reads) recomputed with it. Keeping
    // every block output is the floor a greedy over single values stops at.
    constexpr int kBlocks = 12;
    constexpr int64_t kRows = 512, kWidth = 64;
    Graph g(3);
    Value x = g.input("x", {kRows, kWidth});
    Value h = x;
    for (int b = 0; b < kBlocks; ++b) {
        NameScope s(g, "block" + std::to_string(b));
        Value inner = relu(models::linear(h, kWidth, "fc1"));
        h = relu(add(models::linear(inner, kWidth, "fc2"), h));
    }
    Value loss = mean(mul(h, h));
    std::vector<Value> fetches{loss};
    for (const Value& d : grad(loss, g.parameters())) fetches.push_back(d);
    const Feeds feeds{{x, testing::uniform_tensor(x.shape(), 5)}};

    CompileOptions tiny;
    tiny.memory_budget = 1;
    std::size_t minimum = 0;
    try {
        compile(g, fetches, tiny);
        FAIL("a 1-byte budget compiled");
    } catch (const MemoryBudgetError& e) {
        minimum = e.minimum_bytes;
    }
    CompiledGraph free_run = compile(g, fetches);
    // Single values alone reach nothing here (the minimum was the unconstrained arena); with
    // block outputs dropped together with their adds, 61% of it.
    INFO("minimum " << minimum << " bytes of " << free_run.peak_bytes());
    CHECK(static_cast<double>(minimum) < 0.7 * static_cast<double>(free_run.peak_bytes()));

    std::vector<Tensor> want;
    for (const Tensor& t : free_run.run(feeds)) want.push_back(t.clone());
    CompileOptions o;
    o.memory_budget = minimum;
    CompiledGraph cg = compile(g, fetches, o);
    CHECK(cg.peak_bytes() <= minimum);
    const std::vector<std::string>& recomputed = cg.compile_report().remat.recomputed;
    CHECK(std::count_if(recomputed.begin(), recomputed.end(), [](const std::string& n) {
              return n.find("add") != std::string::npos;
          }) > 0);
    const std::vector<Tensor> got = cg.run(feeds);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(bitwise_equal(got[i], want[i]));
}
