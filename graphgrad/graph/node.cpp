#include "graphgrad/graph/node.h"

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_def.h"

namespace gg {

const Node& Value::producer() const {
    if (!valid()) throw GraphError("use of an empty Value (default-constructed or moved-from)");
    return graph->node(node);
}

const TensorDesc& Value::desc() const { return producer().outputs.at(static_cast<std::size_t>(slot)); }

const std::string& Value::name() const { return producer().name; }

const std::string& Node::op_name() const { return op->name; }

NodeKind Node::kind() const {
    if (!op->is_source) return NodeKind::Compute;
    if (const auto* p = std::any_cast<ParameterAttrs>(&attrs)) return p->trainable ? NodeKind::Parameter : NodeKind::State;
    if (std::any_cast<ConstantAttrs>(&attrs)) return NodeKind::Constant;
    return NodeKind::Input;
}

std::string Node::inputs_str() const {
    std::vector<std::string> parts;
    for (const Value& v : inputs) parts.push_back(desc_str(v.desc()));
    return fmt::format("{}", fmt::join(parts, " x "));
}

}  // namespace gg
