// Shape rules and sample sets shared by the elementwise and activation families.
#include "graphgrad/ops/internal/elementwise_rules.h"

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/op_registry.h"

namespace gg {

void require_floating(const TensorDesc& d, const char* what) {
    if (!is_floating(d.dtype)) throw_shape("{} must be floating point (f32 or f64), got {}", what, d);
}

ShapeFn unary_float_shape() {
    return [](const InferContext& c) {
        require_floating(c.input(0));
        return std::vector<TensorDesc>{c.input(0)};
    };
}

ShapeFn equal_shapes(bool any_dtype) {
    return [any_dtype](const InferContext& c) {
        const TensorDesc& first = c.input(0);
        for (std::size_t i = 1; i < c.inputs.size(); ++i) {
            const TensorDesc& d = c.input(i);
            if (d.shape != first.shape) throw_shape("shapes differ: {} vs {}", shape_str(first.shape), shape_str(d.shape));
            if (d.dtype != first.dtype) throw_shape("dtypes differ: {} vs {}", first.dtype, d.dtype);
        }
        if (!any_dtype) require_floating(first, "inputs");
        return std::vector<TensorDesc>{first};
    };
}

OpDef& define_unary(OpRegistry& r, const char* name, const char* summary, KernelFactory kernel, Domain d) {
    return r.define(name)
        .arity(1)
        .describe(summary)
        .infer_shape(unary_float_shape())
        .kernel(std::move(kernel))
        .cost(elementwise_cost())
        .receptive_field(pointwise_reach())
        .samples(unary_samples(d))
        .error_samples(unary_error_samples())
        .inplace(0);
}

namespace {

// Matrix, vector, scalar, a rank-3 shape with a size-1 axis and an [N, C, H, W] image (where
// the generic tests check the receptive field): tens of elements at most.
const std::vector<std::pair<const char*, Shape>>& sample_shapes() {
    static const std::vector<std::pair<const char*, Shape>> shapes = {
        {"2x3", {2, 3}}, {"5", {5}}, {"scalar", {}}, {"2x1x3", {2, 1, 3}}, {"1x2x3x3", {1, 2, 3, 3}}};
    return shapes;
}


SampleInput given(const std::vector<double>& v, const Shape& s) {
    return given(Tensor::from_vector<double>(v, s));
}

}  // namespace

std::function<std::vector<OpSample>()> unary_samples(Domain d) {
    return [d] {
        std::vector<OpSample> out;
        for (const auto& [label, shape] : sample_shapes()) out.push_back(OpSample{label, {floating(shape, d)}, {}, true});
        return out;
    };
}

std::function<std::vector<OpSample>()> binary_samples(Domain a, Domain b) {
    return [a, b] {
        std::vector<OpSample> out;
        for (const auto& [label, shape] : sample_shapes())
            out.push_back(OpSample{label, {floating(shape, a), floating(shape, b)}, {}, true});
        return out;
    };
}

std::function<std::vector<OpSample>()> distinct_pair_samples(bool with_ties) {
    return [with_ties] {
        std::vector<OpSample> out = {
            OpSample{"2x3", {given({-1.5, -0.4, 0.3, 1.2, 1.9, -0.8}, {2, 3}), given({-0.9, -1.1, 0.8, 0.5, 1.2, 0.1}, {2, 3})},
                     {}, true},
            OpSample{"scalar", {given({0.7}, {}), given({-0.2}, {})}, {}, true},
        };
        // An image: a − b alternates ±0.5 around a ramp, never a tie.
        std::vector<double> a(12), b(12);
        for (std::size_t i = 0; i < a.size(); ++i) {
            a[i] = -1.7 + 0.3 * static_cast<double>((5 * i) % 12);
            b[i] = a[i] + (i % 2 ? 0.5 : -0.5);
        }
        out.push_back(OpSample{"image", {given(a, {1, 2, 2, 3}), given(b, {1, 2, 2, 3})}, {}, true});
        if (with_ties)
            out.push_back(OpSample{"ties", {given({1.0, -2.0, 0.5, 3.0}, {4}), given({1.0, -1.0, 0.5, 2.0}, {4})}, {}, true});
        return out;
    };
}

std::function<std::vector<ErrorSample>()> unary_error_samples() {
    return [] {
        return std::vector<ErrorSample>{
            ErrorSample{"integer input", {TensorDesc{{3}, DType::I64}}, {}, "must be floating point"}};
    };
}

std::function<std::vector<ErrorSample>()> binary_error_samples(bool any_dtype) {
    return [any_dtype] {
        std::vector<ErrorSample> out = {
            ErrorSample{"shapes differ", {TensorDesc{{2, 3}, DType::F32}, TensorDesc{{3, 2}, DType::F32}}, {},
                        "shapes differ: [2,3] vs [3,2]"},
            ErrorSample{"dtypes differ", {TensorDesc{{4}, DType::F32}, TensorDesc{{4}, DType::F64}}, {},
                        "dtypes differ: f32 vs f64"},
        };
        if (!any_dtype)
            out.push_back(ErrorSample{"integer inputs", {TensorDesc{{4}, DType::I64}, TensorDesc{{4}, DType::I64}}, {},
                                      "must be floating point"});
        return out;
    };
}

}  // namespace gg
