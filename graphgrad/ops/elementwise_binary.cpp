// Registered binary elementwise ops, where and the comparisons. They take equal shapes (the
// builders in elementwise.cpp broadcast first), so their gradients need no reduction: the
// broadcast_to nodes in front of them sum their gradients back (sum_to).
#include <cmath>

#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/kernels/elementwise_kernels.h"
#include "graphgrad/ops/internal/elementwise_rules.h"

namespace gg {

namespace {

OpDef& define_binary(OpRegistry& r, const char* name, const char* summary, KernelFactory kernel,
                     std::function<std::vector<OpSample>()> samples) {
    return r.define(name)
        .arity(2)
        .describe(summary)
        .infer_shape(equal_shapes())
        .kernel(std::move(kernel))
        .cost(elementwise_cost())
        .receptive_field(pointwise_reach())
        .samples(std::move(samples))
        .error_samples(binary_error_samples())
        .inplace(0);
}

// Output 1 where the predicate holds, else 0, in the inputs' dtype (f32, f64 or i64).
void define_comparison(OpRegistry& r, const char* name, const char* summary, KernelFactory kernel) {
    r.define(name)
        .arity(2)
        .describe(summary)
        .infer_shape(equal_shapes(true))
        .kernel(std::move(kernel))
        .cost(elementwise_cost())
        .receptive_field(pointwise_reach())
        .not_differentiable("piecewise constant: derivative is zero almost everywhere")
        .samples(distinct_pair_samples(true))
        .error_samples(binary_error_samples(true))
        .inplace(0);
}

// y = cond ? a : b, cond of any dtype (nonzero = true), a and b floating.
std::unique_ptr<Kernel> where_kernel(const KernelContext& c) {
    const int64_t n = c.output_elements(0);
    return dispatch_any(c.inputs[0].dtype, [&](auto ct) {
        using C = decltype(ct);
        return dispatch_float(c.outputs[0].dtype, [&](auto t) -> std::unique_ptr<Kernel> {
            using T = decltype(t);
            return make_kernel([n](const KernelArgs& a) {
                const C* cond = static_cast<const C*>(a.inputs[0]);
                const T* x = static_cast<const T*>(a.inputs[1]);
                const T* z = static_cast<const T*>(a.inputs[2]);
                T* y = static_cast<T*>(a.outputs[0]);
                parallel_range(n, [&](int64_t b, int64_t e) {
                    for (int64_t i = b; i < e; ++i) y[i] = cond[i] != C(0) ? x[i] : z[i];
                });
            });
        });
    });
}


}  // namespace

void register_binary_ops(OpRegistry& r) {
    define_binary(r, "add", "a + b (equal shapes; gg::add broadcasts)", map_binary([](auto a, auto b) { return a + b; }),
                  binary_samples(Domain::AllReals, Domain::AllReals))
        .layout(LayoutUse::Elementwise)  // f(0, 0) = 0: blocked padding stays zero
        .gradient_accumulator()          // grad() sums fan-out with it
        .gradient([](GradContext& g) {  // da = dy, db = dy
            Value dy = g.grad_output(0);
            return InputGrads{dy, dy};
        });

    define_binary(r, "sub", "a - b (equal shapes; gg::sub broadcasts)", map_binary([](auto a, auto b) { return a - b; }),
                  binary_samples(Domain::AllReals, Domain::AllReals))
        .layout(LayoutUse::Elementwise)  // f(0, 0) = 0: blocked padding stays zero
        .gradient([](GradContext& g) {  // da = dy, db = −dy
            Value dy = g.grad_output(0);
            return InputGrads{dy, -dy};
        });

    define_binary(r, "mul", "a * b (equal shapes; gg::mul broadcasts)", map_binary([](auto a, auto b) { return a * b; }),
                  binary_samples(Domain::AllReals, Domain::AllReals))
        .layout(LayoutUse::Elementwise)  // f(0, 0) = 0: blocked padding stays zero
        .gradient([](GradContext& g) {  // da = dy · b, db = dy · a
            Value dy = g.grad_output(0);
            return InputGrads{dy * g.input(1), dy * g.input(0)};
        });

    define_binary(r, "div", "a / b (equal shapes; gg::div broadcasts)", map_binary([](auto a, auto b) { return a / b; }),
                  binary_samples(Domain::AllReals, Domain::AwayFromZero))
        .gradient([](GradContext& g) {  // da = dy / b, db = −dy · a / b²
            Value da = g.grad_output(0) / g.input(1);
            return InputGrads{da, -(da * g.input(0) / g.input(1))};
        });

    // At a = 0 PyTorch 1.13 masks what the formulas make NaN or ±inf: da = 0 where b = 0
    // (0 · 0^−1), db = 0 where a = 0 and b ≥ 0 (0 · ln 0). Both masks are where() over the
    // full product, so a NaN dy still propagates elsewhere.
    define_binary(r, "pow", "a^b (equal shapes; real-valued for a > 0 or integral b)",
                  map_binary([](auto a, auto b) { return std::pow(a, b); }), binary_samples(Domain::Positive, Domain::AllReals))
        .gradient([](GradContext& g) {  // da = dy · b · a^(b−1), db = dy · y · ln a
            Value dy = g.grad_output(0), a = g.input(0), b = g.input(1), zero = scalar_like(dy, 0.0);
            Value da = where(equal(b, zero), zero, dy * (b * pow(a, b - 1.0)));
            Value base_zero = equal(a, zero) * greater_equal(b, zero);
            return InputGrads{da, dy * where(base_zero, zero, g.output(0) * log(a))};
        });

    // PyTorch 1.13: a NaN in either operand gives NaN; ties split the gradient in half
    // (d/da = d/db = dy/2, the mean of the one-sided derivatives); a NaN operand compares
    // neither less nor greater, so both sides get dy, as in PyTorch.
    define_binary(r, "maximum", "elementwise max(a, b), NaN if either is; ties split the gradient",
                  map_binary([](auto a, auto b) { return a != a ? a : (b != b || b > a) ? b : a; }),
                  distinct_pair_samples())
        .layout(LayoutUse::Elementwise)  // f(0, 0) = 0: blocked padding stays zero
        .gradient([](GradContext& g) {  // da = dy · ([a > b] + ½[a = b]), db = dy · ([a < b] + ½[a = b])
            Value a = g.input(0), b = g.input(1), zero = scalar_like(a, 0.0);
            Value shared = where(equal(a, b), 0.5 * g.grad_output(0), g.grad_output(0));
            return InputGrads{where(less(a, b), zero, shared), where(greater(a, b), zero, shared)};
        });

    define_binary(r, "minimum", "elementwise min(a, b), NaN if either is; ties split the gradient",
                  map_binary([](auto a, auto b) { return a != a ? a : (b != b || b < a) ? b : a; }),
                  distinct_pair_samples())
        .layout(LayoutUse::Elementwise)  // f(0, 0) = 0: blocked padding stays zero
        .gradient([](GradContext& g) {  // da = dy · ([a < b] + ½[a = b]), db = dy · ([a > b] + ½[a = b])
            Value a = g.input(0), b = g.input(1), zero = scalar_like(a, 0.0);
            Value shared = where(equal(a, b), 0.5 * g.grad_output(0), g.grad_output(0));
            return InputGrads{where(greater(a, b), zero, shared), where(less(a, b), zero, shared)};
        });

    r.define("where")
        .layout(LayoutUse::Elementwise)
        .arity(3)
        .describe("cond ? a : b elementwise; cond of any dtype, nonzero = true")
        .infer_shape([](const InferContext& c) {
            if (c.input(0).shape != c.input(1).shape)
                throw_shape("shapes differ: cond {} vs a {}", shape_str(c.input(0).shape), shape_str(c.input(1).shape));
            return equal_shapes()(InferContext{c.inputs.subspan(1), c.attrs, c.op_name});
        })
        .kernel(where_kernel)
        .cost(elementwise_cost())
        .receptive_field(pointwise_reach())
        .non_differentiable_inputs({0})
        .gradient([](GradContext& g) {  // da = dy where cond, db = dy elsewhere
            Value cond = g.input(0), dy = g.grad_output(0), zero = scalar_like(dy, 0.0);
            return InputGrads{std::nullopt, where(cond, dy, zero), where(cond, zero, dy)};
        })
        .samples([] {
            Tensor c23 = Tensor::from_vector<double>({1, 0, 0, 1, 1, 0}, {2, 3});
            Tensor c4 = Tensor::from_vector<int64_t>({0, 3, -1, 0}, {4});
            Tensor image = Tensor::from_vector<double>({1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0}, {1, 2, 2, 3});
            return std::vector<OpSample>{
                OpSample{"2x3 floating cond", {given(c23), floating({2, 3}), floating({2, 3})}, {}, true},
                OpSample{"i64 cond", {given(c4), floating({4}), floating({4})}, {}, true},
                OpSample{"image", {given(image), floating({1, 2, 2, 3}), floating({1, 2, 2, 3})}, {}, true},
            };
        })
        .error_samples([] {
            const TensorDesc f23{{2, 3}, DType::F32}, f32x{{3, 2}, DType::F32}, i23{{2, 3}, DType::I64};
            return std::vector<ErrorSample>{
                ErrorSample{"cond shape", {f32x, f23, f23}, {}, "shapes differ: cond [3,2] vs a [2,3]"},
                ErrorSample{"a, b shapes", {f23, f23, f32x}, {}, "shapes differ: [2,3] vs [3,2]"},
                ErrorSample{"integer values", {f23, i23, i23}, {}, "must be floating point"},
            };
        });
}

void register_comparison_ops(OpRegistry& r) {
    define_comparison(r, "equal", "1 where a == b, else 0", map_binary([](auto a, auto b) { return a == b; }, true));
    define_comparison(r, "not_equal", "1 where a != b, else 0", map_binary([](auto a, auto b) { return a != b; }, true));
    define_comparison(r, "less", "1 where a < b, else 0", map_binary([](auto a, auto b) { return a < b; }, true));
    define_comparison(r, "less_equal", "1 where a <= b, else 0", map_binary([](auto a, auto b) { return a <= b; }, true));
    define_comparison(r, "greater", "1 where a > b, else 0", map_binary([](auto a, auto b) { return a > b; }, true));
    define_comparison(r, "greater_equal", "1 where a >= b, else 0",
                      map_binary([](auto a, auto b) { return a >= b; }, true));
}

}  // namespace gg
