#include "graphgrad/graph/graph.h"

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/graph/rng.h"

namespace gg {

Tensor& ParameterStore::get(const std::string& name) {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw_graph("parameter store: no entry \"{}\"", name);
    return it->second.value;
}

const Tensor& ParameterStore::get(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw_graph("parameter store: no entry \"{}\"", name);
    return it->second.value;
}

void ParameterStore::add(const std::string& name, Tensor value, bool trainable) {
    if (!entries_.emplace(name, Entry{std::move(value), trainable}).second)
        throw_graph("parameter store: \"{}\" exists already", name);
}

Graph::Graph(uint64_t seed) : store_(std::make_shared<ParameterStore>()), seed_(seed) {}

std::string Graph::scoped(const std::string& name) const {
    std::string out;
    for (const auto& s : scopes_) out += s + ".";
    return out + name;
}

Value Graph::add_source(const char* op, const std::string& name, TensorDesc desc, std::any attrs) {
    if (by_name_.count(name)) throw_graph("{} \"{}\": a node of that name exists already", op, name);
    for (int64_t d : desc.shape)
        if (d < 0) throw_graph("{} \"{}\": negative dimension in shape {}", op, name, shape_str(desc.shape));
    Node n;
    n.id = num_nodes();
    n.op = &op_registry().get(op);
    n.name = name;
    n.attrs = std::move(attrs);
    n.outputs = {std::move(desc)};
    n.is_gradient = building_gradient_;
    by_name_[n.name] = n.id;
    nodes_.push_back(std::move(n));
    return Value{this, nodes_.back().id, 0};
}

Value Graph::input(const std::string& name, Shape shape, DType dtype) {
    std::string full = scoped(name);
    return add_source("input", full, TensorDesc{std::move(shape), dtype}, InputAttrs{full});
}

Value Graph::add_stored(const std::string& full, Shape shape, const Initializer& init, DType dtype, bool trainable) {
    TensorDesc desc{std::move(shape), dtype};
    Value v = add_source("parameter", full, desc, ParameterAttrs{full, trainable});
    Tensor t(desc);
    init(t, hash_combine(seed_, hash_string(full.data(), full.size())));
    store_->add(full, std::move(t), trainable);
    return v;
}

Value Graph::parameter(const std::string& name, Shape shape, const Initializer& init, DType dtype) {
    std::string full = scoped(name);
    if (!is_floating(dtype)) throw_graph("parameter \"{}\": parameters must be f32 or f64, got {}", full, dtype);
    return add_stored(full, std::move(shape), init, dtype, true);
}

Value Graph::state(const std::string& name, Shape shape, const Initializer& init, DType dtype) {
    return add_stored(scoped(name), std::move(shape), init, dtype, false);
}

Value Graph::constant(Tensor value, const std::string& name) {
    std::string full = name.empty() ? fmt::format("constant_{}", num_nodes()) : scoped(name);
    if (by_name_.count(full)) full += fmt::format("_{}", num_nodes());
    TensorDesc desc = value.desc();
    return add_source("constant", full, desc, ConstantAttrs{std::move(value)});
}

Value Graph::scalar(double value, DType dtype) { return constant(Tensor::scalar(value, dtype)); }

std::vector<Value> Graph::add_node(const OpDef& op, std::vector<Value> inputs, std::any attrs,
                                   const std::string& name) {
    std::string full = scoped(name.empty() ? fmt::format("{}_{}", op.name, num_nodes()) : name);
    if (by_name_.count(full)) full += fmt::format("_{}", num_nodes());
    const int n = static_cast<int>(inputs.size());
    if (n < op.min_arity || (op.max_arity >= 0 && n > op.max_arity)) {
        if (op.min_arity == op.max_arity)
            throw_graph("{} \"{}\": expects {} inputs, got {}", op.name, full, op.min_arity, n);
        throw_graph("{} \"{}\": expects {} to {} inputs, got {}", op.name, full, op.min_arity,
                    op.max_arity < 0 ? std::string("any") : std::to_string(op.max_arity), n);
    }
    std::vector<TensorDesc> descs;
    for (int i = 0; i < n; ++i) {
        const Value& v = inputs[static_cast<std::size_t>(i)];
        if (!v.valid()) throw_graph("{} \"{}\": input {} is an empty Value", op.name, full, i);
        if (v.graph != this)
            throw_graph("{} \"{}\": input {} (\"{}\") belongs to another graph", op.name, full, i, v.name());
        descs.push_back(v.desc());
    }
    const bool has_attrs = attrs.has_value();
    if (op.attrs_type ? !has_attrs || std::type_index(attrs.type()) != *op.attrs_type : has_attrs)
        throw_graph("{} \"{}\": attributes are {}, the op takes {}", op.name, full,
                    has_attrs ? type_name(attrs.type()) : std::string("missing"),
                    op.attrs_type ? type_name(*op.attrs_type) : std::string("none"));
    std::vector<TensorDesc> outs;
    try {
        outs = op.infer(InferContext{descs, attrs, op.name.c_str()});
    } catch (const ShapeError& e) {
        std::vector<std::string> parts;
        for (const auto& d : descs) parts.push_back(desc_str(d));
        throw GraphError(fmt::format("{} \"{}\": {} (inputs {})", op.name, full, e.what(), fmt::join(parts, ", ")));
    } catch (const std::bad_any_cast&) {
        throw_graph("{} \"{}\": attributes have the wrong type", op.name, full);
    }
    Node node;
    node.id = num_nodes();
    node.op = &op;
    node.name = full;
    node.inputs = std::move(inputs);
    node.attrs = std::move(attrs);
    node.outputs = std::move(outs);
    node.is_gradient = building_gradient_;
    by_name_[node.name] = node.id;
    nodes_.push_back(std::move(node));
    std::vector<Value> result;
    for (std::size_t s = 0; s < nodes_.back().outputs.size(); ++s)
        result.push_back(Value{this, nodes_.back().id, static_cast<int32_t>(s)});
    return result;
}

Value Graph::add_node1(const OpDef& op, std::vector<Value> inputs, std::any attrs, const std::string& name) {
    return add_node(op, std::move(inputs), std::move(attrs), name).at(0);
}

std::vector<Value> Graph::inputs() const {
    std::vector<Value> out;
    for (const Node& n : nodes_)
        if (n.kind() == NodeKind::Input) out.push_back(Value{const_cast<Graph*>(this), n.id, 0});
    return out;
}

std::vector<Value> Graph::parameters(bool trainable_only) const {
    std::vector<Value> out;
    for (const Node& n : nodes_)
        if (n.kind() == NodeKind::Parameter || (!trainable_only && n.kind() == NodeKind::State))
            out.push_back(Value{const_cast<Graph*>(this), n.id, 0});
    return out;
}

Value Graph::find(const std::string& node_name) const {
    auto it = by_name_.find(node_name);
    if (it == by_name_.end()) throw_graph("graph has no node named \"{}\"", node_name);
    return Value{const_cast<Graph*>(this), it->second, 0};
}

Graph& common_graph(const char* op, const std::vector<Value>& values) {
    Graph* g = nullptr;
    for (const Value& v : values) {
        if (!v.valid()) throw_graph("{}: an input is an empty Value", op);
        if (g && v.graph != g) throw_graph("{}: inputs belong to different graphs", op);
        g = v.graph;
    }
    if (!g) throw_graph("{}: no inputs", op);
    return *g;
}

}  // namespace gg
