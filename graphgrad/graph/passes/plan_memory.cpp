// The plan-memory pass: every arena value and scratch buffer becomes a request (bytes and the
// first and last step that touch it) and the planner (graph/memory_plan.h) places them all in
// one arena. Kernels exist by now, so their scratch sizes and workspace sizes are known.
#include "graphgrad/graph/passes/passes.h"

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

}  // namespace gg::passes
