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

void register_activation_grad_ops(OpRegistry& r) {
    r.define("sigmoid_backward")
        .arity(2)
        .describe("dy · y·(1 − y): sigmoid's input gradient from its output y (emitted by sigmoid's gradient)")
        .infer_shape(equal_shapes())
        .kernel(map_binary([](auto dy, auto y) {
            using T = decltype(y);
            return dy * (y * (T(1) - y));
        }))
        .fast_kernel(map_binary_f32x8([](simd::f32x8 dy, simd::f32x8 y) { return dy * (y * (1.0f - y)); }))
        .cost(elementwise_cost(3))
        .receptive_field(pointwise_reach())
        .layout(LayoutUse::Elementwise)  // f(0, y) = 0: blocked padding stays zero
        .inplace(0)
        // linear in dy; in y: d/dy [dy·(y − y²)] = dy·(1 − 2y)
        .gradient([](GradContext& g) {
            Value go = g.grad_output(0), dy = g.input(0), y = g.input(1);
            return InputGrads{sigmoid_backward(go, y), go * dy * (1.0 - 2.0 * y)};
        })
        .samples(binary_samples(Domain::AllReals, Domain::UnitInterval))
        .error_samples(binary_error_samples());

    r.define("tanh_backward")
        .arity(2)
        .describe("dy · (1 − y²): tanh's input gradient from its output y (emitted by tanh's gradient)")
        .infer_shape(equal_shapes())
        .kernel(map_binary([](auto dy, auto y) {
            using T = decltype(y);
            return dy * (T(1) - y * y);
        }))
        .fast_kernel(map_binary_f32x8([](simd::f32x8 dy, simd::f32x8 y) { return dy * (1.0f - y * y); }))
        .cost(elementwise_cost(3))
        .receptive_field(pointwise_reach())
        .layout(LayoutUse::Elementwise)  // f(0, y) = 0: blocked padding stays zero
        .inplace(0)
        // linear in dy; in y: d/dy [dy·(1 − y²)] = −2·dy·y
        .gradient([](GradContext& g) {
            Value go = g.grad_output(0), dy = g.input(0), y = g.input(1);
            return InputGrads{tanh_backward(go, y), -2.0 * (go * dy * y)};
        })
        .samples(binary_samples(Domain::AllReals, Domain::AllReals))
        .error_samples(binary_error_samples());
}

}  // namespace gg
