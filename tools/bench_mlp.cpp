// `graphgrad bench mlp`: median wall time of one training step (run + SGD update) and of
// one forward-only evaluation of the demo MLP (demo_mlp.h), with the planned arenas.
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "cli_common.h"
#include "demo_mlp.h"

namespace gg::cli {
namespace {

struct BenchMlpOptions {
    MlpConfig mlp;
    int repeats = 200;
    int warmup = 20;
    bool json = false;
};

int run_bench_mlp(const BenchMlpOptions& o) {
    if (o.repeats < 1 || o.warmup < 0) throw UsageError("--repeats must be positive, --warmup non-negative");
    MlpConfig cfg = o.mlp;
    cfg.test_size = cfg.batch;  // one batch: the eval timing is per forward run
    MlpDemo demo(cfg);
    for (int i = 0; i < o.warmup; ++i) demo.train_step();
    std::vector<double> step_ns, eval_ns;
    for (int i = 0; i < o.repeats; ++i) step_ns.push_back(time_ns([&] { demo.train_step(); }));
    for (int i = 0; i < o.repeats; ++i) eval_ns.push_back(time_ns([&] { demo.accuracy(demo.test_data()); }));
    const double step_us = median(step_ns) / 1e3, eval_us = median(eval_ns) / 1e3;
    const auto& c = demo.config();

    if (o.json) {
        print_json({{"benchmark", "mlp"},
                    {"model", {{"inputs", c.inputs}, {"hidden", c.hidden}, {"classes", c.classes}}},
                    {"batch", c.batch},
                    {"repeats", o.repeats},
                    {"median_us_per_train_step", step_us},
                    {"median_us_per_forward", eval_us},
                    {"train_step_nodes", demo.step_program().num_steps()},
                    {"train_step_peak_bytes", demo.step_program().peak_bytes()},
                    {"forward_peak_bytes", demo.eval_program().peak_bytes()}});
        return 0;
    }
    fmt::print("MLP {} -> {} -> {} -> {}, batch {}; median of {} runs after {} warm-up\n", c.inputs, c.hidden, c.hidden,
               c.classes, c.batch, o.repeats, o.warmup);
    fmt::print("  training step (run + SGD update): {:9.1f} us  ({} nodes, arena {})\n", step_us,
               demo.step_program().num_steps(), human_bytes(demo.step_program().peak_bytes()));
    fmt::print("  forward (evaluation program):     {:9.1f} us  ({} nodes, arena {})\n", eval_us,
               demo.eval_program().num_steps(), human_bytes(demo.eval_program().peak_bytes()));
    return 0;
}

}  // namespace

Command add_bench_mlp_command(CLI::App& bench) {
    auto o = std::make_shared<BenchMlpOptions>();
    CLI::App* sub = bench.add_subcommand("mlp", "Median training-step and forward time of the demo MLP");
    sub->add_option("--batch", o->mlp.batch, "Minibatch size")->capture_default_str();
    sub->add_option("--hidden", o->mlp.hidden, "Width of both hidden layers")->capture_default_str();
    sub->add_option("--repeats", o->repeats, "Timed steps")->capture_default_str();
    sub->add_option("--warmup", o->warmup, "Untimed steps first")->capture_default_str();
    sub->add_flag("--json", o->json, "Print JSON");
    return {sub, [o] { return run_bench_mlp(*o); }};
}

}  // namespace gg::cli
