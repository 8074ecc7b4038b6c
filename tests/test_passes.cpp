// compile()'s passes one by one (graph/passes/passes.h): each is a function from program to
// program, so each is run and inspected on its own here, and a hand-written schedule (what a
// rematerialisation pass will produce) is lowered, planned and run.
#include <catch2/catch.hpp>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/graph/passes/passes.h"
#include "graphgrad/ops/ops.h"

using namespace gg;
using Catch::Matchers::Contains;

namespace {

int steps_of(const Program& p, const Value& v) {
    int n = 0;
    for (const ProgramStep& s : p.steps) n += s.kind == StepKind::Compute && s.node == v.node;
    return n;
}

// The request of the value step `step` writes at output `slot`.
const PlanRequest& request_of(const Program& p, std::size_t step, std::size_t slot = 0) {
    const int v = p.steps.at(step).outputs.at(slot);
    return p.requests.at(static_cast<std::size_t>(p.value_request.at(static_cast<std::size_t>(v))));
}

}  // namespace

TEST_CASE("prune keeps what the fetches depend on and nothing else", "[graph][passes]") {
    Graph g;
    auto x = g.input("x", {4});
    auto w = g.parameter("w", {4}, init::ones());
    auto used = exp(x) * w;
    auto unused = tanh(x) + 1.0;  // tanh, a scalar constant, broadcast_to, add
    Program p = passes::prune(g, {used}, {});
    CHECK(p.nodes == std::vector<int32_t>{x.node, w.node, used.node - 1, used.node});
    CHECK(p.report.prune.graph_nodes == g.num_nodes());
    CHECK(p.report.prune.kept_nodes == 4);
    CHECK(p.report.prune.pruned_nodes() == g.num_nodes() - 4);
    CHECK(p.report.prune.source_nodes == 2);
    CHECK_FALSE(p.training);
    CHECK(unused.node > used.node);

    auto dw = grad(sum(used), {w})[0];
    CHECK(passes::prune(g, {dw}, {}).training);  // gradient nodes: a training program
    CompileOptions eval;
    eval.training = false;
    CHECK_FALSE(passes::prune(g, {dw}, eval).training);
}

TEST_CASE("prune rejects fetches it cannot compile, naming them", "[graph][passes]") {
    Graph g, other;
    auto x = g.input("x", {2});
    auto z = other.input("z", {2});
    CHECK_THROWS_WITH(passes::prune(g, {x, z}, {}), Contains("fetch 1") && Contains("another graph"));
    CHECK_THROWS_WITH(passes::prune(g, {Value{}}, {}), Contains("fetch 0 is an empty Value"));
}

TEST_CASE("the default schedule is program order: the compute nodes by id", "[graph][passes]") {
    Graph g;
    auto x = g.input("x", {3});
    auto a = exp(x);
    auto b = tanh(x);
    auto c = a * b;
    auto dx = grad(sum(c), {x})[0];
    Program p = passes::schedule(passes::prune(g, {c, dx}, {}));
    REQUIRE(p.schedule.size() == p.nodes.size() - static_cast<std::size_t>(p.report.prune.source_nodes));
    for (std::size_t i = 0; i + 1 < p.schedule.size(); ++i) CHECK(p.schedule[i] < p.schedule[i + 1]);
    CHECK(p.schedule.front() == a.node);
    CHECK(p.schedule.back() == dx.node);
    CHECK(p.report.schedule.order == "program");
    CHECK(p.report.schedule.scheduled_nodes == p.schedule.size());
    CHECK(p.report.schedule.recomputed_nodes == 0);
}

TEST_CASE("validate_schedule rejects schedules that cannot run", "[graph][passes]") {
    Graph g;
    auto x = g.input("x", {3});
    auto a = exp(x);
    auto b = tanh(a);
    auto c = a + b;
    Program p = passes::schedule(passes::prune(g, {c}, {}));
    REQUIRE(p.schedule == Schedule{a.node, b.node, c.node});
    p.schedule = {b.node, a.node, c.node};
    CHECK_THROWS_WITH(passes::validate_schedule(p), Contains("before its input") && Contains(a.name()));
    p.schedule = {a.node, c.node};
    CHECK_THROWS_WITH(passes::validate_schedule(p), Contains("before its input"));
    p.schedule = {a.node, b.node};
    CHECK_THROWS_WITH(passes::validate_schedule(p), Contains("leaves out") && Contains(c.name()));
    p.schedule = {x.node, a.node, b.node, c.node};
    CHECK_THROWS_WITH(passes::validate_schedule(p), Contains("source node"));
    p.schedule = {a.node, b.node, a.node, c.node};  // recomputing a is fine
    CHECK_NOTHROW(passes::validate_schedule(p));
}

TEST_CASE("a schedule may repeat a node that updates state only when its op can skip the update", "[graph][passes]") {
    static const OpRegistry registry = [] {
        OpRegistry r;
        r.define("count_calls")  // y = x; state s += 1 per run, and no way to skip it
            .arity(2)
            .describe("test: counts its runs in state")
            .infer_shape(same_as_input(0))
            .kernel([](const KernelContext&) {
                return make_kernel([](const KernelArgs& a) {
                    *static_cast<float*>(const_cast<void*>(a.inputs[1])) += 1;
                    *static_cast<float*>(a.outputs[0]) = *static_cast<const float*>(a.inputs[0]);
                });
            })
            .updates_state({1})
            .not_differentiable("test op");
        return r;
    }();
    Graph g;
    auto x = g.input("x", {1});
    auto counter = g.state("counter", {1}, init::zeros());
    auto y = g.add_node1(registry.get("count_calls"), {x, counter});
    Program p = passes::schedule(passes::prune(g, {y}, {}));
    REQUIRE(p.schedule.size() == 1);
    p.schedule.push_back(p.schedule[0]);
    CHECK_THROWS_WITH(passes::validate_schedule(p), Contains("updates state") && Contains("count_calls"));

    // batch_norm declares recompute_without_state_update: its copy leaves the statistics alone.
    Graph h;
    auto hx = h.input("x", {4, 3});
    auto hy = batch_norm(hx, "bn");
    Program q = passes::schedule(passes::prune(h, {hy}, {}));
    q.schedule.push_back(q.schedule[0]);
    CHECK_NOTHROW(passes::validate_schedule(q));
}

TEST_CASE("a recomputed node is a second step; readers after it read the copy", "[graph][passes]") {
    // a = exp(x) is read early (b) and late (d). Recomputing a just before d lets the first
    // copy die at b: what rematerialisation will do to long-lived activations.
    Graph g;
    auto x = g.input("x", {1024});
    auto a = exp(x);
    auto b = tanh(a);
    auto c = sigmoid(b);
    auto d = a * c;
    Program p = passes::schedule(passes::prune(g, {d}, {}));
    p.schedule = {a.node, b.node, c.node, a.node, d.node};
    passes::validate_schedule(p);
    p = passes::plan_memory(passes::lower(std::move(p)));
    REQUIRE(p.steps.size() == 5);
    CHECK(steps_of(p, a) == 2);
    CHECK(p.steps[0].copy == 0);
    CHECK(p.steps[3].copy == 1);
    CHECK(p.steps[4].inputs[0] == p.steps[3].outputs[0]);  // d reads the copy
    CHECK(request_of(p, 0).last_step == 1);                 // the first copy dies at b
    CHECK(request_of(p, 3).first_step == 3);
    CHECK(request_of(p, 3).last_step == 4);

    CompiledGraph cg = passes::allocate_and_bind(std::move(p));
    CHECK(cg.steps()[3].copy == 1);
    Tensor xv = Tensor::zeros({1024});
    for (int64_t i = 0; i < 1024; ++i) xv.set(i, 0.001 * static_cast<double>(i) - 0.5);
    auto out = cg.run({{x, xv}});
    for (int64_t i : {0, 511, 1023}) {
        const double v = xv.get(i), e = std::exp(v);
        CHECK(out[0].get(i) == Approx(e / (1 + std::exp(-std::tanh(e)))).epsilon(1e-5));
    }
}

TEST_CASE("lower makes one step per scheduled node and records the kernels it chose", "[graph][passes]") {
    Graph g;
    auto x = g.input("x", {8, 16});
    auto w = g.parameter("w", {16, 4}, init::ones());
    auto y = relu(matmul(x, w));
    for (bool reference : {false, true}) {
        CompileOptions o;
        o.reference_kernels = reference;
        Program p = passes::lower(passes::schedule(passes::prune(g, {y}, o)));
        REQUIRE(p.steps.size() == 2);
        CHECK(p.steps[0].fast == !reference);  // matmul: oneDNN unless the reference loops are asked for
        CHECK_FALSE(p.steps[1].fast);          // relu: plain loops, its own reference
        CHECK(p.values.size() == 4);           // x, w, matmul's and relu's outputs
        CHECK(p.fetch_values == std::vector<int>{p.steps[1].outputs[0]});
        CHECK(p.values[static_cast<std::size_t>(p.fetch_values[0])].pinned);
        const CompileReport::Lower& r = p.report.lower;
        CHECK(r.steps == 2);
        CHECK(r.fast_kernels == (reference ? 0u : 1u));
        CHECK(r.reference_kernels == (reference ? 1u : 0u));
        CHECK(r.loop_kernels == 1);
        REQUIRE(r.kernels.size() == 2);
        CHECK(r.kernels[0].op == "matmul");
        CHECK(r.kernels[0].kind == (reference ? "reference" : "fast"));
        CHECK(r.kernels[0].impl.empty() == reference);  // oneDNN names its implementation
        CHECK(r.kernels[1].op == "relu");
        CHECK(r.kernels[1].kind == "loops");
    }
}

TEST_CASE("plan_memory turns values and scratch into requests over the steps", "[graph][passes]") {
    Graph g;
    auto x = g.input("x", {256});
    auto a = exp(x);
    auto b = tanh(a);
    auto c = sigmoid(b);
    CompileOptions o;
    o.inplace = false;
    Program p = passes::plan_memory(passes::lower(passes::schedule(passes::prune(g, {a, c}, o))));
    REQUIRE(p.steps.size() == 3);
    CHECK(p.value_request[0] == -1);  // x: a feed, outside the arena
    CHECK(request_of(p, 0).pinned);   // a is fetched
    CHECK(request_of(p, 1).first_step == 1);
    CHECK(request_of(p, 1).last_step == 2);
    CHECK(request_of(p, 1).bytes == 1024);
    CHECK(p.report.plan.requests == 3);
    CHECK(p.report.plan.total_bytes == 3 * 1024);
    CHECK(p.report.plan.arena_bytes == p.plan.arena_bytes);
    CHECK(p.report.plan.arena_bytes == 3 * 1024);  // a pinned, b and c alive together at step 2
}

TEST_CASE("allocate_and_bind allocates the planned arena unless asked not to", "[graph][passes]") {
    Graph g;
    auto x = g.input("x", {64});
    auto y = exp(x) + x;
    for (bool allocate : {true, false}) {
        CompileOptions o;
        o.allocate = allocate;
        CompiledGraph cg = compile(g, {y, x}, o);
        const CompileReport& r = cg.compile_report();
        CHECK(cg.allocated() == allocate);
        CHECK(r.bind.allocated == allocate);
        CHECK(r.bind.arena_bytes == (allocate ? cg.peak_bytes() : 0u));
        CHECK(r.bind.feeds == 1);
        CHECK(r.bind.fetches == 2);
        REQUIRE(r.passes.size() == 6);
        const char* names[] = {"prune", "schedule", "remat", "lower", "plan memory", "allocate and bind"};
        for (std::size_t i = 0; i < 6; ++i) {
            CHECK(r.passes[i].pass == names[i]);
            CHECK(r.passes[i].microseconds >= 0);
        }
        CHECK(r.total_microseconds() >= r.passes[3].microseconds);
    }
}
