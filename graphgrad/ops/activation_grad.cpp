// The input gradients of sigmoid and tanh from their outputs as one op each (PyTorch's
// sigmoid_backward and tanh_backward): composed, dy·y·(1 − y) is a broadcast constant, a
// subtraction and two products — four steps and three temporaries per activation in every
// backward pass; an LSTM step has five such activations, 5,000 of them over 1,000 steps.
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/kernels/elementwise_kernels.h"
#include "graphgrad/ops/internal/elementwise_rules.h"
#include "graphgrad/ops/internal/register_ops.h"

namespace gg {

Value sigmoid_backward(Value dy, Value y) {
    return common_graph("sigmoid_backward", {dy, y}).add_node1(op_def("sigmoid_backward"), {dy, y});
}

Value tanh_backward(Value dy, Value y) {
    return common_graph("tanh_backward", {dy, y}).add_node1(op_def("tanh_backward"), {dy, y});
}

namespace {

// dy · f'(y) for an activation whose derivative is a function of its output y: elementwise,
// in place of a dying dy, zero where dy is (so blocked padding stays zero).
template <typename Scalar, typename Vector>
OpDef& define_output_gradient(OpRegistry& r, const char* name, const char* summary, Scalar f, Vector v, Domain y_domain) {
    return r.define(name)
        .arity(2)
        .describe(summary)
        .infer_shape(equal_shapes())
        .kernel(map_binary(f))
        .fast_kernel(map_binary_f32x8(v))
        .cost(elementwise_cost(3))
        .receptive_field(pointwise_reach())
        .layout(LayoutUse::Elementwise)
        .inplace(0)
        .samples(binary_samples(Domain::AllReals, y_domain))
        .error_samples(binary_error_samples());
}

}  // namespace

void register_activation_grad_ops(OpRegistry& r) {
    define_output_gradient(
        r, "sigmoid_backward", "dy · y·(1 − y): sigmoid's input gradient from its output y (emitted by sigmoid's gradient)",
        [](auto dy, auto y) { return dy * (y * (decltype(y)(1) - y)); },
        [](simd::f32x8 dy, simd::f32x8 y) { return dy * (y * (1.0f - y)); }, Domain::UnitInterval)
        // linear in dy; in y: d/dy [dy·(y − y²)] = dy·(1 − 2y)
        .gradient([](GradContext& g) {
            Value go = g.grad_output(0), dy = g.input(0), y = g.input(1);
            return InputGrads{sigmoid_backward(go, y), go * dy * (1.0 - 2.0 * y)};
        });

    define_output_gradient(
        r, "tanh_backward", "dy · (1 − y²): tanh's input gradient from its output y (emitted by tanh's gradient)",
        [](auto dy, auto y) { return dy * (decltype(y)(1) - y * y); },
        [](simd::f32x8 dy, simd::f32x8 y) { return dy * (1.0f - y * y); }, Domain::AllReals)
        // linear in dy; in y: d/dy [dy·(1 − y²)] = −2·dy·y
        .gradient([](GradContext& g) {
            Value go = g.grad_output(0), dy = g.input(0), y = g.input(1);
            return InputGrads{tanh_backward(go, y), -2.0 * (go * dy * y)};
        });
}

}  // namespace gg
