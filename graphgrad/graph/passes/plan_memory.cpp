// The plan-memory pass: every arena value and scratch buffer becomes a request (bytes and the
// first and last step that touch it) and the planner (graph/memory_plan.h) places them all in
// one arena. Kernels exist by now, so their scratch sizes and workspace sizes are known.
#include "graphgrad/graph/passes/passes.h"

#include <algorithm>

#include <fmt/format.h>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_def.h"

namespace gg::passes {

namespace {

void report_plan(Program& p) {
    CompileReport::Plan& r = p.report.plan;
    r = {};
    r.requests = p.requests.size();
    r.total_bytes = p.plan.total_bytes;
    r.arena_bytes = p.plan.arena_bytes;
    for (const ProgramStep& s : p.steps) r.scratch_bytes += s.kernel->scratch_bytes();
    for (const ProgramValue& v : p.values)
        if (v.workspace) r.workspace_bytes += v.bytes;
    for (char reused : p.plan.reused_inplace) r.inplace_reuses += reused != 0;
    r.strategy = p.plan.strategy == MemoryPlan::Strategy::BySize ? "by size" : "best fit";
}

}  // namespace

Program plan_memory(Program p) {
    p.requests.clear();
    p.value_request.assign(p.values.size(), -1);
    p.scratch_request.assign(p.steps.size(), -1);
    for (std::size_t s = 0; s < p.steps.size(); ++s) {
        const ProgramStep& st = p.steps[s];
        const int step = static_cast<int>(s);
        for (int v : st.inputs)
            if (const int r = p.value_request[static_cast<std::size_t>(v)]; r >= 0)
                p.requests[static_cast<std::size_t>(r)].last_step = step;
        for (std::size_t o = 0; o < st.outputs.size(); ++o) {
            const auto v = static_cast<std::size_t>(st.outputs[o]);
            PlanRequest r{p.values[v].bytes, step, step, p.values[v].pinned, -1};
            if (o == 0 && st.inplace_source >= 0) r.inplace_of = p.value_request[static_cast<std::size_t>(st.inplace_source)];
            p.value_request[v] = static_cast<int>(p.requests.size());
            p.requests.push_back(r);
        }
        if (const std::size_t bytes = st.kernel->scratch_bytes()) {
            p.scratch_request[s] = static_cast<int>(p.requests.size());
            p.requests.push_back(PlanRequest{bytes, step, step, false, -1});
        }
    }
    p.plan = gg::plan_memory(p.requests);
    report_plan(p);
    return p;
}

std::string mib(std::size_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

// "name" (op) 12.3 MiB, ... : the largest buffers alive at the arena's fullest step.
std::string describe_peak(const Program& q, std::size_t largest) {
    const Graph& g = *q.graph;
    std::vector<std::string> label(q.requests.size());
    for (std::size_t v = 0; v < q.values.size(); ++v)
        if (const int r = q.value_request[v]; r >= 0) {
            const ProgramValue& val = q.values[v];
            const ProgramStep& st = q.steps[static_cast<std::size_t>(val.step)];
            const Node& n = g.node(val.node);
            label[static_cast<std::size_t>(r)] = fmt::format("\"{}\" ({}{}{})", n.name, n.op->name,
                                                             st.kind == StepKind::Conversion ? ", layout copy" : "",
                                                             st.copy ? ", recomputed" : "");
        }
    for (std::size_t s = 0; s < q.steps.size(); ++s)
        if (const int r = q.scratch_request[s]; r >= 0)
            label[static_cast<std::size_t>(r)] = fmt::format("scratch of \"{}\"", g.node(q.steps[s].node).name);
    const int steps = static_cast<int>(q.steps.size());
    std::vector<int64_t> delta(static_cast<std::size_t>(steps) + 1, 0);
    // A value that took over its dying input's block occupies it from the next step on.
    auto from = [&](std::size_t r) { return q.requests[r].first_step + (q.plan.reused_inplace[r] ? 1 : 0); };
    for (std::size_t i = 0; i < q.requests.size(); ++i) {
        const PlanRequest& r = q.requests[i];
        if (from(i) > (r.pinned ? steps - 1 : r.last_step)) continue;
        delta[static_cast<std::size_t>(from(i))] += static_cast<int64_t>(r.bytes);
        delta[static_cast<std::size_t>(r.pinned ? steps : r.last_step + 1)] -= static_cast<int64_t>(r.bytes);
    }
    int64_t live = 0, best = -1;
    int at = 0;
    for (int i = 0; i < steps; ++i)
        if ((live += delta[static_cast<std::size_t>(i)]) > best) best = live, at = i;
    std::vector<std::size_t> alive;
    for (std::size_t r = 0; r < q.requests.size(); ++r)
        if (from(r) <= at && (q.requests[r].pinned || q.requests[r].last_step >= at)) alive.push_back(r);
    std::sort(alive.begin(), alive.end(), [&](std::size_t a, std::size_t b) { return q.requests[a].bytes > q.requests[b].bytes; });
    std::string out = fmt::format("at step {} ({} \"{}\") {} are alive; the largest:", at,
                                  g.node(q.steps[static_cast<std::size_t>(at)].node).op->name,
                                  g.node(q.steps[static_cast<std::size_t>(at)].node).name, mib(static_cast<std::size_t>(best)));
    for (std::size_t i = 0; i < std::min(alive.size(), largest); ++i)
        out += fmt::format("{} {} {}", i ? "," : "", label[alive[i]], mib(q.requests[alive[i]].bytes));
    if (q.plan.arena_bytes > static_cast<std::size_t>(best))
        out += fmt::format("; the arena is {} (gaps between placed blocks)", mib(q.plan.arena_bytes));
    return out;
}

}  // namespace gg::passes
