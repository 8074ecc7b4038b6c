#include "graphgrad/graph/op_def.h"

#include <algorithm>
#include <cstdlib>
#include <cxxabi.h>
#include <memory>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/graph/rng.h"

namespace gg {

GradContext::GradContext(Graph& graph, const Node& node, std::vector<std::optional<Value>> grad_outputs)
    : graph_(graph), node_(node), grad_outputs_(std::move(grad_outputs)) {}

std::size_t GradContext::num_inputs() const { return node_.inputs.size(); }

Value GradContext::input(std::size_t i) const { return node_.inputs.at(i); }

Value GradContext::output(std::size_t i) const {
    if (i >= node_.outputs.size()) throw_graph("{}: output {} does not exist", node_.op->name, i);
    return Value{&graph_, node_.id, static_cast<int32_t>(i)};
}

bool GradContext::has_grad_output(std::size_t i) const { return i < grad_outputs_.size() && grad_outputs_[i]; }

Value GradContext::grad_output(std::size_t i) {
    if (i >= node_.outputs.size()) throw_graph("{}: output {} does not exist", node_.op->name, i);
    if (!has_grad_output(i)) {
        if (grad_outputs_.size() <= i) grad_outputs_.resize(node_.outputs.size());
        grad_outputs_[i] = graph_.constant(Tensor::zeros(node_.outputs[i].shape, node_.outputs[i].dtype));
    }
    return *grad_outputs_[i];
}

InputGrad InputGrad::row_sparse(RowSparse part, std::function<Value(const RowSparse&)> densify) {
    if (!part.indices.valid() || !part.rows.valid() || !densify)
        throw_graph("a row-sparse gradient needs indices, rows and a densifier");
    InputGrad g;
    g.sparse_ = std::move(part);
    g.densify_ = std::move(densify);
    return g;
}

bool OpDef::input_differentiable(int i) const {
    return std::find(nondiff_inputs.begin(), nondiff_inputs.end(), i) == nondiff_inputs.end() && !is_workspace_input(i);
}

bool OpDef::is_workspace_output(int o) const {
    return std::find(workspace_outputs.begin(), workspace_outputs.end(), o) != workspace_outputs.end();
}

bool OpDef::is_workspace_input(int i) const {
    return std::find(workspace_inputs.begin(), workspace_inputs.end(), i) != workspace_inputs.end();
}

bool OpDef::overwrites_workspace(int i) const {
    return std::find(overwritten_workspaces.begin(), overwritten_workspaces.end(), i) != overwritten_workspaces.end();
}

namespace {

std::optional<int> find_role(const std::vector<std::pair<std::string, int>>& roles, std::string_view role) {
    for (const auto& [name, index] : roles)
        if (name == role) return index;
    return std::nullopt;
}

}  // namespace

std::optional<int> OpDef::input_with_role(std::string_view role) const { return find_role(input_roles, role); }
std::optional<int> OpDef::output_with_role(std::string_view role) const { return find_role(output_roles, role); }

std::unique_ptr<Kernel> OpDef::create_kernel(const KernelContext& ctx, bool reference_only, bool& fast) const {
    fast = false;
    if (!reference_only && fast_factory && reference_factory) {
        if (auto k = fast_factory(ctx)) {
            fast = true;
            return k;
        }
    }
    if (reference_factory) return reference_factory(ctx);
    // Only test ops lack a reference (stand-ins for layout-aware kernels; the generic tests
    // require one of every registered op).
    if (fast_factory) return fast_factory(ctx);
    throw_graph("compile: op {} (node \"{}\") has no kernel", name, ctx.node.name);
}

std::string type_name(std::type_index t) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> readable(abi::__cxa_demangle(t.name(), nullptr, nullptr, &status), std::free);
    return status == 0 && readable ? std::string(readable.get()) : std::string(t.name());
}

void check_attributes_type(const Node& n, const std::type_info& t) {
    if (n.op->attrs_type && *n.op->attrs_type == std::type_index(t) && n.attrs.type() == t) return;
    throw_graph("{} \"{}\": attributes are {}, not {}", n.op->name, n.name,
                n.op->attrs_type ? type_name(*n.op->attrs_type) : std::string("none"), type_name(t));
}

ShapeFn same_as_input(int i) {
    return [i](const InferContext& c) { return std::vector<TensorDesc>{c.input(static_cast<std::size_t>(i))}; };
}

Tensor make_sample_tensor(const SampleInput& in, DType as, uint64_t seed) {
    if (in.data) return is_floating(in.data->dtype()) ? in.data->cast(as) : in.data->clone();
    DType dtype = is_floating(in.desc.dtype) ? as : in.desc.dtype;
    Tensor t(TensorDesc{in.desc.shape, dtype});
    for (int64_t i = 0; i < t.numel(); ++i) {
        double u = uniform01(seed, 7, static_cast<uint64_t>(i));
        double v = 0;
        switch (in.domain) {
            case Domain::AllReals: v = -2.0 + 4.0 * u; break;
            case Domain::Positive: v = 0.5 + 1.5 * u; break;
            case Domain::AwayFromZero: {
                double mag = 0.3 + 1.7 * uniform01(seed, 8, static_cast<uint64_t>(i));
                v = u < 0.5 ? -mag : mag;
                break;
            }
            case Domain::UnitInterval: v = 0.1 + 0.8 * u; break;
        }
        t.set(i, v);
    }
    return t;
}

}  // namespace gg
