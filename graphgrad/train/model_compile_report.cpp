#include "graphgrad/train/model_compile_report.h"

#include <fmt/format.h>

#include "graphgrad/graph/executor.h"
#include "graphgrad/train/model_program.h"
#include "graphgrad/train/report_format.h"

namespace gg::train {

namespace {

std::string ms(double microseconds) { return fmt::format("{:.2f} ms", microseconds / 1e3); }

// What one pass did, in a line.
std::string pass_summary(const CompileReport& r, const std::string& pass) {
    if (pass == "prune")
        return fmt::format("{} of {} nodes kept ({} pruned; {} inputs, parameters and constants)", r.prune.kept_nodes,
                           r.prune.graph_nodes, r.prune.pruned_nodes(), r.prune.source_nodes);
    if (pass == "schedule")
        return fmt::format("{} nodes in {} order ({} recomputed)", r.schedule.scheduled_nodes, r.schedule.order,
                           r.schedule.recomputed_nodes);
    if (pass == "remat" || pass.rfind("remat,", 0) == 0) {
        const CompileReport::Remat& m = r.remat;
        if (m.mode == "none") return "nothing recomputed (no checkpoints, no memory budget)";
        std::string s = fmt::format("{}: {} nodes recomputed in the backward pass, {} extra multiply-adds", m.mode,
                                    m.recomputed.size(), with_commas(m.extra_macs));
        if (m.mode == "budget")
            s += fmt::format(" (budget {}, unconstrained arena {}, {} schedules planned)", human_bytes(m.budget),
                             human_bytes(m.unconstrained_bytes), m.attempts);
        return s;
    }
    if (pass == "lower")
        return fmt::format("{} steps: {} fast kernels, {} plain-loop kernels, {} reference fallbacks, {} layout "
                           "conversions; {} values in opaque layouts, {} workspaces",
                           r.lower.steps, r.lower.fast_kernels, r.lower.loop_kernels, r.lower.reference_kernels,
                           r.lower.conversions, r.lower.opaque_values, r.lower.workspace_values);
    if (pass == "plan memory")
        return fmt::format("{} buffers, {} without reuse -> arena {} ({}; {} in place; scratch {}, workspaces {})",
                           r.plan.requests, human_bytes(r.plan.total_bytes), human_bytes(r.plan.arena_bytes),
                           r.plan.strategy, r.plan.inplace_reuses, human_bytes(r.plan.scratch_bytes),
                           human_bytes(r.plan.workspace_bytes));
    if (pass == "allocate and bind")
        return fmt::format("{}; {} feeds, {} fetches; the program's own heap {}",
                           r.bind.allocated ? "arena of " + human_bytes(r.bind.arena_bytes) + " allocated"
                                            : std::string("plan only, nothing allocated"),
                           r.bind.feeds, r.bind.fetches, human_bytes(r.bind.program_bytes));
    return {};
}

}  // namespace

ModelCompileReport model_compile_report(const std::string& model, const Shape& chw, int64_t batch, bool training,
                                        const CompileOptions& options) {
    auto p = build_model_program(model, batch, chw, /*seed=*/1, training);
    const std::vector<Value> fetches = training ? p->train_fetches() : std::vector<Value>{p->logits};
    CompiledGraph program = compile(*p->graph, fetches, options);
    ModelCompileReport r;
    r.model = model;
    r.input = p->x.shape();
    r.training = training;
    r.fetches = fetches.size();
    r.report = program.compile_report();
    return r;
}

std::string format_compile_report(const ModelCompileReport& r) {
    const CompileReport& c = r.report;
    std::string out = fmt::format("{}: {}, input {}\n\n", r.model,
                                  r.training ? "training step (loss, logits, every gradient)" : "inference (logits)",
                                  shape_str(r.input));
    out += fmt::format("{:<18} {:>10}  {}\n", "pass", "time", "what it did");
    for (const CompileReport::PassTime& p : c.passes)
        out += fmt::format("{:<18} {:>10}  {}\n", p.pass, ms(p.microseconds), pass_summary(c, p.pass));
    out += fmt::format("{:<18} {:>10}\n\n", "total", ms(c.total_microseconds()));
    out += fmt::format("{:<26} {:<11} {:<28} {:>6}\n", "kernels: op", "kind", "implementation", "steps");
    for (const CompileReport::KernelUse& k : c.lower.kernels)
        out += fmt::format("{:<26} {:<11} {:<28} {:>6}\n", k.op, k.kind, k.impl.empty() ? "-" : k.impl, k.steps);
    return out;
}

}  // namespace gg::train
