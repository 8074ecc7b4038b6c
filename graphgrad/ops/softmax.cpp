#include "graphgrad/ops/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/kernels/fast_exp.h"
#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/ops/reduction.h"
#include "graphgrad/ops/internal/register_ops.h"

namespace gg {

namespace {

// Node attributes of "softmax" and "log_softmax". Builders store the axis normalised; the
// shape rule and kernels normalise again so hand-made attrs (samples) may use negative axes.
struct SoftmaxAttrs {
    int64_t axis = -1;
};

Value softmax_node(const char* op, Value x, int64_t axis) {
    Graph& g = common_graph(op, {x});
    // Out-of-range axes go through unchanged so the shape rule reports them with op and node.
    if (axis < 0 && axis >= -x.rank()) axis += x.rank();
    return g.add_node1(op_def(op), {x}, SoftmaxAttrs{axis});
}

std::vector<TensorDesc> infer_softmax(const InferContext& c) {
    const TensorDesc& x = c.input(0);
    if (!is_floating(x.dtype)) throw_shape("input must be floating point, got {}", desc_str(x));
    normalize_axis(c.attrs_as<SoftmaxAttrs>().axis, x.rank());  // throws naming axis and rank
    return {x};
}

// The tensor seen as [outer, n, inner] with the softmax axis in the middle.
struct AxisView {
    int64_t outer = 1, n = 1, inner = 1;
};

AxisView axis_view(const Shape& s, int64_t axis_attr) {
    const int axis = normalize_axis(axis_attr, static_cast<int>(s.size()));
    AxisView v;
    for (int i = 0; i < static_cast<int>(s.size()); ++i) {
        const int64_t d = s[static_cast<std::size_t>(i)];
        if (i < axis) v.outer *= d;
        else if (i == axis) v.n = d;
        else v.inner *= d;
    }
    return v;
}

// Columns of the strided case processed together: wide enough for contiguous, vectorisable
// inner loops, small enough for the per-column max and sum to live on the stack.
constexpr int64_t kColumnBlock = 64;

// Every element is read before it is written at the same index, so y may alias x (inplace).
template <typename T, bool Log>
void softmax_contiguous_row(const T* x, T* y, int64_t n) {
    const T m = row_max(x, n);
    if constexpr (Log) {
        // (x − m) − log s, not x − (m + log s): the latter rounds log s away at |x| ≫ 1.
        const T log_s = std::log(exp_shifted(x, m, static_cast<T*>(nullptr), n));
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) - log_s;
    } else {
        const T inv = T(1) / exp_shifted(x, m, y, n);
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) y[i] *= inv;
    }
}

// Columns [j0, j0 + w) of one outer slice; the axis is strided by `inner`.
template <typename T, bool Log>
void softmax_column_block(const T* x, T* y, int64_t n, int64_t inner, int64_t w) {
    T m[kColumnBlock], s[kColumnBlock];
    for (int64_t j = 0; j < w; ++j) m[j] = x[j];
    for (int64_t a = 1; a < n; ++a) {
        const T* row = x + a * inner;
#pragma omp simd
        for (int64_t j = 0; j < w; ++j) m[j] = std::max(m[j], row[j]);
    }
    std::fill(s, s + w, T(0));
    for (int64_t a = 0; a < n; ++a) exp_shifted_acc(x + a * inner, m, Log ? nullptr : y + a * inner, s, w);
    if constexpr (Log) {
        for (int64_t j = 0; j < w; ++j) s[j] = std::log(s[j]);
        for (int64_t a = 0; a < n; ++a)
            for (int64_t j = 0; j < w; ++j) y[a * inner + j] = (x[a * inner + j] - m[j]) - s[j];
    } else {
        for (int64_t j = 0; j < w; ++j) s[j] = T(1) / s[j];
        for (int64_t a = 0; a < n; ++a)
            for (int64_t j = 0; j < w; ++j) y[a * inner + j] *= s[j];
    }
}

template <typename T, bool Log>
void softmax_kernel(const AxisView& v, const T* x, T* y) {
    if (v.n == 0) return;
    const int64_t blocks = (v.inner + kColumnBlock - 1) / kColumnBlock;
    const int64_t tasks = v.outer * blocks;
    const int64_t per_task = v.n * std::min(v.inner, kColumnBlock);
    parallel_range(
        tasks,
        [&](int64_t t0, int64_t t1) {
            for (int64_t t = t0; t < t1; ++t) {
                const int64_t o = t / blocks, j0 = (t % blocks) * kColumnBlock;
                const int64_t off = o * v.n * v.inner + j0;
                if (v.inner == 1) softmax_contiguous_row<T, Log>(x + off, y + off, v.n);
                else softmax_column_block<T, Log>(x + off, y + off, v.n, v.inner, std::min(kColumnBlock, v.inner - j0));
            }
        },
        grain_for(per_task));
}

template <bool Log>
std::unique_ptr<Kernel> softmax_factory(const KernelContext& c) {
    const AxisView v = axis_view(c.inputs[0].shape, c.attrs_as<SoftmaxAttrs>().axis);
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([v](const KernelArgs& a) {
            softmax_kernel<T, Log>(v, static_cast<const T*>(a.inputs[0]), static_cast<T*>(a.outputs[0]));
        });
    });
}


// Logits of magnitude up to 30: exp(30) overflows nothing, but a naive softmax of such rows
// in f32 loses every small probability; the stable kernel must stay exact.
SampleInput large_logits(Shape s) {
    std::vector<double> v(static_cast<std::size_t>(numel(s)));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = 30.0 * std::cos(1.7 * static_cast<double>(i) + 0.3);
    return given(Tensor::from_vector<double>(v, s));
}

// Over [N, C, H, W]: a softmax along H or W reads that whole axis; along N or C, positions stay.
std::optional<SpatialReach> softmax_reach(const RuleContext& c) {
    if (c.input(0).rank() != 4) return std::nullopt;
    const int axis = normalize_axis(c.attrs_as<SoftmaxAttrs>().axis, 4);
    SpatialReach r;
    if (axis >= 2) r.axes[static_cast<std::size_t>(axis - 2)] = AxisReach::everywhere();
    return r;
}

std::vector<OpSample> softmax_samples() {
    auto s = [](std::string label, SampleInput in, int64_t axis) {
        return OpSample{std::move(label), {std::move(in)}, SoftmaxAttrs{axis}, true};
    };
    return {
        s("2d_axis0", floating({3, 5}), 0),
        s("2d_axis1", floating({3, 5}), 1),
        s("2d_axis-1", floating({4, 6}), -1),
        s("3d_axis0", floating({3, 2, 4}), 0),
        s("3d_axis1", floating({2, 3, 4}), 1),
        s("3d_axis-1", floating({2, 3, 4}), -1),
        s("4d_axis1", floating({2, 3, 2, 3}), 1),
        s("4d_axis-1", floating({2, 2, 3, 3}), -1),
        s("1d", floating({7}), 0),
        s("large_logits_axis-1", large_logits({3, 4}), -1),
        s("large_logits_axis0", large_logits({4, 3}), 0),
    };
}

std::vector<ErrorSample> softmax_error_samples() {
    using D = TensorDesc;
    return {
        {"axis_out_of_range", {D{{3, 4}}}, SoftmaxAttrs{2}, "axis 2 is out of range for rank 2"},
        {"negative_axis_out_of_range", {D{{3, 4}}}, SoftmaxAttrs{-3}, "axis -3 is out of range for rank 2"},
        {"integer", {D{{3, 4}, DType::I64}}, SoftmaxAttrs{-1}, "must be floating point, got i64[3,4]"},
    };
}

// What softmax and log_softmax share: the shape rule, attributes, cost, reach and samples.
OpDef& define_softmax(OpRegistry& r, const char* name, const char* summary, KernelFactory kernel) {
    return r.define(name)
        .arity(1)
        .describe(summary)
        .infer_shape(infer_softmax)
        .attributes<SoftmaxAttrs>()
        .kernel(std::move(kernel))
        .cost(elementwise_cost(4))  // max, exp, sum, then divide (or subtract the log) per element
        .receptive_field(softmax_reach)
        .inplace(0)
        .samples(softmax_samples)
        .error_samples(softmax_error_samples);
}

}  // namespace

Value softmax(Value x, int64_t axis) { return softmax_node("softmax", x, axis); }
Value log_softmax(Value x, int64_t axis) { return softmax_node("log_softmax", x, axis); }

void register_softmax_ops(OpRegistry& r) {
    define_softmax(r, "softmax", "exp(x − max) / Σ exp(x − max) along one axis", softmax_factory<false>)
        .gradient([](GradContext& g) {  // dx = y·(dy − Σ_axis dy·y)
            const int64_t axis = normalize_axis(g.attrs<SoftmaxAttrs>().axis, g.input(0).rank());
            Value y = g.output(0), dy = g.grad_output(0);
            return InputGrads{y * (dy - sum(dy * y, {axis}, true))};
        });

    define_softmax(r, "log_softmax", "x − max − log Σ exp(x − max) along one axis", softmax_factory<true>)
        .gradient([](GradContext& g) {  // dx = dy − exp(y)·Σ_axis dy
            const int64_t axis = normalize_axis(g.attrs<SoftmaxAttrs>().axis, g.input(0).rank());
            Value y = g.output(0), dy = g.grad_output(0);
            return InputGrads{dy - exp(y) * sum(dy, {axis}, true)};
        });
}

}  // namespace gg
