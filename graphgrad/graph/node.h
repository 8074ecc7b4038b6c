// Value and Node: the IR. A Node is one operation instance (op, inputs, attributes, output
// descriptors); a Value is one output of a node and is what user code passes around.
//
//   gg::Value h = gg::relu(gg::matmul(x, w));   // builders return Values
//   h.shape();                                 // known as soon as the node is added
#pragma once

#include <any>
#include <cstdint>
#include <string>
#include <typeinfo>
#include <vector>

#include "graphgrad/graph/tensor_desc.h"

namespace gg {

class Graph;
struct Node;
struct OpDef;

struct Value {
    Graph* graph = nullptr;
    int32_t node = -1;
    int32_t slot = 0;

    bool valid() const { return graph != nullptr && node >= 0; }
    const Node& producer() const;
    const TensorDesc& desc() const;
    const Shape& shape() const { return desc().shape; }
    DType dtype() const { return desc().dtype; }
    int rank() const { return desc().rank(); }
    int64_t dim(int64_t axis) const { return desc().dim(axis); }
    int64_t numel() const { return desc().numel(); }
    const std::string& name() const;  // the producing node's name

    bool operator==(const Value& o) const { return graph == o.graph && node == o.node && slot == o.slot; }
};

// What a source node (no inputs, no kernel) holds; Compute for every other node.
enum class NodeKind { Compute, Input, Parameter, State, Constant };

struct Node {
    int32_t id = -1;
    const OpDef* op = nullptr;
    std::string name;
    std::vector<Value> inputs;
    std::any attrs;
    std::vector<TensorDesc> outputs;
    bool is_gradient = false;  // appended by grad(): the backward pass

    const std::string& op_name() const;
    NodeKind kind() const;
    std::string inputs_str() const;  // "[64,784] x [784,256]" style summary for messages
};

// Throws GraphError naming the op and both types unless n's op declares attributes of type t.
void check_attributes_type(const Node& n, const std::type_info& t);

// The attributes of node n as the T its op declares: the public options of the builder
// headers (Conv2dOptions, Pool2dOptions, BatchNormOptions, ...) for the ops built from them.
//   const auto& o = gg::node_attributes<gg::Conv2dOptions>(node);   // o.stride, o.padding
template <typename T>
const T& node_attributes(const Node& n) {
    check_attributes_type(n, typeid(T));
    return *std::any_cast<T>(&n.attrs);
}

template <typename T>
const T& attrs_as(const std::any& attrs, const char* op_name) {
    const T* p = std::any_cast<T>(&attrs);
    if (!p) throw std::invalid_argument(std::string(op_name) + ": attributes have the wrong type");
    return *p;
}

}  // namespace gg

template <>
struct std::hash<gg::Value> {
    std::size_t operator()(const gg::Value& v) const noexcept {
        return std::hash<const void*>()(v.graph) ^ (static_cast<std::size_t>(v.node) << 8) ^ static_cast<std::size_t>(v.slot);
    }
};
