// `graphgrad summary MODEL`: the per-layer table of tools/model_summary.h (output shape,
// parameters, multiply-adds, activation bytes, receptive field), totals, and the planner's
// peak bytes for a training step and for inference at the given batch size.
//
//   graphgrad summary lenet5
//   graphgrad summary resnet20 --input 3x32x32 --batch 128 --json
//   graphgrad summary resnet110 --batch 64 --memory-budget 40MiB   // what is recomputed to fit
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/train/model_program.h"
#include "graphgrad/train/model_summary.h"
#include "graphgrad/models/model_zoo.h"

namespace gg::cli {
namespace {

struct SummaryOptions {
    std::string model;
    std::string input;  // CxHxW; empty: the zoo entry's default
    int64_t batch = 1;
    std::string memory_budget;  // empty: none
    bool json = false;
};

std::string rf_str(const std::optional<ReceptiveField>& rf) {
    if (!rf) return "-";
    return (*rf)[0] == (*rf)[1] ? std::to_string((*rf)[0]) : fmt::format("{}x{}", (*rf)[0], (*rf)[1]);
}

nlohmann::json rf_json(const std::optional<ReceptiveField>& rf) {
    return rf ? nlohmann::json{(*rf)[0], (*rf)[1]} : nlohmann::json(nullptr);
}

// A long op list (a residual block) is cut so the table keeps its columns.
std::string ops_str(const std::vector<std::string>& ops) {
    std::string s = fmt::format("{}", fmt::join(ops, ","));
    return s.size() > 28 ? s.substr(0, 25) + "..." : s;
}

void print_table(const ModelSummary& s, const models::ModelEntry& entry) {
    fmt::print("{} ({}), input {} (batch {})\n\n", s.model, entry.description, shape_str(s.input), s.input.at(0));
    fmt::print("{:<16} {:<28} {:<16} {:>11} {:>15} {:>12} {:>6}\n", "layer", "ops", "output", "params", "MACs",
               "activations", "RF");
    for (const LayerSummary& l : s.layers)
        fmt::print("{:<16} {:<28} {:<16} {:>11} {:>15} {:>12} {:>6}\n", l.name, ops_str(l.ops), shape_str(l.output),
                   with_commas(l.params), with_commas(l.macs), human_bytes(l.activation_bytes), rf_str(l.receptive_field));
    fmt::print("\ntotal: {} parameters ({}), {} state elements, {} multiply-adds, {} of activations (without reuse)\n",
               with_commas(s.params), human_bytes(static_cast<std::size_t>(s.params) * 4), with_commas(s.state),
               with_commas(s.macs), human_bytes(s.activation_bytes));
    fmt::print("receptive field: {} pixels of the {}x{} input\n", rf_str(s.receptive_field), s.input.at(2),
               s.input.at(3));
    fmt::print("planner peak: training step {} ({} B; {} without reuse), inference {} ({} B; {} without reuse)\n",
               human_bytes(s.train_peak_bytes), s.train_peak_bytes, human_bytes(s.train_unplanned_bytes),
               human_bytes(s.inference_peak_bytes), s.inference_peak_bytes, human_bytes(s.inference_unplanned_bytes));
    if (!s.memory_budget) return;
    fmt::print("memory budget {}: the training step fits in {} (unconstrained {}) by recomputing {} nodes in the backward "
               "pass, {} extra multiply-adds per step ({:.1f}% of the forward's)\n",
               human_bytes(s.memory_budget), human_bytes(s.train_peak_bytes), human_bytes(s.unconstrained_train_peak_bytes),
               s.recomputed.size(), with_commas(s.recompute_macs),
               s.macs ? 100.0 * static_cast<double>(s.recompute_macs) / static_cast<double>(s.macs) : 0.0);
    if (!s.recomputed.empty()) fmt::print("recomputed: {}\n", fmt::join(s.recomputed, ", "));
}

int run_summary(const SummaryOptions& o) {
    const models::ModelEntry& entry = find_zoo_model(o.model);
    const Shape chw = o.input.empty() ? entry.default_input : parse_chw(o.input);
    std::optional<std::size_t> budget;
    if (!o.memory_budget.empty()) budget = parse_bytes(o.memory_budget);
    ModelSummary s = summarize_model(o.model, chw, o.batch, budget);
    if (!o.json) {
        print_table(s, entry);
        return 0;
    }
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerSummary& l : s.layers)
        layers.push_back({{"name", l.name},
                          {"ops", l.ops},
                          {"output", l.output},
                          {"params", l.params},
                          {"state", l.state},
                          {"macs", l.macs},
                          {"activation_bytes", l.activation_bytes},
                          {"receptive_field", rf_json(l.receptive_field)}});
    print_json({{"model", s.model},
                {"description", entry.description},
                {"input", s.input},
                {"layers", layers},
                {"params", s.params},
                {"state", s.state},
                {"macs", s.macs},
                {"activation_bytes", s.activation_bytes},
                {"receptive_field", rf_json(s.receptive_field)},
                {"train_peak_bytes", s.train_peak_bytes},
                {"train_unplanned_bytes", s.train_unplanned_bytes},
                {"inference_peak_bytes", s.inference_peak_bytes},
                {"inference_unplanned_bytes", s.inference_unplanned_bytes},
                {"memory_budget", budget ? nlohmann::json(s.memory_budget) : nlohmann::json(nullptr)},
                {"unconstrained_train_peak_bytes", s.unconstrained_train_peak_bytes},
                {"recomputed_nodes", s.recomputed},
                {"recompute_macs", s.recompute_macs}});
    return 0;
}

}  // namespace

Command add_summary_command(CLI::App& app) {
    auto o = std::make_shared<SummaryOptions>();
    std::string names;
    for (const auto& e : models::model_zoo()) names += (names.empty() ? "" : ", ") + e.name;
    CLI::App* sub = app.add_subcommand(
        "summary", "Per-layer shapes, parameters, multiply-adds, activation memory and receptive field of a model");
    sub->add_option("model", o->model, "Model name: " + (names.empty() ? std::string("(none registered)") : names))
        ->required();
    sub->add_option("--input", o->input, "Input size CxHxW (default: the model's, e.g. 1x28x28)");
    sub->add_option("--batch", o->batch, "Batch size (MACs, activations and peaks scale with it)")->capture_default_str();
    sub->add_option("--memory-budget", o->memory_budget,
                    "Compile the training step within this many bytes (e.g. 40MiB) and show what is recomputed");
    sub->add_flag("--json", o->json, "Print JSON");
    return {sub, [o] { return run_summary(*o); }};
}

}  // namespace gg::cli
