#include "graphgrad/graph/passes/remat_simulation.h"

#include <algorithm>

#include "graphgrad/graph/op_def.h"
#include "graphgrad/graph/op_rules.h"

namespace gg::passes {

Sizes measure(const Program& lowered) {
    const Graph& g = *lowered.graph;
    Sizes s;
    s.outputs.resize(static_cast<std::size_t>(g.num_nodes()));
    s.scratch.assign(static_cast<std::size_t>(g.num_nodes()), 0);
    for (int32_t id = 0; id < g.num_nodes(); ++id) {
        const Node& n = g.node(id);
        for (const TensorDesc& d : n.outputs) s.outputs[static_cast<std::size_t>(id)].push_back(d.bytes());
    }
    for (const ProgramStep& st : lowered.steps) {
        if (st.kind != StepKind::Compute) continue;
        const auto id = static_cast<std::size_t>(st.node);
        s.scratch[id] = std::max(s.scratch[id], st.kernel->scratch_bytes());
        for (std::size_t o = 0; o < st.outputs.size(); ++o)
            s.outputs[id][o] = lowered.values[static_cast<std::size_t>(st.outputs[o])].bytes;
    }
    return s;
}

Simulation Simulator::run(const Schedule& s) const {
    const auto n = static_cast<int>(s.size());
    const std::size_t nodes = static_cast<std::size_t>(g_.num_nodes());
    Simulation r;
    r.last_forward.assign(nodes, -1);
    r.first_backward.assign(nodes, n);
    r.original_end.assign(nodes, -1);
    r.defined.assign(nodes, n);
    r.slot_end.assign(first_.back(), -1);
    r.copy_defined.assign(nodes, n);
    r.copy_end.assign(nodes, -1);
    std::vector<int> def(first_.back(), -1), last(first_.back(), -1), copies(nodes, 0);
    std::vector<int64_t> delta(static_cast<std::size_t>(n) + 2, 0);
    auto close = [&](std::size_t k, int32_t node, int32_t slot) {  // a version of value k dies
        if (def[k] < 0) return;
        const int end = fetched_[k] ? n : last[k];
        const auto bytes = static_cast<int64_t>(sizes_.outputs[static_cast<std::size_t>(node)][static_cast<std::size_t>(slot)]);
        delta[static_cast<std::size_t>(def[k])] += bytes;
        delta[static_cast<std::size_t>(end) + 1] -= bytes;
    };
    for (int i = 0; i < n; ++i) {
        const Node& nd = g_.node(s[static_cast<std::size_t>(i)]);
        for (const Value& in : nd.inputs) {
            if (in.producer().op->is_source) continue;
            const std::size_t k = key(in.node, in.slot);
            last[k] = i;
            const auto src = static_cast<std::size_t>(in.node);
            if (copies[src] == 2) r.copy_end[src] = i;
            if (copies[src] == 1) {  // the first computation is read
                r.slot_end[k] = i;
                // A recomputed node runs in the backward pass: its reads are backward reads.
                if (nd.is_gradient || copies[static_cast<std::size_t>(nd.id)] > 0)
                    r.first_backward[src] = std::min(r.first_backward[src], i);
                else r.last_forward[src] = i;
                r.original_end[src] = i;
            }
        }
        const auto id = static_cast<std::size_t>(nd.id);
        for (std::size_t o = 0; o < nd.outputs.size(); ++o) {
            const std::size_t k = key(nd.id, static_cast<int32_t>(o));
            close(k, nd.id, static_cast<int32_t>(o));
            def[k] = last[k] = i;
        }
        if (copies[id] == 1) r.copy_defined[id] = r.copy_end[id] = i;
        if (copies[id]++ == 0) r.defined[id] = r.original_end[id] = i;
        delta[static_cast<std::size_t>(i)] += static_cast<int64_t>(sizes_.scratch[id]);
        delta[static_cast<std::size_t>(i) + 1] -= static_cast<int64_t>(sizes_.scratch[id]);
    }
    for (int32_t id = 0; id < g_.num_nodes(); ++id)
        for (std::size_t o = 0; o < g_.node(id).outputs.size(); ++o) close(key(id, static_cast<int32_t>(o)), id, static_cast<int32_t>(o));
    int64_t live = 0;
    r.live.resize(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        live += delta[static_cast<std::size_t>(i)];
        r.live[static_cast<std::size_t>(i)] = static_cast<std::size_t>(live);
        if (static_cast<std::size_t>(live) > r.peak) {
            r.peak = static_cast<std::size_t>(live);
            r.peak_pos = i;
        }
    }
    return r;
}

double recompute_cost(const Node& n) {
    if (!n.op->cost_rule) return 1.0;
    const OpCost c = node_cost(n);
    return 2.0 * static_cast<double>(c.macs) + static_cast<double>(c.flops) +
           static_cast<double>(c.bytes_read + c.bytes_written) / 8.0 + 1.0;
}

}  // namespace gg::passes
