// The rematerialisation pass (between schedule and lower): forward values of checkpoint
// regions are not kept for the backward pass but recomputed just before their first backward
// reader, by repeating their nodes in the schedule. grad() is untouched: the backward nodes
// read the same graph values, and the lower pass hands readers after a repetition its copy
// (graph/program.h), so the planner sees the originals die after their last forward reader.
//
// Exactness. A repetition is the same node, so a random op draws what it drew the first time:
// its draws are a pure function of (graph seed, node id, run counter), and the copy's kernel
// sees the same node id and run counter. An op updating state (batch norm's running
// statistics) is repeated only when it declares that its kernel, made with
// KernelContext::recompute, skips the update: batch norm's copy then normalises with the batch
// statistics it computes again from bitwise the same input, writing what the first run wrote,
// and the running statistics move once per step.
#include "graphgrad/graph/passes/remat.h"

#include <algorithm>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/graph/passes/passes.h"

namespace gg::passes {

std::vector<char> recomputable_nodes(const Program& p) {
    const Graph& g = *p.graph;
    std::vector<char> ok(static_cast<std::size_t>(g.num_nodes()), 0);
    for (int32_t id : p.nodes) {
        const Node& n = g.node(id);
        ok[static_cast<std::size_t>(id)] =
            !n.op->is_source && !n.is_gradient && (n.op->state_inputs.empty() || n.op->recomputable_state);
    }
    for (const Value& f : p.fetches) ok[static_cast<std::size_t>(f.node)] = 0;
    return ok;
}

std::vector<char> checkpointed_nodes(const Program& p, const std::vector<char>& recomputable) {
    std::vector<char> chosen(recomputable.size(), 0);
    for (int32_t id : p.nodes) {
        const Node& n = p.graph->node(id);
        chosen[static_cast<std::size_t>(id)] =
            recomputable[static_cast<std::size_t>(id)] && n.checkpoint >= 0 && !n.checkpoint_output;
    }
    return chosen;
}

Schedule recompute_schedule(const Program& p, const Schedule& base, const std::vector<char>& chosen) {
    const Graph& g = *p.graph;
    std::vector<char> copied(chosen.size(), 0);
    Schedule out;
    out.reserve(base.size() * 2);
    // Depth-first over chosen inputs with an explicit stack: chains of chosen nodes can be as
    // long as the network (an unrolled recurrence).
    std::vector<std::pair<int32_t, std::size_t>> stack;  // node, next input to look at
    auto ensure = [&](int32_t id) {
        if (!chosen[static_cast<std::size_t>(id)] || copied[static_cast<std::size_t>(id)]) return;
        copied[static_cast<std::size_t>(id)] = 1;
        stack.emplace_back(id, 0);
        while (!stack.empty()) {
            auto& [node, next] = stack.back();
            const Node& n = g.node(node);
            if (next < n.inputs.size()) {
                const int32_t in = n.inputs[next++].node;
                if (chosen[static_cast<std::size_t>(in)] && !copied[static_cast<std::size_t>(in)]) {
                    copied[static_cast<std::size_t>(in)] = 1;
                    stack.emplace_back(in, 0);
                }
                continue;
            }
            out.push_back(node);
            stack.pop_back();
        }
    };
    for (int32_t id : base) {
        const Node& n = g.node(id);
        if (n.is_gradient)
            for (const Value& in : n.inputs) ensure(in.node);
        out.push_back(id);
    }
    return out;
}

void report_recomputation(Program& p, const char* mode) {
    const Graph& g = *p.graph;
    CompileReport::Remat& r = p.report.remat;
    r.mode = mode;
    r.recomputed.clear();
    r.extra_macs = r.extra_flops = 0;
    std::vector<char> seen(static_cast<std::size_t>(g.num_nodes()), 0);
    for (int32_t id : p.schedule) {
        if (!seen[static_cast<std::size_t>(id)]++) continue;
        const Node& n = g.node(id);
        r.recomputed.push_back(n.name);
        if (n.op->cost_rule) {
            const OpCost c = node_cost(n);
            r.extra_macs += c.macs;
            r.extra_flops += c.flops;
        }
    }
    p.report.schedule.recomputed_nodes = r.recomputed.size();
    p.report.schedule.scheduled_nodes = p.schedule.size();
}

Program scheduled_copy(const Program& p) {
    Program q;
    q.resources = std::make_unique<KernelResources>();
    q.graph = p.graph;
    q.options = p.options;
    q.fetches = p.fetches;
    q.report = p.report;
    q.training = p.training;
    q.nodes = p.nodes;
    q.schedule = p.schedule;
    return q;
}

Program rematerialize(Program p) {
    if (!p.options.checkpoints || p.graph->checkpoint_regions() == 0) {
        report_recomputation(p, "none");
        return p;
    }
    p.schedule = recompute_schedule(p, p.schedule, checkpointed_nodes(p, recomputable_nodes(p)));
    validate_schedule(p);
    report_recomputation(p, "checkpoints");
    return p;
}

}  // namespace gg::passes
