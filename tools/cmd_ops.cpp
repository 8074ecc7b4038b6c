// `graphgrad ops`: the op registry as a table (or JSON): name, arity, whether it has a
// gradient rule (or why not), which kernels it carries, how many samples and error samples
// the generic tests and gradcheck will run, and the op's one-line summary.
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/internal/register_ops.h"

namespace gg::cli {
namespace {

struct OpsOptions {
    bool json = false;
};

std::string arity_str(const OpDef& d) {
    if (d.max_arity < 0) return fmt::format("{}+", d.min_arity);
    if (d.min_arity == d.max_arity) return fmt::format("{}", d.min_arity);
    return fmt::format("{}-{}", d.min_arity, d.max_arity);
}

// compile() runs the fast kernel when an op has one (it falls back to the reference for a
// dtype it cannot run); a plain-loop kernel alone is the op's meaning (OpDef::create_kernel).
std::string kernels_str(const OpDef& d) {
    if (d.fast_factory && d.reference_factory) return "fast+reference";
    if (d.reference_factory) return "plain";
    if (d.fast_factory) return "fast only";
    return "none";
}

// Sample generators build tensors; a broken one must not hide the rest of the table.
template <typename F>
int count_of(const F& make) {
    if (!make) return 0;
    try {
        return static_cast<int>(make().size());
    } catch (const std::exception&) {
        return -1;
    }
}

nlohmann::json op_json(const OpDef& d) {
    nlohmann::json j;
    j["name"] = d.name;
    j["min_arity"] = d.min_arity;
    j["max_arity"] = d.max_arity;  // -1: variadic
    j["differentiable"] = d.differentiable();
    if (!d.differentiable()) j["not_differentiable_reason"] = d.no_grad_reason;
    j["nondifferentiable_inputs"] = d.nondiff_inputs;
    j["kernels"] = kernels_str(d);
    j["samples"] = count_of(d.make_samples);
    j["error_samples"] = count_of(d.make_error_samples);
    j["inplace_input"] = d.inplace_input;
    j["attributes"] = d.attrs_type ? nlohmann::json(type_name(*d.attrs_type)) : nlohmann::json(nullptr);
    j["cost_rule"] = static_cast<bool>(d.cost_rule);
    j["receptive_field_rule"] = static_cast<bool>(d.reach_rule);  // absent: mixes positions
    nlohmann::json roles = {{"inputs", nlohmann::json::object()}, {"outputs", nlohmann::json::object()}};
    for (const auto& [role, index] : d.input_roles) roles["inputs"][role] = index;
    for (const auto& [role, index] : d.output_roles) roles["outputs"][role] = index;
    j["roles"] = roles;
    j["gradient_accumulator"] = d.is_gradient_accumulator;
    j["summary"] = d.summary;
    return j;
}

int run_ops(const OpsOptions& o) {
    register_all_ops();
    std::vector<const OpDef*> ops, sources;
    for (const OpDef* d : op_registry().all()) (d->is_source ? sources : ops).push_back(d);

    if (o.json) {
        nlohmann::json j;
        j["ops"] = nlohmann::json::array();
        for (const OpDef* d : ops) j["ops"].push_back(op_json(*d));
        j["sources"] = nlohmann::json::array();
        for (const OpDef* d : sources) j["sources"].push_back({{"name", d->name}, {"summary", d->summary}});
        print_json(j);
        return 0;
    }

    std::size_t w = 2;
    for (const OpDef* d : ops) w = std::max(w, d->name.size());
    fmt::print("{:<{}}  {:<5}  {:<4}  {:<14}  {:>7}  {:>6}  {}\n", "op", w, "arity", "grad", "kernels", "samples",
               "errors", "description");
    int differentiable = 0;
    for (const OpDef* d : ops) {
        std::string desc = d->summary;
        if (!d->differentiable()) desc += fmt::format(" [no gradient: {}]", d->no_grad_reason);
        if (!d->nondiff_inputs.empty())
            desc += fmt::format(" [no gradient for input {}]", fmt::join(d->nondiff_inputs, ", "));
        differentiable += d->differentiable();
        fmt::print("{:<{}}  {:<5}  {:<4}  {:<14}  {:>7}  {:>6}  {}\n", d->name, w, arity_str(*d),
                   d->differentiable() ? "yes" : "no", kernels_str(*d), count_of(d->make_samples),
                   count_of(d->make_error_samples), desc);
    }
    fmt::print("\n{} ops, {} differentiable. Kernels: fast+reference = a fast (oneDNN) kernel checked against plain "
               "reference loops; plain = loops that serve as both.\n",
               ops.size(), differentiable);
    std::vector<std::string> names;
    for (const OpDef* d : sources) names.push_back(d->name);
    fmt::print("Source ops (values from outside the arena, no kernel): {}\n", fmt::join(names, ", "));
    return 0;
}

}  // namespace

Command add_ops_command(CLI::App& app) {
    auto o = std::make_shared<OpsOptions>();
    CLI::App* sub = app.add_subcommand("ops", "List the registered ops: arity, gradient, kernels, samples");
    sub->add_flag("--json", o->json, "Print JSON instead of a table");
    return {sub, [o] { return run_ops(*o); }};
}

}  // namespace gg::cli
