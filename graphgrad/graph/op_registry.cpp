#include "graphgrad/graph/op_registry.h"

#include "graphgrad/graph/errors.h"

namespace gg {

OpRegistry::OpRegistry() {
    // Source ops: values that come from outside the arena (feeds, the store, the node itself).
    auto source = [this](const char* name, const char* what) {
        OpDef& d = define(name);
        d.is_source = true;
        d.summary = what;
        d.not_differentiable("a leaf: gradients stop here and are returned by grad()");
        d.infer = [name](const InferContext&) -> std::vector<TensorDesc> {
            throw ShapeError(std::string(name) + " nodes are made by Graph, not add_node");
        };
    };
    source("input", "a value fed at run time");
    source("parameter", "a trainable parameter or persistent state held in the ParameterStore");
    source("constant", "a tensor held by the node");
}

OpDef& OpRegistry::define(std::string name) {
    if (by_name_.count(name)) throw_graph("op \"{}\" is registered twice", name);
    defs_.emplace_back();
    OpDef& d = defs_.back();
    d.name = name;
    by_name_[std::move(name)] = &d;
    return d;
}

const OpDef* OpRegistry::find(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? nullptr : it->second;
}

const OpDef& OpRegistry::get(std::string_view name) const {
    if (const OpDef* d = find(name)) return *d;
    throw_graph("op \"{}\" is not registered (did register_all_ops() run?)", name);
}

std::vector<const OpDef*> OpRegistry::all() const {
    std::vector<const OpDef*> out;
    for (const OpDef& d : defs_) out.push_back(&d);
    return out;
}

const OpDef& OpRegistry::gradient_accumulator() const {
    const OpDef* found = nullptr;
    for (const OpDef& d : defs_) {
        if (!d.is_gradient_accumulator) continue;
        if (found) throw_graph("ops {} and {} both declare gradient_accumulator()", found->name, d.name);
        found = &d;
    }
    if (!found) throw_graph("no op declares gradient_accumulator() (did register_all_ops() run?)");
    return *found;
}

OpRegistry& op_registry() {
    static OpRegistry registry;
    return registry;
}

}  // namespace gg
