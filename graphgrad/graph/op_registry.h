// The op registry: one OpDef per op name. Filled explicitly: graph/ registers its source ops
// (input, parameter, constant); ops/register_all_ops() registers every concrete family.
// No self-registering statics (static libraries drop them silently).
//
//   const gg::OpDef& def = gg::op_registry().get("matmul");
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

private:
    std::deque<OpDef> defs_;  // deque: stable addresses, Nodes hold OpDef pointers
    std::unordered_map<std::string, OpDef*> by_name_;
};

OpRegistry& op_registry();

}  // namespace gg
