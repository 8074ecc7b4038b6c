#include "graphgrad/graph/graph_algorithms.h"

#include <map>

#include "graphgrad/graph/op_def.h"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/graphviz.hpp>
#include <boost/graph/topological_sort.hpp>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_def.h"

namespace gg {

namespace {
using BoostGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;

// Builds the sub-graph over `nodes` (vertex i = nodes[i]); edges go producer → consumer.
BoostGraph to_boost(const Graph& g, const std::vector<int32_t>& nodes, std::map<int32_t, std::size_t>& index) {
    for (std::size_t i = 0; i < nodes.size(); ++i) index[nodes[i]] = i;
    BoostGraph bg(nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i)
        for (const Value& in : g.node(nodes[i]).inputs)
            if (auto it = index.find(in.node); it != index.end()) boost::add_edge(it->second, i, bg);
    return bg;
}
}  // namespace

std::vector<int32_t> reachable_nodes(const Graph& g, const std::vector<Value>& fetches) {
    std::vector<char> need(static_cast<std::size_t>(g.num_nodes()), 0);
    int32_t hi = -1;
    for (const Value& f : fetches) {
        need[static_cast<std::size_t>(f.node)] = 1;
        hi = std::max(hi, f.node);
    }
    // Inputs always have smaller ids than their users, so one backward sweep suffices.
    for (int32_t id = hi; id >= 0; --id)
        if (need[static_cast<std::size_t>(id)])
            for (const Value& in : g.node(id).inputs) need[static_cast<std::size_t>(in.node)] = 1;
    std::vector<int32_t> out;
    for (int32_t id = 0; id <= hi; ++id)
        if (need[static_cast<std::size_t>(id)]) out.push_back(id);
    return out;
}

std::vector<int32_t> topological_order(const Graph& g, const std::vector<int32_t>& nodes) {
    std::map<int32_t, std::size_t> index;
    BoostGraph bg = to_boost(g, nodes, index);
    std::vector<std::size_t> reversed;
    boost::topological_sort(bg, std::back_inserter(reversed));  // Boost writes reverse order
    std::vector<int32_t> order;
    for (auto it = reversed.rbegin(); it != reversed.rend(); ++it) order.push_back(nodes[*it]);
    return order;
}

void write_dot(const Graph& g, const std::vector<int32_t>& nodes, std::ostream& out) {
    std::map<int32_t, std::size_t> index;
    BoostGraph bg = to_boost(g, nodes, index);
    auto vertex_writer = [&](std::ostream& os, std::size_t v) {
        const Node& n = g.node(nodes[v]);
        std::vector<std::string> shapes;
        for (const auto& d : n.outputs) shapes.push_back(desc_str(d));
        const char* fill = n.op->is_source ? "#e8f0fe" : (n.is_gradient ? "#fde8e8" : "#ffffff");
        os << fmt::format("[shape=box, style=filled, fillcolor=\"{}\", label=\"{}\\n{}\\n{}\"]", fill, n.op->name,
                          n.name, fmt::join(shapes, " "));
    };
    boost::write_graphviz(out, bg, vertex_writer);
}

}  // namespace gg
