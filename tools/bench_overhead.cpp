// `graphgrad bench overhead`: the executor's cost per node when kernels do almost nothing.
// A chain of N tiny elementwise nodes (16 floats each) on one parameter — alternating
// tanh(h) and h + p, so the backward pass also accumulates the parameter's fan-out — is
// compiled once forward-only and once forward+backward, then run many times. The figure is
// the median run time divided by the executed node count (CompiledGraph::num_steps()),
// which includes the backward nodes grad() appended. Issue 2's target: < 300 ns per node.
// tanh's 16 transcendental evaluations are a real part of a forward node's time;
// `--chain neg-add` swaps tanh for neg to leave almost nothing but the executor's cost.
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/ops/ops.h"

namespace gg::cli {
namespace {

constexpr double kTargetNsPerNode = 300;

struct OverheadOptions {
    int64_t nodes = 1000;
    int64_t size = 16;
    int repeats = 200;
    int warmup = 20;
    std::string chain = "tanh-add";
    bool json = false;
};

struct ProgramTiming {
    std::size_t steps = 0;
    double median_ns = 0, min_ns = 0;
    std::size_t peak_bytes = 0, total_bytes = 0;
    double ns_per_node() const { return steps ? median_ns / static_cast<double>(steps) : 0; }
    double min_ns_per_node() const { return steps ? min_ns / static_cast<double>(steps) : 0; }
};

ProgramTiming time_program(CompiledGraph& program, const OverheadOptions& o) {
    for (int i = 0; i < o.warmup; ++i) program.run();  // page in the arena, warm the caches
    std::vector<double> ns;
    ns.reserve(static_cast<std::size_t>(o.repeats));
    for (int i = 0; i < o.repeats; ++i) ns.push_back(time_ns([&] { program.run(); }));
    ProgramTiming t;
    t.steps = program.num_steps();
    t.median_ns = median(ns);
    t.min_ns = *std::min_element(ns.begin(), ns.end());
    t.peak_bytes = program.peak_bytes();
    t.total_bytes = program.memory_plan().total_bytes;
    return t;
}

nlohmann::json timing_json(const ProgramTiming& t) {
    return {{"executed_nodes", t.steps},
            {"median_ns_per_run", t.median_ns},
            {"median_ns_per_node", t.ns_per_node()},
            {"min_ns_per_node", t.min_ns_per_node()},
            {"peak_bytes", t.peak_bytes},
            {"unplanned_bytes", t.total_bytes},
            {"target_met", t.ns_per_node() < kTargetNsPerNode}};
}

int run_overhead(const OverheadOptions& o) {
    if (o.nodes < 1 || o.size < 1 || o.repeats < 1 || o.warmup < 0)
        throw UsageError("--nodes, --size and --repeats must be positive, --warmup non-negative");

    Graph g;
    // Small uniform values keep tanh away from saturation, so every node does real work.
    Value p = g.parameter("p", {o.size}, init::uniform(-0.5, 0.5));
    Value h = p;
    const bool use_tanh = o.chain == "tanh-add";
    for (int64_t i = 0; i < o.nodes; ++i) h = (i % 2 == 1) ? h + p : use_tanh ? gg::tanh(h) : neg(h);
    Value loss = sum(h);
    Value dp = grad(loss, {p})[0];

    CompiledGraph forward = compile(g, {h});
    CompiledGraph training = compile(g, {loss, dp});
    ProgramTiming f = time_program(forward, o);
    ProgramTiming fb = time_program(training, o);

    if (o.json) {
        print_json({{"benchmark", "overhead"},
                    {"nodes", o.nodes},
                    {"size", o.size},
                    {"chain", o.chain},
                    {"repeats", o.repeats},
                    {"target_ns_per_node", kTargetNsPerNode},
                    {"forward", timing_json(f)},
                    {"forward_backward", timing_json(fb)}});
        return 0;
    }
    fmt::print("chain of {} elementwise nodes ({}, +p alternating) on {} floats; median of {} runs after {} warm-up\n\n",
               o.nodes, use_tanh ? "tanh" : "neg", o.size, o.repeats, o.warmup);
    fmt::print("{:<18} {:>9} {:>12} {:>12} {:>12} {:>12}  {}\n", "program", "nodes", "us/run", "ns/node", "best ns/node",
               "peak", "target < 300 ns/node");
    for (auto [name, t] : {std::pair{"forward", &f}, std::pair{"forward+backward", &fb}})
        fmt::print("{:<18} {:>9} {:>12.1f} {:>12.1f} {:>12.1f} {:>12}  {}\n", name, t->steps, t->median_ns / 1e3,
                   t->ns_per_node(), t->min_ns_per_node(), human_bytes(t->peak_bytes),
                   t->ns_per_node() < kTargetNsPerNode ? "met" : "NOT met");
    fmt::print("\npeak = the planner's arena ({} B forward, {} B forward+backward; {} B without reuse)\n", f.peak_bytes,
               fb.peak_bytes, fb.total_bytes);
    return 0;
}

}  // namespace

Command add_bench_overhead_command(CLI::App& bench) {
    auto o = std::make_shared<OverheadOptions>();
    CLI::App* sub = bench.add_subcommand("overhead", "Executor cost per node on a chain of tiny elementwise nodes");
    sub->add_option("--nodes", o->nodes, "Forward chain length")->capture_default_str();
    sub->add_option("--size", o->size, "Floats per node")->capture_default_str();
    sub->add_option("--repeats", o->repeats, "Timed runs per program")->capture_default_str();
    sub->add_option("--warmup", o->warmup, "Untimed runs first")->capture_default_str();
    sub->add_option("--chain", o->chain, "Node pattern: tanh-add or neg-add (cheapest kernels)")
        ->check(CLI::IsMember({"tanh-add", "neg-add"}))
        ->capture_default_str();
    sub->add_flag("--json", o->json, "Print JSON");
    return {sub, [o] { return run_overhead(*o); }};
}

}  // namespace gg::cli
