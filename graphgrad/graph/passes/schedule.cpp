// The schedule pass: the order steps run in, an explicit result later passes may rewrite
// (reorder, or repeat a node to recompute it instead of keeping its outputs alive).
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/graph/passes/passes.h"

namespace gg::passes {

Program schedule(Program p) {
    p.schedule.clear();
    switch (p.options.schedule) {
        case ScheduleOrder::Program:
            // p.nodes ascends by id: inputs are added before their users, so this is a
            // topological order, and it follows how the program was written.
            for (int32_t id : p.nodes)
                if (!p.graph->node(id).op->is_source) p.schedule.push_back(id);
            break;
    }
    validate_schedule(p);
    p.report.schedule.order = schedule_order_name(p.options.schedule);
    p.report.schedule.scheduled_nodes = p.schedule.size();
    return p;
}

void validate_schedule(const Program& p) {
    const Graph& g = *p.graph;
    std::vector<char> kept(static_cast<std::size_t>(g.num_nodes()), 0);
    for (int32_t id : p.nodes) kept[static_cast<std::size_t>(id)] = 1;
    std::vector<int> computed(kept.size(), 0);
    for (std::size_t s = 0; s < p.schedule.size(); ++s) {
        const int32_t id = p.schedule[s];
        if (id < 0 || id >= g.num_nodes() || !kept[static_cast<std::size_t>(id)])
            throw_graph("compile: schedule entry {} is node {}, which the program does not keep", s, id);
        const Node& n = g.node(id);
        if (n.op->is_source) throw_graph("compile: schedule entry {} is the source node \"{}\"", s, n.name);
        for (const Value& in : n.inputs)
            if (!in.producer().op->is_source && !computed[static_cast<std::size_t>(in.node)])
                throw_graph("compile: schedule entry {} runs {} \"{}\" before its input \"{}\" is computed", s,
                            n.op->name, n.name, in.name());
        if (computed[static_cast<std::size_t>(id)]++ && !n.op->state_inputs.empty() && !n.op->recomputable_state)
            throw_graph("compile: schedule entry {} repeats {} \"{}\", which updates state in place (running it "
                        "twice would update it twice, and its op declares no recompute_without_state_update)",
                        s, n.op->name, n.name);
    }
    for (int32_t id : p.nodes)
        if (!g.node(id).op->is_source && !computed[static_cast<std::size_t>(id)])
            throw_graph("compile: the schedule leaves out {} \"{}\"", g.node(id).op->name, g.node(id).name);
}

}  // namespace gg::passes
