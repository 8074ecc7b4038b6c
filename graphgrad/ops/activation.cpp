// Activations. relu and leaky_relu have kinks at 0 (samples stay away from it; the
// conventions there and at NaN are PyTorch 1.13's, tests/test_ops_conventions.cpp); gelu is
// the exact erf form by default (PyTorch's) or the tanh approximation (BERT, GPT-2), and its
// gradient is built from graph ops, so it is differentiable again. silu (x·σ(x)) and its
// backward are single ops with vectorised f32 kernels, as relu and relu_backward are: an
// EfficientNet applies it after nearly every convolution.
#include "graphgrad/ops/activation.h"

#include <cmath>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/kernels/elementwise_kernels.h"
#include "graphgrad/ops/internal/elementwise_rules.h"
#include "graphgrad/ops/internal/register_ops.h"

namespace gg {

namespace {

struct LeakyReluAttrs {
    double negative_slope = 0.01;
};
struct GeluAttrs {
    GeluApproximation approximate = GeluApproximation::None;
};

// gelu(x) = 0.5·x·(1 + tanh(kGeluScale·(x + kGeluCubic·x³)))
constexpr double kGeluScale = 0.7978845608028654;  // √(2/π)
constexpr double kGeluCubic = 0.044715;
// gelu(x) = x·Φ(x), Φ(x) = 0.5·(1 + erf(x·kSqrtHalf)), φ(x) = kInvSqrt2Pi·e^(−x²/2)
constexpr double kSqrtHalf = 0.7071067811865476;    // 1/√2
constexpr double kInvSqrt2Pi = 0.3989422804014327;  // 1/√(2π)

const char* approximation_name(GeluApproximation a) { return a == GeluApproximation::Tanh ? "tanh" : "none"; }

Value unary(const char* op, Value x, std::any attrs = {}) {
    return common_graph(op, {x}).add_node1(op_def(op), {x}, std::move(attrs));
}

}  // namespace

Value relu(Value x) { return unary("relu", x); }
Value leaky_relu(Value x, double negative_slope) { return unary("leaky_relu", x, LeakyReluAttrs{negative_slope}); }
Value gelu(Value x, GeluApproximation approximate) { return unary("gelu", x, GeluAttrs{approximate}); }
Value silu(Value x) { return unary("silu", x); }
Value silu_backward(Value dy, Value x) {
    return common_graph("silu_backward", {dy, x}).add_node1(op_def("silu_backward"), {dy, x});
}
Value relu_backward(Value dy, Value y) {
    return common_graph("relu_backward", {dy, y}).add_node1(op_def("relu_backward"), {dy, y});
}

void register_activation_ops(OpRegistry& r) {
    define_unary(r, "relu", "max(x, 0)", map_unary([](auto x) { return x > 0 || x != x ? x : decltype(x)(0); }),
                 Domain::AwayFromZero)
        .layout(LayoutUse::Elementwise)  // f(0) = 0: blocked padding stays zero
        // relu(NaN) = NaN (PyTorch's clamp_min); the gradient is PyTorch's threshold_backward
        // on the output, dy · [not y ≤ 0]: 0 at the kink, dy where y is NaN.
        .gradient([](GradContext& g) {  // dx = dy · [y > 0], from the output so x can die early
            return InputGrads{relu_backward(g.grad_output(0), g.output(0))};
        });

    // One fused op instead of greater + broadcast + mul: a third of the memory traffic, and
    // Elementwise, so blocked layouts flow through the backward pass as they do forward.
    r.define("relu_backward")
        .arity(2)
        .describe("dy · [not y ≤ 0]: relu's input gradient from its output y (emitted by relu's gradient)")
        .infer_shape(equal_shapes())
        .kernel(map_binary([](auto dy, auto y) { return y <= 0 ? decltype(dy)(0) : dy; }))
        .cost(elementwise_cost())
        .receptive_field([](const RuleContext&) {  // stated on y: where y ≤ 0, dy never shows
            SpatialReach r = SpatialReach::pointwise();
            r.input = 1;
            return std::optional(r);
        })
        .layout(LayoutUse::Elementwise)  // f(0, 0) = 0: blocked padding stays zero
        .inplace(0)
        .non_differentiable_inputs({1})  // piecewise constant in y
        .gradient([](GradContext& g) {  // linear in dy with the same mask
            return InputGrads{relu_backward(g.grad_output(0), g.input(1)), std::nullopt};
        })
        .samples(binary_samples(Domain::AllReals, Domain::AwayFromZero))
        .error_samples(binary_error_samples());

    define_unary(r, "leaky_relu", "x for x > 0, negative_slope·x below (attr negative_slope)",
                 map_unary_with([](const KernelContext& c) {
                     const double s = c.attrs_as<LeakyReluAttrs>().negative_slope;
                     return [s](auto x) { return x > 0 ? x : static_cast<decltype(x)>(s) * x; };
                 }),
                 Domain::AwayFromZero)
        .attributes<LeakyReluAttrs>()
        .layout(LayoutUse::Elementwise)  // f(0) = 0: blocked padding stays zero
        // As PyTorch: x = 0 and NaN take the negative side (dy·slope); leaky_relu(NaN) = NaN.
        .gradient([](GradContext& g) {  // dx = dy for x > 0, negative_slope·dy below
            Value dy = g.grad_output(0);
            return InputGrads{where(greater(g.input(0), 0.0), dy, dy * g.attrs<LeakyReluAttrs>().negative_slope)};
        })
        .samples([] {
            std::vector<OpSample> out;
            for (double slope : {0.01, 0.2, -0.5}) {
                for (OpSample s : unary_samples(Domain::AwayFromZero)()) {
                    s.label += fmt::format(" slope {}", slope);
                    s.attrs = LeakyReluAttrs{slope};
                    out.push_back(std::move(s));
                }
            }
            return out;
        })
        .error_samples([] {
            return std::vector<ErrorSample>{{"integer input", {TensorDesc{{3}, DType::I64}}, LeakyReluAttrs{}, "must be floating point"}};
        });

    // σ in its stable form (e^−|x| never overflows): silu(−1000) = −0 rather than −1000·0 from
    // an overflowed e^1000; silu(−inf) = NaN, as torch's x / (1 + e^−x) gives.
    define_unary(r, "silu", "x·σ(x) (SiLU, Swish-1)", map_unary([](auto x) {
                     using T = decltype(x);
                     const T e = std::exp(-std::abs(x));
                     const T s = T(1) / (T(1) + e);
                     return x * (x >= T(0) ? s : e * s);
                 }),
                 Domain::AllReals)
        .fast_kernel(map_unary_f32x8([](simd::f32x8 x) { return x * simd::sigmoid(x); }))  // libm's exp is scalar
        .layout(LayoutUse::Elementwise)  // f(0) = 0: blocked padding stays zero
        .gradient([](GradContext& g) {  // dx = dy · σ(x)·(1 + x·(1 − σ(x)))
            return InputGrads{silu_backward(g.grad_output(0), g.input(0))};
        });

    // One op instead of sigmoid + four elementwise nodes in every backward pass.
    r.define("silu_backward")
        .arity(2)
        .describe("dy · σ(x)·(1 + x·(1 − σ(x))): silu's input gradient (emitted by silu's gradient)")
        .infer_shape(equal_shapes())
        .kernel(map_binary([](auto dy, auto x) {
            using T = decltype(x);
            const T e = std::exp(-std::abs(x));
            const T s0 = T(1) / (T(1) + e);
            const T s = x >= T(0) ? s0 : e * s0;
            return dy * (s * (T(1) + x * (T(1) - s)));
        }))
        .fast_kernel(map_binary_f32x8([](simd::f32x8 dy, simd::f32x8 x) {
            const simd::f32x8 s = simd::sigmoid(x);
            return dy * (s * (1.0f + x * (1.0f - s)));
        }))
        .cost(elementwise_cost())
        .receptive_field(pointwise_reach())
        .layout(LayoutUse::Elementwise)  // f(0, 0) = 0: blocked padding stays zero
        .inplace(0)
        // linear in dy; in x: silu''(x) = σ(1 − σ)·(2 + x·(1 − 2σ))
        .gradient([](GradContext& g) {
            Value go = g.grad_output(0), dy = g.input(0), x = g.input(1);
            Value s = sigmoid(x);
            return InputGrads{silu_backward(go, x), go * dy * (s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s)))};
        })
        .samples(binary_samples(Domain::AllReals, Domain::AllReals))
        .error_samples(binary_error_samples());

    define_unary(r, "gelu", "x·Φ(x) = 0.5·x·(1 + erf(x/√2)); approximate tanh: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))",
                 map_unary_with([](const KernelContext& c) {
                     const bool tanh_form = c.attrs_as<GeluAttrs>().approximate == GeluApproximation::Tanh;
                     return [tanh_form](auto x) {
                         using T = decltype(x);
                         if (tanh_form) return T(0.5) * x * (T(1) + std::tanh(T(kGeluScale) * (x + T(kGeluCubic) * x * x * x)));
                         return T(0.5) * x * (T(1) + std::erf(x * T(kSqrtHalf)));
                     };
                 }),
                 Domain::AllReals)
        .attributes<GeluAttrs>()
        .layout(LayoutUse::Elementwise)  // f(0) = 0: blocked padding stays zero
        .gradient([](GradContext& g) {
            Value x = g.input(0), dy = g.grad_output(0);
            if (g.attrs<GeluAttrs>().approximate == GeluApproximation::None)  // dx = dy · (Φ(x) + x·φ(x))
                return InputGrads{dy * (0.5 * (1.0 + erf(kSqrtHalf * x)) + kInvSqrt2Pi * x * exp(-0.5 * (x * x)))};
            // dx = dy · (½(1 + t) + ½x(1 − t²)·c(1 + 3k·x²)), t = tanh(c(x + k·x³))
            Value x2 = x * x;
            Value t = tanh(kGeluScale * (x + kGeluCubic * (x2 * x)));
            Value dt = kGeluScale * (1.0 + (3.0 * kGeluCubic) * x2);
            return InputGrads{dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dt)};
        })
        .samples([] {
            std::vector<OpSample> out;
            for (GeluApproximation a : {GeluApproximation::None, GeluApproximation::Tanh}) {
                for (OpSample s : unary_samples(Domain::AllReals)()) {
                    s.label += fmt::format(" approximate {}", approximation_name(a));
                    s.attrs = GeluAttrs{a};
                    out.push_back(std::move(s));
                }
            }
            return out;
        })
        .error_samples([] {
            return std::vector<ErrorSample>{{"integer input", {TensorDesc{{3}, DType::I64}}, GeluAttrs{}, "must be floating point"}};
        });
}

}  // namespace gg
