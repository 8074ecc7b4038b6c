// `graphgrad train-mlp`: the demo's main job until the reference models land. Trains the
// small MLP of demo_mlp.h with SGD (or --optimizer) on generated data and prints the loss as it falls,
// the final train and held-out accuracy, and the planner's arena (peak bytes) of the
// training step and of the evaluation program.
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "cli_common.h"
#include "demo_mlp.h"

namespace gg::cli {
namespace {

struct TrainOptions {
    MlpConfig mlp;
    int64_t steps = 300;
    int64_t log_every = 0;  // 0: ten lines over the run
    bool json = false;
};

int run_train(const TrainOptions& o) {
    if (o.steps < 1) throw UsageError("--steps must be positive");
    MlpDemo demo(o.mlp);
    const MlpConfig& c = demo.config();
    const int64_t every = o.log_every > 0 ? o.log_every : std::max<int64_t>(1, o.steps / 10);

    if (!o.json)
        fmt::print("MLP {} -> {} -> {} -> {} (ReLU), {} parameters; {} generated samples (teacher-network labels), "
                   "batch {}, {} lr {:g}\n",
                   c.inputs, c.hidden, c.hidden, c.classes, demo.num_parameters(), c.train_size, c.batch,
                   demo.optimizer().name(), demo.optimizer().lr());

    nlohmann::json log = nlohmann::json::array();
    double first_loss = 0, last_loss = 0, window = 0;
    int64_t in_window = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t s = 1; s <= o.steps; ++s) {
        last_loss = demo.train_step();
        if (s == 1) first_loss = last_loss;
        window += last_loss;
        ++in_window;
        if (s % every == 0 || s == o.steps) {  // the window mean is steadier than one batch
            double mean = window / static_cast<double>(in_window);
            log.push_back({{"step", s}, {"loss", mean}});
            if (!o.json) fmt::print("  step {:>5}  loss {:.4f}\n", s, mean);
            window = 0;
            in_window = 0;
        }
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double train_acc = demo.accuracy(demo.train_data());
    double test_acc = demo.accuracy(demo.test_data());
    std::size_t peak = demo.step_program().peak_bytes(), total = demo.step_program().memory_plan().total_bytes;
    std::size_t eval_peak = demo.eval_program().peak_bytes();

    if (o.json) {
        print_json({{"model", {{"inputs", c.inputs}, {"hidden", c.hidden}, {"classes", c.classes},
                               {"parameters", demo.num_parameters()}}},
                    {"batch", c.batch},
                    {"optimizer", demo.optimizer().name()},
                    {"lr", demo.optimizer().lr()},
                    {"seed", c.seed},
                    {"steps", o.steps},
                    {"train_size", c.train_size},
                    {"test_size", c.test_size},
                    {"first_loss", first_loss},
                    {"losses", log},
                    {"train_accuracy", train_acc},
                    {"test_accuracy", test_acc},
                    {"ms_per_step", seconds * 1e3 / static_cast<double>(o.steps)},
                    {"step_peak_bytes", peak},
                    {"step_unplanned_bytes", total},
                    {"step_nodes", demo.step_program().num_steps()},
                    {"eval_peak_bytes", eval_peak}});
        return 0;
    }
    fmt::print("final train accuracy {:.1f}%, held-out accuracy {:.1f}% ({} steps, {:.3f} ms/step)\n", 100 * train_acc,
               100 * test_acc, o.steps, seconds * 1e3 / static_cast<double>(o.steps));
    fmt::print("planned arena: training step {} B ({}, {} nodes; {} B without reuse), evaluation {} B ({})\n", peak,
               human_bytes(peak), demo.step_program().num_steps(), total, eval_peak, human_bytes(eval_peak));
    return 0;
}

}  // namespace

Command add_train_mlp_command(CLI::App& app) {
    auto o = std::make_shared<TrainOptions>();
    CLI::App* sub = app.add_subcommand("train-mlp", "Train a small MLP on generated data (the demo)");
    sub->alias("demo-mlp");
    sub->add_option("--steps", o->steps, "SGD steps")->capture_default_str();
    sub->add_option("--batch", o->mlp.batch, "Minibatch size")->capture_default_str();
    sub->add_option("--hidden", o->mlp.hidden, "Width of both hidden layers")->capture_default_str();
    sub->add_option("--optimizer", o->mlp.optimizer, "sgd, adagrad, rmsprop, adam or adamw")->capture_default_str();
    sub->add_option("--lr", o->mlp.lr, "Learning rate (default: 0.1 for sgd, else the optimizer's default)");
    sub->add_option("--momentum", o->mlp.momentum, "Momentum (sgd, rmsprop)");
    sub->add_option("--seed", o->mlp.seed, "Seed of data, teacher and initial weights")->capture_default_str();
    sub->add_option("--log-every", o->log_every, "Print the mean loss every N steps (default: 10 lines)");
    sub->add_flag("--json", o->json, "Print JSON");
    return {sub, [o] { return run_train(*o); }};
}

}  // namespace gg::cli
