// Compiling an unrolled recurrence to a memory budget: the segment plans
// (graph/passes/remat_segments.cpp) find the structure of hand-placed checkpoint segments,
// which no single-value move of the greedy reaches, and recomputation stays exact.
#include <cmath>
#include <cstring>
#include <tuple>

#include <catch2/catch.hpp>

#include "graphgrad/graph/autodiff.h"
#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/models/recurrent.h"
#include "graphgrad/ops/ops.h"
#include "test_support.h"

using namespace gg;

namespace {

constexpr int64_t kSteps = 64, kBatch = 16, kInput = 8, kHidden = 32;

// The training step of bench remat's LSTM workload, small: an LSTM over kSteps steps with its
// input projection in √T chunks, mse against a target, every parameter's gradient.
std::tuple<Value, Value, std::vector<Value>> lstm_step(Graph& g, int64_t segments) {
    Value x = g.input("x", {kSteps, kBatch, kInput});
    Value target = g.input("target", {kSteps, kBatch, kHidden});
    models::RecurrentOptions o{.cell = RnnCell::Lstm, .hidden = kHidden};
    o.checkpoint_segments = segments;
    o.projection_chunks = std::lround(std::sqrt(static_cast<double>(kSteps)));
    Value loss = mse(models::recurrent(x, o, "lstm").y, target);
    std::vector<Value> f{loss};
    for (const Value& d : grad(loss, g.parameters())) f.push_back(d);
    return {x, target, f};
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
    return a.desc() == b.desc() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

}  // namespace

TEST_CASE("a budget reaches an LSTM's hand-placed segments and keeps its gradients bitwise equal", "[remat][recurrent]") {
    Graph plain, segmented;
    auto [x, target, fetches] = lstm_step(plain, 1);
    auto [xs, ts, fs] = lstm_step(segmented, 8);  // √T segments by hand
    CompileOptions plan_only;
    plan_only.allocate = false;
    const std::size_t unconstrained = compile(plain, fetches, plan_only).peak_bytes();
    const std::size_t by_hand = compile(segmented, fs, plan_only).peak_bytes();
    REQUIRE(by_hand < unconstrained / 2);

    // Within 20% of the hand-placed arena: at this size grad()'s folded weight-gradient runs
    // (16 steps' operands concatenated) are a good part of the peak, and checkpoint regions
    // end them early where the budget mode, compiling the same graph, cannot.
    CompileOptions o;
    o.memory_budget = by_hand + by_hand / 5;
    CompiledGraph budgeted = compile(plain, fetches, o);
    CHECK(budgeted.peak_bytes() <= *o.memory_budget);
    CHECK(budgeted.compile_report().remat.extra_macs > 0);

    CompiledGraph free_run = compile(plain, fetches);
    const Tensor xv = testing::uniform_tensor({kSteps, kBatch, kInput}, 5);
    const Tensor tv = testing::uniform_tensor({kSteps, kBatch, kHidden}, 6);
    const std::vector<Tensor> want = free_run.run({{x, xv}, {target, tv}});
    const std::vector<Tensor> got = budgeted.run({{x, xv}, {target, tv}});
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(bitwise_equal(got[i], want[i]));
}

TEST_CASE("the smallest budget for an unrolled LSTM is a fraction of its unconstrained arena", "[remat][recurrent]") {
    Graph g;
    auto [x, target, fetches] = lstm_step(g, 1);
    CompileOptions o;
    o.allocate = false;
    const std::size_t unconstrained = compile(g, fetches, o).peak_bytes();
    o.memory_budget = 1;
    try {
        compile(g, fetches, o);
        FAIL("a 1-byte budget was met");
    } catch (const MemoryBudgetError& e) {
        INFO(e.what());
        // What is left: the stacked output and its gradient, the states at the cuts, one
        // segment being recomputed, a folded weight-gradient run. Without segment plans the
        // greedy stopped at 91% of the unconstrained arena (bench remat's LSTM, T = 1000).
        CHECK(static_cast<double>(e.minimum_bytes) < 0.45 * static_cast<double>(unconstrained));
        CHECK_THAT(e.what(), Catch::Matchers::Contains("the smallest arena reached is"));
    }
}
