// `graphgrad bench compile`: compile() time per node on chains of tiny elementwise nodes
// (forward, and forward+backward) of growing length, on an LSTM unrolled over 1000 steps and
// on a zoo model's training step (graphgrad/bench/bench_compile.h). Target: <= 20 µs per node, and linear in the node count.
//
//   graphgrad bench compile
//   graphgrad bench compile --sizes 10000,40000 --model vit --json
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/bench/bench_compile.h"

namespace gg::cli {
namespace {

struct BenchCompileOptions {
    CompileBenchOptions bench;
    bool json = false;
};

void print_scaling(const char* name, const nlohmann::json& s) {
    for (const auto& r : s.at("sizes")) {
        const auto& pass = r.at("pass_us");
        fmt::print("{:<17} {:>7} {:>8} {:>10.1f} {:>8.2f} {:>8.2f} {:>8.2f}   {:>6.0f} {:>6.0f} {:>7.0f} {:>6.0f} {:>6.0f}\n",
                   name, r.at("forward_nodes").get<int64_t>(), r.at("kept_nodes").get<int64_t>(),
                   r.at("compile_us").get<double>() / 1e3, r.at("us_per_node").get<double>(),
                   r.at("best_us_per_node").get<double>(),
                   r.at("grad_us_per_node").get<double>(), pass.value("prune", 0.0), pass.value("schedule", 0.0),
                   pass.value("lower", 0.0), pass.value("plan memory", 0.0), pass.value("allocate and bind", 0.0));
    }
    fmt::print("{:<17} worst {:.2f} us/node ({}), best us/node grows {:.2f}x from the smallest N to the largest ({})\n\n", "",
               s.at("max_us_per_node").get<double>(), s.at("target_met").get<bool>() ? "target met" : "target NOT met",
               s.at("growth").get<double>(), s.at("linear").get<bool>() ? "linear" : "NOT linear");
}

void print_passes(const nlohmann::json& pass_us) {
    std::string split;
    for (const char* pass : {"prune", "schedule", "remat", "lower", "plan memory", "allocate and bind"})
        split += fmt::format("{}{} {:.1f} ms", split.empty() ? "" : ", ", pass, pass_us.value(pass, 0.0) / 1e3);
    fmt::print("  passes: {}\n", split);
}

int run_bench_compile(const BenchCompileOptions& o) {
    const nlohmann::json r = bench_compile(o.bench);
    if (o.json) {
        print_json(r);
        return 0;
    }
    fmt::print("compile() time per kept node, median and best of {} compiles; chain of tanh(h), h + p on {} floats\n",
               r.at("repeats").get<int>(), r.at("elements").get<int64_t>());
    fmt::print("target <= {} us/node, linear (growth <= {}x)\n\n", kCompileTargetUsPerNode, kLinearityTolerance);
    fmt::print("{:<17} {:>7} {:>8} {:>10} {:>8} {:>8} {:>8}   {:>6} {:>6} {:>7} {:>6} {:>6}\n", "program", "N", "nodes",
               "median", "us/node", "best", "grad", "prune", "sched", "lower", "plan", "bind");
    fmt::print("{:<17} {:>7} {:>8} {:>10} {:>8} {:>8} {:>8}   {:>6} {:>6} {:>7} {:>6} {:>6}\n", "", "", "", "ms", "",
               "us/node", "us/node", "us", "us", "us", "us", "us");
    print_scaling("forward", r.at("chain").at("forward"));
    print_scaling("forward+backward", r.at("chain").at("forward_backward"));
    if (r.contains("lstm")) {
        const auto& m = r.at("lstm");
        fmt::print("LSTM unrolled over {} steps, training: {} nodes, {} steps, compile {:.1f} ms ({:.2f} us/node, "
                   "{}), grad {:.2f} us/node\n",
                   m.at("steps_unrolled").get<int64_t>(), m.at("kept_nodes").get<int64_t>(),
                   m.at("steps").get<std::size_t>(), m.at("compile_us").get<double>() / 1e3,
                   m.at("us_per_node").get<double>(), m.at("target_met").get<bool>() ? "target met" : "target NOT met",
                   m.at("grad_us_per_node").get<double>());
        print_passes(m.at("pass_us"));
    }
    if (r.contains("model")) {
        const auto& m = r.at("model");
        fmt::print("{} training step, batch {}: {} nodes, {} steps, compile {:.1f} ms ({:.2f} us/node; first compile "
                   "{:.1f} ms with oneDNN's JIT), grad {:.2f} us/node\n",
                   m.at("model").get<std::string>(), m.at("batch").get<int64_t>(), m.at("kept_nodes").get<int64_t>(),
                   m.at("steps").get<std::size_t>(), m.at("compile_us").get<double>() / 1e3,
                   m.at("us_per_node").get<double>(), m.at("first_compile_us").get<double>() / 1e3,
                   m.at("grad_us_per_node").get<double>());
        print_passes(m.at("pass_us"));
    }
    fmt::print("\nload average {} before, {} after\n", r.at("loadavg_before").get<std::string>(),
               r.at("loadavg_after").get<std::string>());
    return 0;
}

}  // namespace

Command add_bench_compile_command(CLI::App& bench) {
    auto o = std::make_shared<BenchCompileOptions>();
    CLI::App* sub = bench.add_subcommand("compile", "compile() time per node and its growth with the node count");
    sub->add_option("--sizes", o->bench.sizes, "Chain lengths (forward nodes)")->delimiter(',')->capture_default_str();
    sub->add_option("--elements", o->bench.elements, "Floats per chain node")->capture_default_str();
    sub->add_option("--repeats", o->bench.repeats, "Compiles per program (median and best)")->capture_default_str();
    sub->add_option("--lstm-steps", o->bench.lstm_steps, "T of the unrolled LSTM (0 skips it)")->capture_default_str();
    sub->add_option("--model", o->bench.model, "Zoo model whose training step is compiled too (\"\" skips it)")
        ->capture_default_str();
    sub->add_option("--batch", o->bench.batch, "The model's batch size")->capture_default_str();
    sub->add_flag("--json", o->json, "Print JSON");
    return {sub, [o] { return run_bench_compile(*o); }};
}

}  // namespace gg::cli
