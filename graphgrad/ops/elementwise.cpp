// Elementwise math: the user-facing builders and operators (which broadcast first, so the
// registered ops only ever see equal shapes) and the unary ops. Binary ops, where and the
// comparisons are registered in elementwise_binary.cpp.
#include "graphgrad/ops/elementwise.h"

#include <cmath>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/broadcast.h"
#include "graphgrad/ops/kernels/elementwise_kernels.h"
#include "graphgrad/ops/internal/elementwise_rules.h"
#include "graphgrad/ops/internal/register_ops.h"

namespace gg {

namespace {

Value unary(const char* op, Value x) { return common_graph(op, {x}).add_node1(op_def(op), {x}); }

// Broadcasts the inputs to their common shape (no node for an input already of that shape),
// then adds the equal-shape op. Incompatible shapes are reported against the op.
Value broadcasting(const char* op, std::vector<Value> xs) {
    Graph& g = common_graph(op, xs);
    Shape shape = xs[0].shape();
    try {
        for (std::size_t i = 1; i < xs.size(); ++i) shape = broadcast_shapes(shape, xs[i].shape());
    } catch (const ShapeError& e) {
        std::vector<std::string> descs;
        for (const Value& x : xs) descs.push_back(desc_str(x.desc()));
        throw_graph("{}: {} (inputs {})", op, e.what(), fmt::join(descs, ", "));
    }
    for (Value& x : xs) x = broadcast_to(x, shape);
    return g.add_node1(op_def(op), std::move(xs));
}

}  // namespace

Value neg(Value x) { return unary("neg", x); }
Value exp(Value x) { return unary("exp", x); }
Value log(Value x) { return unary("log", x); }
Value sqrt(Value x) { return unary("sqrt", x); }
Value abs(Value x) { return unary("abs", x); }
Value tanh(Value x) { return unary("tanh", x); }
Value sigmoid(Value x) { return unary("sigmoid", x); }
Value erf(Value x) { return unary("erf", x); }
Value log_sigmoid(Value x) { return unary("log_sigmoid", x); }

Value add(Value a, Value b) { return broadcasting("add", {a, b}); }
Value sub(Value a, Value b) { return broadcasting("sub", {a, b}); }
Value mul(Value a, Value b) { return broadcasting("mul", {a, b}); }
Value div(Value a, Value b) { return broadcasting("div", {a, b}); }
Value pow(Value a, Value b) { return broadcasting("pow", {a, b}); }
Value pow(Value a, double exponent) { return pow(a, scalar_like(a, exponent)); }
Value maximum(Value a, Value b) { return broadcasting("maximum", {a, b}); }
Value minimum(Value a, Value b) { return broadcasting("minimum", {a, b}); }
Value where(Value cond, Value a, Value b) { return broadcasting("where", {cond, a, b}); }

Value equal(Value a, Value b) { return broadcasting("equal", {a, b}); }
Value not_equal(Value a, Value b) { return broadcasting("not_equal", {a, b}); }
Value less(Value a, Value b) { return broadcasting("less", {a, b}); }
Value less_equal(Value a, Value b) { return broadcasting("less_equal", {a, b}); }
Value greater(Value a, Value b) { return broadcasting("greater", {a, b}); }
Value greater_equal(Value a, Value b) { return broadcasting("greater_equal", {a, b}); }
Value greater(Value a, double b) { return greater(a, scalar_like(a, b)); }
Value less(Value a, double b) { return less(a, scalar_like(a, b)); }

Value scalar_like(Value x, double v) { return common_graph("scalar_like", {x}).scalar(v, x.dtype()); }

Value operator-(Value x) { return neg(x); }
Value operator+(Value a, Value b) { return add(a, b); }
Value operator-(Value a, Value b) { return sub(a, b); }
Value operator*(Value a, Value b) { return mul(a, b); }
Value operator/(Value a, Value b) { return div(a, b); }
Value operator+(Value a, double b) { return add(a, scalar_like(a, b)); }
Value operator-(Value a, double b) { return sub(a, scalar_like(a, b)); }
Value operator*(Value a, double b) { return mul(a, scalar_like(a, b)); }
Value operator/(Value a, double b) { return div(a, scalar_like(a, b)); }
Value operator+(double a, Value b) { return add(scalar_like(b, a), b); }
Value operator-(double a, Value b) { return sub(scalar_like(b, a), b); }
Value operator*(double a, Value b) { return mul(scalar_like(b, a), b); }
Value operator/(double a, Value b) { return div(scalar_like(b, a), b); }

void register_elementwise_ops(OpRegistry& r) {
    define_unary(r, "neg", "-x", map_unary([](auto x) { return -x; }), Domain::AllReals)
        .layout(LayoutUse::Elementwise)  // f(0) = 0: blocked padding stays zero
        .gradient([](GradContext& g) {  // dx = −dy
            return InputGrads{-g.grad_output(0)};
        });

    define_unary(r, "exp", "e^x", map_unary([](auto x) { return std::exp(x); }), Domain::AllReals)
        .gradient([](GradContext& g) {  // dx = dy · y
            return InputGrads{g.grad_output(0) * g.output(0)};
        });

    define_unary(r, "log", "natural logarithm", map_unary([](auto x) { return std::log(x); }), Domain::Positive)
        .gradient([](GradContext& g) {  // dx = dy / x
            return InputGrads{g.grad_output(0) / g.input(0)};
        });

    define_unary(r, "sqrt", "square root", map_unary([](auto x) { return std::sqrt(x); }), Domain::Positive)
        .gradient([](GradContext& g) {  // dx = dy / (2·y)
            return InputGrads{g.grad_output(0) / (2.0 * g.output(0))};
        });

    define_unary(r, "abs", "|x|", map_unary([](auto x) { return std::abs(x); }), Domain::AwayFromZero)
        .layout(LayoutUse::Elementwise)  // f(0) = 0: blocked padding stays zero
        // sign(x) = [x > 0] − [x < 0], as PyTorch 1.13 computes it: sign(±0) = 0, so the
        // kink gets the zero subgradient, and sign(NaN) = 0 too (torch.sign(nan) is 0).
        .gradient([](GradContext& g) {  // dx = dy · sign(x)
            Value x = g.input(0);
            return InputGrads{g.grad_output(0) * (greater(x, 0.0) - less(x, 0.0))};
        });

    define_unary(r, "tanh", "hyperbolic tangent", map_unary([](auto x) { return std::tanh(x); }), Domain::AllReals)
        .fast_kernel(map_unary_f32x8([](simd::f32x8 x) { return simd::tanh(x); }))  // libm's is scalar
        .layout(LayoutUse::Elementwise)  // f(0) = 0: blocked padding stays zero
        .gradient([](GradContext& g) {  // dx = dy · (1 − y²)
            return InputGrads{tanh_backward(g.grad_output(0), g.output(0))};
        });

    // 1/(1+e^−x) for x ≥ 0 and e^x/(1+e^x) below: e^−|x| never overflows, so ±1000 is exact.
    define_unary(r, "sigmoid", "logistic function 1/(1+e^-x), stable for large |x|", map_unary([](auto x) {
                     using T = decltype(x);
                     const T e = std::exp(-std::abs(x));
                     const T s = T(1) / (T(1) + e);
                     return x >= T(0) ? s : e * s;
                 }),
                 Domain::AllReals)
        .fast_kernel(map_unary_f32x8([](simd::f32x8 x) { return simd::sigmoid(x); }))
        .gradient([](GradContext& g) {  // dx = dy · y · (1 − y)
            return InputGrads{sigmoid_backward(g.grad_output(0), g.output(0))};
        });

    define_unary(r, "erf", "error function 2/√π ∫₀ˣ e^(−t²) dt", map_unary([](auto x) { return std::erf(x); }),
                 Domain::AllReals)
        .layout(LayoutUse::Elementwise)  // f(0) = 0: blocked padding stays zero
        .gradient([](GradContext& g) {  // dx = dy · 2/√π · e^(−x²)
            Value x = g.input(0);
            return InputGrads{g.grad_output(0) * (M_2_SQRTPI * exp(-(x * x)))};
        });

    // min(x, 0) − log1p(e^−|x|): no overflow for any x, and log σ(x) ≈ x far below 0 where
    // log(sigmoid(x)) would give log(0) = −inf (word2vec's negative-sampling loss).
    define_unary(r, "log_sigmoid", "log σ(x) = −softplus(−x), stable for large |x|", map_unary([](auto x) {
                     using T = decltype(x);
                     return std::min(x, T(0)) - std::log1p(std::exp(-std::abs(x)));
                 }),
                 Domain::AllReals)
        .gradient([](GradContext& g) {  // dx = dy · σ(−x)
            return InputGrads{g.grad_output(0) * sigmoid(-g.input(0))};
        });

    register_binary_ops(r);
    register_comparison_ops(r);
}

}  // namespace gg
