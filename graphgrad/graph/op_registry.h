// The op registry: one OpDef per op name. Filled explicitly: graph/ registers its source ops
// (input, parameter, constant); ops/register_all_ops() registers every concrete family into
// the process-wide op_registry(). No self-registering statics (static libraries drop them
// silently). Tests that need ops of their own define them in an OpRegistry of their own:
// nodes point at their OpDef, so a graph may mix ops of several registries.
//
//   const gg::OpDef& def = gg::op_registry().get("matmul");
//   gg::OpRegistry mine;                              // a test's ops
//   g.add_node1(mine.define("test_op").arity(1)..., {x});
#pragma once

#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "graphgrad/graph/op_def.h"

namespace gg {

class OpRegistry {
public:
    OpRegistry();
    OpDef& define(std::string name);      // throws when the name is taken
    const OpDef& get(std::string_view name) const;  // throws naming the unknown op
    const OpDef* find(std::string_view name) const;
    std::vector<const OpDef*> all() const;          // in registration order
    // The op declared .gradient_accumulator(); throws unless exactly one is.
    const OpDef& gradient_accumulator() const;

private:
    std::deque<OpDef> defs_;  // deque: stable addresses, Nodes hold OpDef pointers
    std::unordered_map<std::string, OpDef*> by_name_;
};

// The registry the builders of ops/ use (register_all_ops() fills it).
OpRegistry& op_registry();

}  // namespace gg
