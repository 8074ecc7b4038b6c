// The prune pass: only what the fetches need is compiled.
#include <algorithm>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/graph_algorithms.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/graph/passes/passes.h"

namespace gg::passes {

namespace {

void check_fetches(const Graph& g, const std::vector<Value>& fetches) {
    for (std::size_t i = 0; i < fetches.size(); ++i) {
        const Value& f = fetches[i];
        if (!f.valid()) throw_graph("compile: fetch {} is an empty Value", i);
        if (f.graph != &g) throw_graph("compile: fetch {} (\"{}\") belongs to another graph", i, f.name());
        const Node& n = f.producer();
        if (n.op->is_workspace_output(f.slot))
            throw_graph("compile: fetch {} is output {} of {} \"{}\", a workspace: bytes only its kernels read, "
                        "living from the forward node to its backward node; it cannot be fetched",
                        i, f.slot, n.op->name, n.name);
    }
}

// State must live outside the arena: persistent state, or a fed input (gradcheck and tests
// feed it; the caller's tensor is then updated).
void check_state_inputs(const Node& n) {
    for (int i : n.op->state_inputs) {
        const Node& src = n.inputs.at(static_cast<std::size_t>(i)).producer();
        const bool is_state = src.kind() == NodeKind::State;
        if (!is_state && src.kind() != NodeKind::Input)
            throw_graph("compile: {} \"{}\" updates input {} in place, which must be persistent state "
                        "(Graph::state), but \"{}\" is a {} node",
                        n.op->name, n.name, i, src.name, src.op->name);
    }
}

}  // namespace

Program prune(const Graph& g, const std::vector<Value>& fetches, const CompileOptions& options) {
    check_fetches(g, fetches);
    Program p;
    p.resources = std::make_unique<KernelResources>();
    p.graph = &g;
    p.options = options;
    p.fetches = fetches;
    p.nodes = reachable_nodes(g, fetches);
    bool has_gradient = false;
    int32_t sources = 0;
    for (int32_t id : p.nodes) {
        const Node& n = g.node(id);
        has_gradient = has_gradient || n.is_gradient;
        if (n.op->is_source) ++sources;
        else check_state_inputs(n);
    }
    p.training = options.training.value_or(has_gradient);
    p.report.prune.graph_nodes = g.num_nodes();
    p.report.prune.kept_nodes = static_cast<int32_t>(p.nodes.size());
    p.report.prune.source_nodes = sources;
    return p;
}

}  // namespace gg::passes
