// `graphgrad gradcheck`: numerical gradient check of registered ops (gg::gradcheck_op:
// central differences in f64 on reference kernels, full Jacobian or random directions,
// second order where the rules allow). Exit status 1 when any check fails, so scripts and
// CI can gate on it; non-differentiable ops are listed as skipped with their reason.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/graph/gradcheck_op.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/internal/register_ops.h"

namespace gg::cli {
namespace {

struct GradcheckCliOptions {
    std::vector<std::string> ops;
    bool all = false;
    bool no_second_order = false;
    bool failures_only = false;
    bool json = false;
    GradcheckOptions check;
};

nlohmann::json result_json(const GradcheckResult& r) {
    nlohmann::json j{{"op", r.op},
                     {"sample", r.sample},
                     {"order", r.order},
                     {"mode", r.mode},
                     {"passed", r.passed},
                     {"max_abs_error", r.max_abs_error},
                     {"max_rel_error", r.max_rel_error},
                     {"worst", {{"input", r.input}, {"index", r.index}, {"analytic", r.analytic}, {"numeric", r.numeric}}},
                     {"evaluations", r.evaluations}};
    if (!r.error.empty()) j["error"] = r.error;
    return j;
}

// The ops to check, in registration order; unknown names are usage errors (exit 2).
std::vector<const OpDef*> select_ops(const GradcheckCliOptions& o) {
    if (o.all == !o.ops.empty())
        throw UsageError(o.all ? "give either --all or --op NAME, not both" : "choose ops with --op NAME (repeatable) or --all");
    if (o.all) {
        std::vector<const OpDef*> out;
        for (const OpDef* d : op_registry().all())
            if (!d->is_source) out.push_back(d);
        return out;
    }
    std::vector<const OpDef*> out;
    for (const std::string& name : o.ops) {
        const OpDef* d = op_registry().find(name);
        if (!d) throw UsageError(fmt::format("unknown op \"{}\" (`graphgrad ops` lists the registered ops)", name));
        out.push_back(d);
    }
    return out;
}

int run_gradcheck(GradcheckCliOptions o) {
    register_all_ops();
    o.check.second_order = !o.no_second_order;
    std::vector<const OpDef*> ops = select_ops(o);

    std::vector<GradcheckResult> results;
    std::vector<std::pair<std::string, std::string>> skipped;  // (op, reason)
    auto t0 = std::chrono::steady_clock::now();
    for (const OpDef* d : ops) {
        if (d->is_source || !d->differentiable()) {
            skipped.emplace_back(d->name, d->is_source ? "a source op (leaf)" : d->no_grad_reason);
            continue;
        }
        std::vector<GradcheckResult> rs;
        try {
            rs = gradcheck_op(*d, o.check);
        } catch (const std::exception& e) {  // one broken op must not hide the others
            GradcheckResult r;
            r.op = d->name;
            r.sample = "-";
            r.mode = "-";
            r.error = e.what();
            rs.push_back(r);
        }
        if (rs.empty()) {  // a differentiable op without samples is unchecked: count it as a failure
            GradcheckResult r;
            r.op = d->name;
            r.sample = "-";
            r.mode = "-";
            r.error = "no samples: the op declares a gradient but nothing exercises it";
            rs.push_back(r);
        }
        for (auto& r : rs) {
            r.atol = r.atol == 0 ? o.check.atol : r.atol;
            r.rtol = r.rtol == 0 ? o.check.rtol : r.rtol;
            if (!o.json && (!o.failures_only || !r.passed)) fmt::print("{}\n", r.describe());
            results.push_back(std::move(r));
        }
        std::fflush(stdout);  // progress stays visible when piped through tee
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    int passed = 0, failed = 0;
    for (const auto& r : results) (r.passed ? passed : failed)++;

    if (o.json) {
        nlohmann::json j;
        j["options"] = {{"eps", o.check.eps},
                        {"atol", o.check.atol},
                        {"rtol", o.check.rtol},
                        {"second_order", o.check.second_order},
                        {"full_jacobian_limit", o.check.full_jacobian_limit},
                        {"directions", o.check.directions},
                        {"seed", o.check.seed}};
        j["results"] = nlohmann::json::array();
        for (const auto& r : results) j["results"].push_back(result_json(r));
        j["skipped"] = nlohmann::json::array();
        for (const auto& [op, why] : skipped) j["skipped"].push_back({{"op", op}, {"reason", why}});
        j["passed"] = passed;
        j["failed"] = failed;
        j["seconds"] = seconds;
        print_json(j);
    } else {
        for (const auto& [op, why] : skipped) fmt::print("skip {}: not differentiable: {}\n", op, why);
        fmt::print("\ntolerance: |analytic - numeric| <= atol + rtol*max(|analytic|, |numeric|) with atol {:g}, rtol {:g}; "
                   "central differences with eps {:g} in f64 on reference kernels; second order {}\n",
                   o.check.atol, o.check.rtol, o.check.eps, o.check.second_order ? "on" : "off");
        fmt::print("{} passed, {} failed ({} ops checked, {} skipped, {:.2f} s)\n", passed, failed,
                   ops.size() - skipped.size(), skipped.size(), seconds);
    }
    return failed == 0 ? 0 : 1;
}

}  // namespace

Command add_gradcheck_command(CLI::App& app) {
    auto o = std::make_shared<GradcheckCliOptions>();
    CLI::App* sub = app.add_subcommand(
        "gradcheck", "Check every op's gradient rule against central differences (exit 1 on any failure)");
    sub->add_option("--op", o->ops, "Op to check (repeatable); see `graphgrad ops`");
    sub->add_flag("--all", o->all, "Check every differentiable registered op");
    sub->add_flag("--no-second-order", o->no_second_order, "Skip gradient-of-gradient checks");
    sub->add_option("--eps", o->check.eps, "Central-difference step")->capture_default_str();
    sub->add_option("--atol", o->check.atol, "Absolute tolerance")->capture_default_str();
    sub->add_option("--rtol", o->check.rtol, "Relative tolerance")->capture_default_str();
    sub->add_option("--seed", o->check.seed, "Seed of the random directions")->capture_default_str();
    sub->add_flag("--failures-only", o->failures_only, "Print only failing results (and the summary)");
    sub->add_flag("--json", o->json, "Print JSON");
    return {sub, [o] { return run_gradcheck(*o); }};
}

}  // namespace gg::cli
