// `graphgrad bench train-step`: median wall time of one full training step of a zoo model
// (run() of the compiled forward+backward program, then the SGD-momentum update of the
// store) on random data, plus the planner's training and inference peaks. The PyTorch side
// of the comparison is tools/compare/train_step.py; tools/compare/run.sh runs both.
//
//   graphgrad bench train-step --model resnet20 --batch 64
//   graphgrad bench train-step --model all --json
#include <omp.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/bench/op_profile.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/train/model_program.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/optim/optim.h"

namespace gg::cli {
namespace {

struct TrainStepOptions {
    std::string model = "all";
    std::string input;  // CxHxW; empty: the model's default
    int64_t batch = 64;
    int repeats = 20;
    int warmup = 3;
    bool json = false;
    bool profile = false;  // per-op-type share of the run() time
};

// The issue spells the models lenet, resnet and mobilenet; the zoo has precise names.
std::string zoo_name(const std::string& name) {
    if (name == "lenet") return "lenet5";
    if (name == "resnet") return "resnet20";
    if (name == "mobilenet") return "mobilenet_v1";
    return name;
}

nlohmann::json bench_model(const std::string& model, const TrainStepOptions& o) {
    const models::ModelEntry& entry = find_zoo_model(model);
    const Shape chw = o.input.empty() ? entry.default_input : parse_chw(o.input);
    auto p = build_model_program(model, o.batch, chw, /*seed=*/1, /*with_grads=*/true);
    std::vector<Value> fetches{p->loss};
    fetches.insert(fetches.end(), p->grads.begin(), p->grads.end());
    CompiledGraph step = compile(*p->graph, fetches);
    CompiledGraph infer = compile(*p->graph, {p->logits});
    auto opt = optim::make_optimizer("sgd", *p->graph, p->params, {.lr = 0.01, .momentum = 0.9});

    // Seeded random data: speed does not depend on the values, but NaNs would (denormals).
    Tensor x(p->x.desc()), y(p->y.desc());
    float* xd = x.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) xd[i] = static_cast<float>(standard_normal(7, 1, static_cast<uint64_t>(i)));
    int64_t* yd = y.data<int64_t>();
    for (int64_t i = 0; i < y.numel(); ++i) yd[i] = static_cast<int64_t>(random_bits(7, 2, static_cast<uint64_t>(i)) % 10);

    std::vector<Tensor> grads;
    std::vector<double> step_ms, run_ms, infer_ms;
    for (int r = 0; r < o.warmup + o.repeats; ++r) {
        double run_ns = 0;
        double total_ns = time_ns([&] {
            run_ns = time_ns([&] {
                auto out = step.run({{p->x, x}, {p->y, y}});
                grads.assign(out.begin() + 1, out.end());
            });
            opt->step(grads);
        });
        double inf_ns = time_ns([&] { infer.run({{p->x, x}}); });
        if (r < o.warmup) continue;  // JIT, first-touch page faults, caches
        if (o.profile && r == o.warmup) step.set_profiling(true);
        step_ms.push_back(total_ns / 1e6);
        run_ms.push_back(run_ns / 1e6);
        infer_ms.push_back(inf_ns / 1e6);
    }

    // Nodes whose op has a fast (oneDNN) kernel that declined this shape: a speed warning.
    std::set<std::string> fell_back;
    for (const StepInfo& s : step.steps()) {
        if (s.conversion) continue;  // layout reorders inserted by compile() are not graph ops
        const OpDef& op = *p->graph->node(s.node).op;
        if (!s.fast_kernel && op.has_fast_kernel()) fell_back.insert(op.name);
    }
    const double median_ms = median(step_ms);
    nlohmann::json profile = o.profile ? bench::op_profile(*p->graph, step, o.repeats) : nlohmann::json();
    if (o.profile) step.set_profiling(false);
    return {{"model", model},
            {"profile", profile},
            {"input", chw},
            {"batch", o.batch},
            {"parameters", p->num_parameters()},
            {"repeats", o.repeats},
            {"threads", omp_get_max_threads()},
            {"step_ms", median_ms},
            {"step_ms_min", *std::min_element(step_ms.begin(), step_ms.end())},
            {"run_ms", median(run_ms)},
            {"update_ms", median_ms - median(run_ms)},
            {"inference_ms", median(infer_ms)},
            {"images_per_second", 1e3 * static_cast<double>(o.batch) / median_ms},
            {"train_peak_bytes", step.peak_bytes()},
            {"train_unplanned_bytes", step.memory_plan().total_bytes},
            {"inference_peak_bytes", infer.peak_bytes()},
            {"train_nodes", step.num_steps()},
            {"reference_kernel_ops", fell_back}};
}

int run_train_step(const TrainStepOptions& o) {
    if (o.batch < 1 || o.repeats < 1 || o.warmup < 0) throw UsageError("--batch and --repeats must be positive");
    std::vector<std::string> models;
    if (o.model == "all")
        models = {"lenet5", "resnet20", "mobilenet_v1"};
    else
        models = {zoo_name(o.model)};
    nlohmann::json results = nlohmann::json::array();
    if (!o.json)
        fmt::print("{:<14} {:>6} {:>12} {:>10} {:>10} {:>10} {:>10} {:>14} {:>14}\n", "model", "batch", "step ms",
                   "(min)", "run ms", "update ms", "infer ms", "images/s", "train peak");
    for (const std::string& m : models) {
        nlohmann::json r = bench_model(m, o);
        results.push_back(r);
        if (o.json) continue;
        fmt::print("{:<14} {:>6} {:>12.3f} {:>10.3f} {:>10.3f} {:>10.3f} {:>10.3f} {:>14.0f} {:>14}\n", m, o.batch,
                   r["step_ms"].get<double>(), r["step_ms_min"].get<double>(), r["run_ms"].get<double>(),
                   r["update_ms"].get<double>(), r["inference_ms"].get<double>(), r["images_per_second"].get<double>(),
                   human_bytes(r["train_peak_bytes"].get<std::size_t>()));
        if (o.profile) {
            fmt::print("  {:<34} {:>9} {:>6}  (mean per run, with profiling on)\n", "op", "ms", "steps");
            for (const auto& row : r["profile"])
                fmt::print("  {:<34} {:>9.3f} {:>6}\n", row["op"].get<std::string>(), row["ms"].get<double>(),
                           row["steps"].get<int>());
        }
        if (!r["reference_kernel_ops"].empty())
            fmt::print("  note: reference (plain-loop) kernels ran for {}\n", r["reference_kernel_ops"].dump());
    }
    if (o.json) {
        print_json(o.model == "all" ? results : results[0]);
        return 0;
    }
    fmt::print("\nmedian of {} steps after {} warm-up steps; a step is run() of loss + all gradients, then the SGD "
               "(momentum 0.9) update; {} OpenMP threads\n",
               o.repeats, o.warmup, omp_get_max_threads());
    return 0;
}

}  // namespace

Command add_bench_train_step_command(CLI::App& bench) {
    auto o = std::make_shared<TrainStepOptions>();
    CLI::App* sub = bench.add_subcommand(
        "train-step", "Median ms per full training step (forward, backward, optimizer update) of a zoo model");
    sub->add_option("--model", o->model, "lenet5 (lenet), resnet20 (resnet), mobilenet_v1 (mobilenet), any zoo "
                                         "model, or all")
        ->capture_default_str();
    sub->add_option("--batch", o->batch, "Batch size")->capture_default_str();
    sub->add_option("--input", o->input, "Input size CxHxW (default: the model's)");
    sub->add_option("--repeats", o->repeats, "Timed steps")->capture_default_str();
    sub->add_option("--warmup", o->warmup, "Untimed steps first")->capture_default_str();
    sub->add_flag("--json", o->json, "Print JSON");
    sub->add_flag("--profile", o->profile, "Also print the time per op type of one run()");
    return {sub, [o] { return run_train_step(*o); }};
}

}  // namespace gg::cli
