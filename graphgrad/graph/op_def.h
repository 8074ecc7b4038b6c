// OpDef: everything about one op in one place (ARCHITECTURE.md §3): name, arity, attribute
// type, shape rule, kernels, gradient rule (or the reason there is none), cost and receptive
// field (graph/op_rules.h), roles of inputs and outputs, samples and error samples.
//
//   registry.define("tanh")
//       .arity(1)
//       .infer_shape(same_as_input(0))
//       .kernel(...)                              // plain loops: the op's meaning
//       .cost(elementwise_cost())
//       .receptive_field(pointwise_reach())
//       .gradient([](gg::GradContext& g) {      // dx = dy · (1 − y²)
//           gg::Value y = g.output(0);
//           return gg::InputGrads{g.grad_output(0) * (1.0 - y * y)};
//       })
//       .samples(...);
#pragma once

#include <any>
#include <functional>
#include <optional>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include "graphgrad/graph/gradient.h"
#include "graphgrad/graph/kernel.h"
#include "graphgrad/graph/node.h"
#include "graphgrad/graph/op_rules.h"
#include "graphgrad/graph/tensor.h"

namespace gg {

// ---- shape rules ------------------------------------------------------------------------
struct InferContext {
    std::span<const TensorDesc> inputs;
    const std::any& attrs;
    const char* op_name;

    const TensorDesc& input(std::size_t i) const { return inputs[i]; }
    template <typename T>
    const T& attrs_as() const { return gg::attrs_as<T>(attrs, op_name); }
};
using ShapeFn = std::function<std::vector<TensorDesc>(const InferContext&)>;

// ---- gradient rules ---------------------------------------------------------------------
// One input's gradient from a rule: none, dense (the input's desc) or row-sparse. Converts from
// Value and std::optional<Value>, so rules write `InputGrads{dx, std::nullopt}`.
class InputGrad {
public:
    InputGrad() = default;
    InputGrad(std::nullopt_t) {}
    InputGrad(Value dense) : dense_(dense) {}
    InputGrad(std::optional<Value> dense) : dense_(std::move(dense)) {}
    // `densify` builds the same gradient as a dense value of the input's shape; grad() calls it
    // where a dense gradient is needed (a consumer's rule, a dense contribution to add to).
    static InputGrad row_sparse(RowSparse part, std::function<Value(const RowSparse&)> densify);

    explicit operator bool() const { return dense_.has_value() || sparse_.has_value(); }
    bool is_sparse() const { return sparse_.has_value(); }
    const Value& operator*() const { return *dense_; }  // the dense gradient
    const Value* operator->() const { return &*dense_; }
    const RowSparse& sparse() const { return *sparse_; }
    Value densify() const { return densify_(*sparse_); }
    const std::function<Value(const RowSparse&)>& densifier() const { return densify_; }

private:
    std::optional<Value> dense_;
    std::optional<RowSparse> sparse_;
    std::function<Value(const RowSparse&)> densify_;
};
using InputGrads = std::vector<InputGrad>;

class GradContext {
public:
    GradContext(Graph& graph, const Node& node, std::vector<std::optional<Value>> grad_outputs);

    Graph& graph() const { return graph_; }
    const Node& node() const { return node_; }
    std::size_t num_inputs() const;
    Value input(std::size_t i) const;
    Value output(std::size_t i = 0) const;
    bool has_grad_output(std::size_t i) const;
    // The incoming gradient of output i; zeros when nothing downstream used that output.
    Value grad_output(std::size_t i = 0);
    // Whether grad() uses input i's gradient (the input depends on a value being
    // differentiated, is floating and differentiable): a rule may skip building the others,
    // so that a frozen prefix of a network gets no backward node (PyTorch's needs_input_grad).
    bool needs_input_grad(std::size_t i) const { return needs_.empty() || (i < needs_.size() && needs_[i]); }
    void set_needs_input_grad(std::vector<char> needs) { needs_ = std::move(needs); }
    template <typename T>
    const T& attrs() const;

private:
    Graph& graph_;
    const Node& node_;
    std::vector<std::optional<Value>> grad_outputs_;
    std::vector<char> needs_;  // empty: every input (contexts made outside grad())
};
using GradFn = std::function<InputGrads(GradContext&)>;
// Sums partial gradients that nodes of this op made (output 0 of each, one desc) as one node,
// or returns nullopt when these nodes do not fold. grad() offers it runs of such partials of
// one value: a recurrent matmul's T per-step weight gradients Σ_t dZ_tᵀ·H_t become chunks of
// one GEMM each (graph/autodiff.cpp).
using FoldSumFn = std::function<std::optional<Value>(Graph&, const std::vector<Value>& parts)>;

// ---- samples (drive the generic tests and gradcheck) --------------------------------------
// Where generated sample data lives: keep away from poles, branch cuts and kinks.
enum class Domain {
    AllReals,      // uniform in [-2, 2]
    Positive,      // uniform in [0.5, 2]
    AwayFromZero,  // |x| in [0.3, 2], random sign (abs, relu kinks)
    UnitInterval,  // uniform in [0.1, 0.9]
};

struct SampleInput {
    TensorDesc desc;                 // F64 means "floating": tests run it in f32 and f64
    Domain domain = Domain::AllReals;
    std::optional<Tensor> data;      // explicit values (indices, labels, distinct maxima)
};

// A floating sample input of this shape, drawn from `domain`.
inline SampleInput floating(Shape shape, Domain domain = Domain::AllReals) {
    return SampleInput{TensorDesc{std::move(shape), DType::F64}, domain, std::nullopt};
}
// A sample input with these exact values (its dtype is the tensor's).
inline SampleInput given(Tensor values) {
    TensorDesc d = values.desc();
    return SampleInput{std::move(d), Domain::AllReals, std::move(values)};
}

// Inputs a sample cannot give as data (a workspace, and the outputs its writer computed
// along with it): a node of op `op` over some of the sample's inputs, run with the same kind
// of kernel (fast or reference) as the op under test, whose outputs feed it. The sample lists
// every input of the op under test; the produced ones are placeholders with their descs.
struct SampleProducer {
    std::string op;
    std::any attrs;
    std::vector<int> inputs;                 // sample inputs feeding the producer, in order
    std::vector<std::pair<int, int>> feeds;  // (producer output, input of the op under test)
};

struct OpSample {
    std::string label;
    std::vector<SampleInput> inputs;
    std::any attrs;
    bool second_order = true;        // also check gradients of the gradient
    std::optional<SampleProducer> producer = std::nullopt;
};

struct ErrorSample {
    std::string label;
    std::vector<TensorDesc> inputs;
    std::any attrs;
    std::string expected;            // substring the error message must contain
};

// Generates a sample's input tensor in dtype `as` (only for floating descs), seeded.
Tensor make_sample_tensor(const SampleInput& in, DType as, uint64_t seed);

// ---- the definition --------------------------------------------------------------------
enum class WorkspaceUse { Reads, Overwrites };

struct OpDef {
    std::string name;
    int min_arity = 0, max_arity = 0;  // max_arity -1: variadic
    std::optional<std::type_index> attrs_type;  // what Node::attrs holds; unset: no attributes
    ShapeFn infer;
    // compile() runs the fast kernel when there is one and it accepts the node (it returns
    // nullptr for a dtype it cannot run, e.g. f64 on oneDNN), else the reference.
    KernelFactory fast_factory;       // e.g. oneDNN; always comes with a reference
    KernelFactory reference_factory;  // plain loops, f32 and f64: the op's meaning
    GradFn grad_rule;
    FoldSumFn fold_sum_rule;         // unset: grad() adds this op's partials one by one
    std::string no_grad_reason;      // set by not_differentiable()
    std::vector<int> nondiff_inputs;
    CostFn cost_rule;
    ReachFn reach_rule;              // unset: outputs are no function of one grid's positions
    std::vector<std::pair<std::string, int>> input_roles, output_roles;
    std::function<std::vector<OpSample>()> make_samples;
    std::function<std::vector<ErrorSample>()> make_error_samples;
    int inplace_input = -1;          // output 0 may reuse this input's buffer
    std::vector<int> state_inputs;   // inputs the kernel updates in place (must be graph.state())
    bool recomputable_state = false; // its kernel skips the state update when KernelContext::recompute
    LayoutUse layout_use = LayoutUse::Plain;  // see graph/layout.h
    std::vector<int> workspace_outputs, workspace_inputs;  // see graph/workspace.h
    std::vector<int> overwritten_workspaces;               // workspace inputs the kernels write
    bool is_source = false;          // input / parameter / constant: no kernel
    bool is_gradient_accumulator = false;  // grad() sums partial gradients with this op
    std::string summary;             // one line for `graphgrad ops`

    bool differentiable() const { return static_cast<bool>(grad_rule); }
    bool has_fast_kernel() const { return static_cast<bool>(fast_factory); }
    bool input_differentiable(int i) const;
    bool is_workspace_output(int o) const;
    bool is_workspace_input(int i) const;
    bool overwrites_workspace(int i) const;
    std::optional<int> input_with_role(std::string_view role) const;
    std::optional<int> output_with_role(std::string_view role) const;
    // One kernel for this node outside compile() (kernel tests): the fast factory when asked
    // and it accepts, else the reference; `fast` tells which. compile()'s lower pass makes the
    // same choice while negotiating layouts.
    std::unique_ptr<Kernel> create_kernel(const KernelContext& ctx, bool reference_only, bool& fast) const;

    // Chained setters used by registrations.
    OpDef& arity(int n) { min_arity = max_arity = n; return *this; }
    OpDef& arity(int lo, int hi) { min_arity = lo; max_arity = hi; return *this; }
    OpDef& describe(std::string s) { summary = std::move(s); return *this; }
    // Nodes of this op hold a T (Graph::add_node checks); read it with node_attributes<T>().
    template <typename T>
    OpDef& attributes() { attrs_type = std::type_index(typeid(T)); return *this; }
    OpDef& infer_shape(ShapeFn f) { infer = std::move(f); return *this; }
    // The op's only kernel: plain loops, which are also its meaning (the reference).
    OpDef& kernel(KernelFactory f) { reference_factory = std::move(f); return *this; }
    // A fast kernel (oneDNN, vectorised loops); give .reference() plain loops with it.
    OpDef& fast_kernel(KernelFactory f) { fast_factory = std::move(f); return *this; }
    OpDef& reference(KernelFactory f) { reference_factory = std::move(f); return *this; }
    OpDef& gradient(GradFn f) { grad_rule = std::move(f); return *this; }
    OpDef& not_differentiable(std::string why) { no_grad_reason = std::move(why); return *this; }
    OpDef& non_differentiable_inputs(std::vector<int> idx) { nondiff_inputs = std::move(idx); return *this; }
    OpDef& cost(CostFn f) { cost_rule = std::move(f); return *this; }
    OpDef& receptive_field(ReachFn f) { reach_rule = std::move(f); return *this; }
    // Names other code finds inputs and outputs by (graph/op_rules.h, gg::roles).
    OpDef& input_role(std::string_view role, int index) { input_roles.emplace_back(role, index); return *this; }
    OpDef& output_role(std::string_view role, int index) { output_roles.emplace_back(role, index); return *this; }
    // This op adds two values of one desc; grad() sums fan-out with it (graph/ names no op).
    OpDef& gradient_accumulator() { is_gradient_accumulator = true; return *this; }
    OpDef& fold_sum(FoldSumFn f) { fold_sum_rule = std::move(f); return *this; }
    OpDef& samples(std::function<std::vector<OpSample>()> f) { make_samples = std::move(f); return *this; }
    OpDef& error_samples(std::function<std::vector<ErrorSample>()> f) { make_error_samples = std::move(f); return *this; }
    OpDef& inplace(int input = 0) { inplace_input = input; return *this; }
    OpDef& layout(LayoutUse use) { layout_use = use; return *this; }
    // The kernel writes these inputs in place (e.g. batch-norm running statistics). They
    // must be persistent state (Graph::state) or fed inputs, which live outside the arena;
    // declare them non-differentiable too.
    OpDef& updates_state(std::vector<int> inputs) { state_inputs = std::move(inputs); return *this; }
    // Its kernel, made with KernelContext::recompute, writes the same outputs and leaves the
    // state alone, so the node may be recomputed (checkpointing, memory budgets).
    OpDef& recompute_without_state_update() { recomputable_state = true; return *this; }
    // Output o / input i is a workspace: kernel-sized bytes from a forward to its backward
    // node (graph/workspace.h). A workspace input is also non-differentiable. Overwrites: the
    // kernels write into it (oneDNN's RNN backward does), so no other node may read it.
    OpDef& workspace_output(int o) { workspace_outputs.push_back(o); return *this; }
    OpDef& workspace_input(int i, WorkspaceUse use = WorkspaceUse::Reads) {
        workspace_inputs.push_back(i);
        if (use == WorkspaceUse::Overwrites) overwritten_workspaces.push_back(i);
        return *this;
    }
};

// A readable name of a C++ type ("gg::Conv2dOptions"), for messages.
std::string type_name(std::type_index t);

template <typename T>
const T& GradContext::attrs() const {
    return gg::attrs_as<T>(node_.attrs, node_.op->name.c_str());
}

template <typename T>
const T& KernelContext::attrs_as() const {
    return gg::attrs_as<T>(attrs, node.op->name.c_str());
}

// Common shape rules.
ShapeFn same_as_input(int i);

}  // namespace gg
