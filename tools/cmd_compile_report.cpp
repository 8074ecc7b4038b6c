// `graphgrad compile-report MODEL`: what each compile pass did for a zoo model's training step
// (or, with --inference, its logits): nodes pruned, nodes scheduled, steps, kernels chosen
// (fast or reference, oneDNN's implementation), layout conversions inserted, bytes planned and
// the arena, with each pass's time. The report is built by train/model_compile_report.h.
//
//   graphgrad compile-report resnet20
//   graphgrad compile-report lenet5 --inference --batch 1 --json
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/train/model_compile_report.h"
#include "graphgrad/train/model_program.h"

namespace gg::cli {
namespace {

struct CompileReportOptions {
    std::string model;
    std::string input;  // CxHxW; empty: the zoo entry's default
    int64_t batch = 64;
    bool inference = false;
    std::string layout = "auto";
    bool reference = false;
    bool json = false;
};

nlohmann::json report_json(const ModelCompileReport& m) {
    const CompileReport& r = m.report;
    nlohmann::json passes = nlohmann::json::array(), kernels = nlohmann::json::array();
    for (const auto& p : r.passes) passes.push_back({{"pass", p.pass}, {"microseconds", p.microseconds}});
    for (const auto& k : r.lower.kernels)
        kernels.push_back({{"op", k.op}, {"kind", k.kind}, {"implementation", k.impl}, {"steps", k.steps}});
    return {{"model", m.model},
            {"program", m.training ? "training" : "inference"},
            {"input", m.input},
            {"fetches", m.fetches},
            {"passes", passes},
            {"total_microseconds", r.total_microseconds()},
            {"prune", {{"graph_nodes", r.prune.graph_nodes}, {"kept_nodes", r.prune.kept_nodes},
                       {"pruned_nodes", r.prune.pruned_nodes()}, {"source_nodes", r.prune.source_nodes}}},
            {"schedule", {{"order", r.schedule.order}, {"scheduled_nodes", r.schedule.scheduled_nodes},
                          {"recomputed_nodes", r.schedule.recomputed_nodes}}},
            {"lower", {{"steps", r.lower.steps}, {"fast_kernels", r.lower.fast_kernels},
                       {"reference_kernels", r.lower.reference_kernels}, {"loop_kernels", r.lower.loop_kernels},
                       {"conversions", r.lower.conversions},
                       {"opaque_values", r.lower.opaque_values}, {"workspace_values", r.lower.workspace_values},
                       {"kernels", kernels}}},
            {"plan", {{"buffers", r.plan.requests}, {"total_bytes", r.plan.total_bytes},
                      {"arena_bytes", r.plan.arena_bytes}, {"scratch_bytes", r.plan.scratch_bytes},
                      {"workspace_bytes", r.plan.workspace_bytes}, {"inplace_reuses", r.plan.inplace_reuses},
                      {"strategy", r.plan.strategy}}},
            {"bind", {{"allocated", r.bind.allocated}, {"arena_bytes", r.bind.arena_bytes}, {"feeds", r.bind.feeds},
                      {"fetches", r.bind.fetches}, {"program_bytes", r.bind.program_bytes}}}};
}

int run_compile_report(const CompileReportOptions& o) {
    const models::ModelEntry& entry = find_zoo_model(o.model);
    const Shape chw = o.input.empty() ? entry.default_input : parse_chw(o.input);
    CompileOptions options;
    options.reference_kernels = o.reference;
    options.layout_policy = o.layout == "plain" ? LayoutPolicy::Plain
                            : o.layout == "opaque" ? LayoutPolicy::Opaque
                                                   : LayoutPolicy::Auto;
    const ModelCompileReport r = model_compile_report(o.model, chw, o.batch, !o.inference, options);
    if (o.json) print_json(report_json(r));
    else fmt::print("{}", format_compile_report(r));
    return 0;
}

}  // namespace

Command add_compile_report_command(CLI::App& app) {
    auto o = std::make_shared<CompileReportOptions>();
    std::string names;
    for (const auto& e : models::model_zoo()) names += (names.empty() ? "" : ", ") + e.name;
    CLI::App* sub = app.add_subcommand(
        "compile-report", "What each compile pass did for a model's program: pruning, schedule, kernels, layout "
                          "conversions, memory plan, times");
    sub->add_option("model", o->model, "Model name: " + names)->required();
    sub->add_option("--input", o->input, "Input size CxHxW (default: the model's, e.g. 1x28x28)");
    sub->add_option("--batch", o->batch, "Batch size")->capture_default_str();
    sub->add_flag("--inference", o->inference, "Compile the inference program (logits) instead of the training step");
    sub->add_option("--layout", o->layout, "Layout policy: auto, plain (no opaque layouts) or opaque")
        ->check(CLI::IsMember({"auto", "plain", "opaque"}))
        ->capture_default_str();
    sub->add_flag("--reference", o->reference, "Reference kernels only (plain loops)");
    sub->add_flag("--json", o->json, "Print JSON");
    return {sub, [o] { return run_compile_report(*o); }};
}

}  // namespace gg::cli
