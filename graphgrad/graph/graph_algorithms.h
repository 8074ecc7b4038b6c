// Whole-graph algorithms: pruning to what outputs need, ordering, Graphviz export. The only
// user of Boost.Graph.
//
//   auto keep  = gg::reachable_nodes(g, fetches);       // ids the fetches depend on
//   auto order = gg::topological_order(g, keep);        // inputs before users
//   gg::write_dot(g, order, std::cout);
#pragma once

#include <ostream>
#include <vector>

#include "graphgrad/graph/node.h"

namespace gg {

class Graph;

// Ids of every node some fetch depends on (including the fetches' own nodes), ascending.
std::vector<int32_t> reachable_nodes(const Graph& g, const std::vector<Value>& fetches);

// The given nodes in an order where every node follows the nodes it reads.
std::vector<int32_t> topological_order(const Graph& g, const std::vector<int32_t>& nodes);

// Graphviz DOT: one box per node (op, name, output shapes); gradient nodes drawn in a
// separate colour; edges labelled with the value's shape.
void write_dot(const Graph& g, const std::vector<int32_t>& nodes, std::ostream& out);

}  // namespace gg
