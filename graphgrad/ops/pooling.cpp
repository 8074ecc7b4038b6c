// Pooling and resampling ops over [N, C, H, W]: max_pool2d (+ its backward, a scatter by the
// argmax it saved), avg_pool2d (+ its backward, on oneDNN in f32), upsample_nearest2d, and
// global_avg_pool2d as a composite (mean over H and W).
//
// max_pool2d's second output is an explicit i64 argmax (flat iy·W + ix within each plane, like
// PyTorch's indices), so its backward is an exact scatter and its double backward a gather.
// oneDNN's max-pool workspace is opaque and layout-specific, so max pooling (forward and
// backward) runs on loops: the fast ones of ops/pooling_kernels.h (forward f32 on AVX2
// gathers, backward in every dtype), with those of ops/reference/pooling.h as the reference.
#include "graphgrad/ops/pooling.h"

#include <utility>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/dnn/pooling.h"
#include "graphgrad/ops/indexing.h"
#include "graphgrad/ops/kernels/pooling_kernels.h"
#include "graphgrad/ops/reduction.h"
#include "graphgrad/ops/reference/pooling.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/shape_ops.h"

namespace gg {

namespace {

// Node attributes of the backward ops: the forward's options and the forward input's shape.
struct PoolBackwardAttrs {
    Pool2dOptions options;
    Shape input_shape;
};
struct UpsampleAttrs {
    int64_t scale = 2;
};

// Stride 0 means "same as the kernel" (PyTorch's default); nodes store the resolved value.
Pool2dOptions resolved(Pool2dOptions o) {
    for (std::size_t i = 0; i < 2; ++i)
        if (o.stride[i] == 0) o.stride[i] = o.kernel[i];
    return o;
}

void require_nchw(const TensorDesc& x, const char* what) {
    if (x.rank() != 4) throw_shape("{} must be [N, C, H, W], got rank {}", what, x.rank());
    if (!is_floating(x.dtype)) throw_shape("{} must be floating point, got {}", what, desc_str(x));
}

// Validates the options against an input shape and returns the output shape.
Shape pooled_shape(const Pool2dOptions& raw, const Shape& x) {
    const Pool2dOptions o = resolved(raw);
    const auto& k = o.kernel;
    const auto& s = o.stride;
    const auto& p = o.padding;
    const auto& d = o.dilation;
    if (k[0] < 1 || k[1] < 1 || s[0] < 1 || s[1] < 1)
        throw_shape("kernel {}x{} and stride {}x{} must be positive", k[0], k[1], s[0], s[1]);
    if (d[0] < 1 || d[1] < 1) throw_shape("dilation {}x{} must be positive", d[0], d[1]);
    if (p[0] < 0 || p[1] < 0 || p[2] < 0 || p[3] < 0)
        throw_shape("negative padding {{{}, {}, {}, {}}}", p[0], p[1], p[2], p[3]);
    // A window lying entirely in the padding would have no maximum (and a zero divisor).
    if (p[0] >= k[0] || p[1] >= k[0] || p[2] >= k[1] || p[3] >= k[1])
        throw_shape("padding {{{}, {}, {}, {}}} must be smaller than the kernel {}x{}", p[0], p[1], p[2], p[3], k[0], k[1]);
    const int64_t ph = x[2] + p[0] + p[1], pw = x[3] + p[2] + p[3];
    const int64_t eh = d[0] * (k[0] - 1) + 1, ew = d[1] * (k[1] - 1) + 1;  // the dilated window
    if (ph < eh || pw < ew)
        throw_shape("kernel {}x{}{} is larger than the padded input {}x{}", k[0], k[1],
                    d[0] * d[1] > 1 ? fmt::format(" dilated to {}x{}", eh, ew) : std::string(), ph, pw);
    const Pool2dGeometry g = pool2d_geometry(x, k, s, p, d, o.ceil_mode);
    return {g.n, g.c, g.oh, g.ow};
}

Pool2dGeometry geometry(const Pool2dOptions& o, const Shape& x) {
    const Pool2dOptions r = resolved(o);
    return pool2d_geometry(x, r.kernel, r.stride, r.padding, r.dilation, r.ceil_mode);
}

// ---- shape rules ----------------------------------------------------------------------------
std::vector<TensorDesc> infer_max_pool(const InferContext& c) {
    const TensorDesc& x = c.input(0);
    require_nchw(x, "input");
    Shape y = pooled_shape(c.attrs_as<Pool2dOptions>(), x.shape);
    return {TensorDesc{y, x.dtype}, TensorDesc{y, DType::I64}};
}

void require_undilated(const Pool2dOptions& o) {
    if (o.dilation[0] != 1 || o.dilation[1] != 1)
        throw_shape("dilation {}x{}: average pooling has none (PyTorch's neither)", o.dilation[0], o.dilation[1]);
}

std::vector<TensorDesc> infer_avg_pool(const InferContext& c) {
    const TensorDesc& x = c.input(0);
    require_nchw(x, "input");
    Shape y = pooled_shape(c.attrs_as<Pool2dOptions>(), x.shape);
    require_undilated(c.attrs_as<Pool2dOptions>());
    return {TensorDesc{y, x.dtype}};
}

// dy (and the argmax, for max pooling) must have the shape the forward produced.
std::vector<TensorDesc> infer_pool_backward(const InferContext& c) {
    const auto& at = c.attrs_as<PoolBackwardAttrs>();
    const TensorDesc& dy = c.input(0);
    require_nchw(dy, "dy");
    if (at.input_shape.size() != 4) throw_shape("input_shape must be [N, C, H, W], got {}", shape_str(at.input_shape));
    const Shape expect = pooled_shape(at.options, at.input_shape);
    if (dy.shape != expect)
        throw_shape("dy is {} but pooling {} gives {}", shape_str(dy.shape), shape_str(at.input_shape), shape_str(expect));
    if (c.inputs.size() > 1 && (c.input(1).dtype != DType::I64 || c.input(1).shape != dy.shape))
        throw_shape("the argmax must be i64 shaped like dy {}, got {}", shape_str(dy.shape), desc_str(c.input(1)));
    return {TensorDesc{at.input_shape, dy.dtype}};
}

std::vector<TensorDesc> infer_upsample(const InferContext& c) {
    const TensorDesc& x = c.input(0);
    require_nchw(x, "input");
    const int64_t s = c.attrs_as<UpsampleAttrs>().scale;
    if (s < 1) throw_shape("scale must be >= 1, got {}", s);
    return {TensorDesc{{x.shape[0], x.shape[1], x.shape[2] * s, x.shape[3] * s}, x.dtype}};
}

// ---- kernels --------------------------------------------------------------------------------
std::unique_ptr<Kernel> max_pool_reference(const KernelContext& c) {
    const Pool2dGeometry geo = geometry(c.attrs_as<Pool2dOptions>(), c.inputs[0].shape);
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([geo](const KernelArgs& a) {
            reference::max_pool2d<T>(geo, static_cast<const T*>(a.inputs[0]), static_cast<T*>(a.outputs[0]),
                                     static_cast<int64_t*>(a.outputs[1]));
        });
    });
}

// f32 only (f64 is for gradcheck: the reference runs).
std::unique_ptr<Kernel> max_pool_fast(const KernelContext& c) {
    if (c.inputs[0].dtype != DType::F32) return nullptr;
    return fast::make_max_pool2d_kernel(geometry(c.attrs_as<Pool2dOptions>(), c.inputs[0].shape));
}

// One loop for both kernel slots: the scatter has no faster form worth a second copy.
std::unique_ptr<Kernel> max_pool_backward_kernel(const KernelContext& c) {
    const auto& at = c.attrs_as<PoolBackwardAttrs>();
    const Pool2dGeometry geo = geometry(at.options, at.input_shape);
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([geo, node = c.node.name](const KernelArgs& a) {
            const auto* dy = static_cast<const T*>(a.inputs[0]);
            const auto* idx = static_cast<const int64_t*>(a.inputs[1]);
            auto* dx = static_cast<T*>(a.outputs[0]);
            if (!reference::max_pool2d_backward<T>(geo, dy, idx, dx)) throw_runtime("max_pool2d_backward \"{}\": an argmax index is outside its {}x{} plane", node, geo.h, geo.w);
        });
    });
}

// The forward pooling a node belongs to: its options and its input's shape, from the attributes
// of a backward node or the input of a forward one.
template <bool Backward>
std::pair<Pool2dOptions, Shape> forward_pooling(const KernelContext& c) {
    if constexpr (Backward) {
        const auto& at = c.attrs_as<PoolBackwardAttrs>();
        return {at.options, at.input_shape};
    } else {
        return {c.attrs_as<Pool2dOptions>(), c.inputs[0].shape};
    }
}

// Average pooling, forward (x → y) or backward (dy → dx): reference loops in f32 and f64.
template <bool Backward>
std::unique_ptr<Kernel> avg_pool_reference(const KernelContext& c) {
    const auto [o, in] = forward_pooling<Backward>(c);
    const Pool2dGeometry geo = geometry(o, in);
    const bool include = o.count_include_pad;
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([geo, include](const KernelArgs& a) {
            const auto* src = static_cast<const T*>(a.inputs[0]);
            auto* dst = static_cast<T*>(a.outputs[0]);
            if constexpr (Backward) reference::avg_pool2d_backward<T>(geo, include, src, dst);
            else reference::avg_pool2d<T>(geo, include, src, dst);
        });
    });
}

template <bool Backward>
std::unique_ptr<Kernel> avg_pool_onednn(const KernelContext& c) {
    if (c.inputs[0].dtype != DType::F32) return nullptr;  // no f64 in oneDNN
    const auto [o, in] = forward_pooling<Backward>(c);
    const Pool2dGeometry geo = geometry(o, in);
    // oneDNN counts ceil_mode's overhang as padding; PyTorch's divisor does not.
    if (o.count_include_pad && extends_past_padding(geo)) return nullptr;
    Pool2dGeometry padded = geo;  // ceil_mode's extra windows as extra bottom/right padding
    padded.pb = std::max(geo.pb, (geo.oh - 1) * geo.sh + geo.kh - geo.h - geo.pt);
    padded.pr = std::max(geo.pr, (geo.ow - 1) * geo.sw + geo.kw - geo.w - geo.pl);
    return dnn::make_avg_pool_kernel(c.resources, padded, o.count_include_pad, Backward);
}

std::unique_ptr<Kernel> upsample_kernel(const KernelContext& c) {
    const int64_t s = c.attrs_as<UpsampleAttrs>().scale;
    Pool2dGeometry geo = pool2d_geometry(c.inputs[0].shape, {1, 1}, {1, 1}, {0, 0, 0, 0});
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([geo, s](const KernelArgs& a) {
            reference::upsample_nearest2d<T>(geo, s, static_cast<const T*>(a.inputs[0]), static_cast<T*>(a.outputs[0]));
        });
    });
}

// ---- cost and receptive field ---------------------------------------------------------------
// The windows of a pooling: output o reads input o·stride − pad_lo + t, t in [0, kernel).
SpatialReach pool_reach(const Pool2dOptions& raw, bool transposed) {
    const Pool2dOptions o = resolved(raw);
    SpatialReach r;
    for (std::size_t a = 0; a < 2; ++a)
        r.axes[a] = AxisReach{.kernel = o.kernel[a], .stride = o.stride[a], .dilation = o.dilation[a],
                              .padding = o.padding[2 * a], .transposed = transposed};
    return r;
}

// One comparison or add per window tap: kh·kw per pooled element (padding taps included).
OpCost pool_cost(const RuleContext& c, const Pool2dOptions& o, const TensorDesc& pooled) {
    return OpCost{.flops = pooled.numel() * o.kernel[0] * o.kernel[1], .bytes_read = c.input_bytes(), .bytes_written = c.output_bytes()};
}

// The forward poolings (max and average), whose nodes hold Pool2dOptions.
OpCost forward_pool_cost(const RuleContext& c) { return pool_cost(c, c.attrs_as<Pool2dOptions>(), c.output(0)); }
std::optional<SpatialReach> forward_pool_reach(const RuleContext& c) { return pool_reach(c.attrs_as<Pool2dOptions>(), false); }

// ---- gradient rules -------------------------------------------------------------------------
Value max_pool_backward_node(Value dy, Value argmax, const Pool2dOptions& o, const Shape& input_shape) {
    Graph& g = common_graph("max_pool2d_backward", {dy, argmax});
    return g.add_node1(op_def("max_pool2d_backward"), {dy, argmax}, PoolBackwardAttrs{o, input_shape});
}

Value avg_pool_backward_node(Value dy, const Pool2dOptions& o, const Shape& input_shape) {
    Graph& g = common_graph("avg_pool2d_backward", {dy});
    return g.add_node1(op_def("avg_pool2d_backward"), {dy}, PoolBackwardAttrs{o, input_shape});
}

Value avg_pool_node(Value x, const Pool2dOptions& o) {
    Graph& g = common_graph("avg_pool2d", {x});
    return g.add_node1(op_def("avg_pool2d"), {x}, resolved(o));
}

// ---- samples --------------------------------------------------------------------------------
// Distinct values (no ties, gaps of 0.05) so the argmax is stable under finite differences.
Tensor distinct_values(const Shape& s) {
    const int64_t n = numel(s);
    std::vector<double> v(static_cast<std::size_t>(n));
    // 7919 is prime and larger than any sample, so i → 7919·i mod n is a permutation.
    for (int64_t i = 0; i < n; ++i)
        v[static_cast<std::size_t>(i)] = 0.05 * static_cast<double>((7919 * i) % n) - 0.025 * static_cast<double>(n);
    return Tensor::from_vector<double>(v, s);
}

Pool2dOptions opts(std::array<int64_t, 2> k, std::array<int64_t, 2> s, std::array<int64_t, 4> p = {0, 0, 0, 0},
                   bool include_pad = true, bool ceil_mode = false) {
    return Pool2dOptions{k, s, p, include_pad, ceil_mode};
}

Pool2dOptions dilated(Pool2dOptions o, std::array<int64_t, 2> d) {
    o.dilation = d;
    return o;
}

struct PoolCase {
    std::string label;
    Shape x;
    Pool2dOptions o;
};

std::vector<PoolCase> pool_cases() {
    return {
        {"2x2 stride 2", {2, 3, 4, 4}, opts({2, 2}, {2, 2})},
        {"stride 0 means kernel", {1, 2, 4, 6}, opts({2, 2}, {0, 0})},
        {"3x3 stride 1 pad 1 (overlapping)", {1, 2, 5, 5}, opts({3, 3}, {1, 1}, {1, 1, 1, 1})},
        {"3x3 stride 2 asymmetric pad", {2, 2, 5, 6}, opts({3, 3}, {2, 2}, {0, 1, 1, 0})},
        {"2x3 kernel stride 1x2", {1, 2, 4, 7}, opts({2, 3}, {1, 2})},
        {"odd size floors", {1, 1, 5, 5}, opts({2, 2}, {2, 2})},
        {"ceil mode: a last partial window", {1, 2, 6, 7}, opts({3, 3}, {2, 2}, {0, 0, 0, 0}, true, true)},
        {"ceil mode with padding", {1, 1, 6, 6}, opts({3, 3}, {2, 2}, {1, 1, 1, 1}, true, true)},
    };
}

// Max pooling only: dilated windows (PyTorch's avg_pool2d has no dilation).
std::vector<PoolCase> dilated_pool_cases() {
    return {
        {"dilation 2", {1, 2, 6, 7}, dilated(opts({2, 2}, {1, 1}), {2, 2})},
        {"3x2 dilation 2x3 pad, ceil mode", {2, 1, 7, 8}, dilated(opts({3, 2}, {2, 2}, {1, 1, 1, 0}, true, true), {2, 3})},
    };
}

std::vector<PoolCase> max_pool_cases() {
    std::vector<PoolCase> all = pool_cases();
    for (PoolCase& c : dilated_pool_cases()) all.push_back(std::move(c));
    return all;
}

std::vector<OpSample> max_pool_samples() {
    std::vector<OpSample> out;
    for (auto& c : max_pool_cases()) out.push_back(OpSample{c.label, {given(distinct_values(c.x))}, c.o, true});
    return out;
}

std::vector<OpSample> max_pool_backward_samples() {
    std::vector<OpSample> out;
    for (auto& c : max_pool_cases()) {
        // A real argmax: the forward on distinct values.
        const Pool2dGeometry geo = geometry(c.o, c.x);
        Tensor x = distinct_values(c.x), y(TensorDesc{{geo.n, geo.c, geo.oh, geo.ow}, DType::F64});
        Tensor idx(TensorDesc{y.shape(), DType::I64});
        reference::max_pool2d<double>(geo, x.data<double>(), y.data<double>(), idx.data<int64_t>());
        out.push_back(OpSample{c.label, {floating(y.shape()), given(idx)},
                               PoolBackwardAttrs{c.o, c.x}, true});
    }
    return out;
}

// count_include_pad with ceil_mode windows reaching past the padding has no oneDNN form (its
// divisor counts the overhang): the reference runs there, so the registry's samples (which
// require the fast kernel) leave it out; tests/test_ops_pooling.cpp pins its values and
// gradients by hand.
bool include_pad_sample(const PoolCase& c) { return !extends_past_padding(geometry(c.o, c.x)); }

std::vector<OpSample> avg_pool_samples() {
    std::vector<OpSample> out;
    for (auto& c : pool_cases()) {
        if (include_pad_sample(c)) out.push_back(OpSample{c.label, {floating(c.x)}, c.o, true});
        Pool2dOptions ex = c.o;
        ex.count_include_pad = false;
        out.push_back(OpSample{c.label + " exclude pad", {floating(c.x)}, ex, true});
    }
    return out;
}

std::vector<OpSample> avg_pool_backward_samples() {
    std::vector<OpSample> out;
    for (auto& c : pool_cases())
        for (bool include : {true, false}) {
            if (include && !include_pad_sample(c)) continue;
            Pool2dOptions o = c.o;
            o.count_include_pad = include;
            out.push_back(OpSample{c.label + (include ? "" : " exclude pad"), {floating(pooled_shape(o, c.x))},
                                   PoolBackwardAttrs{o, c.x}, true});
        }
    return out;
}

std::vector<ErrorSample> pool_error_samples() {
    using D = TensorDesc;
    return {
        {"rank 3", {D{{2, 4, 4}}}, opts({2, 2}, {2, 2}), "input must be [N, C, H, W], got rank 3"},
        {"integer", {D{{1, 1, 4, 4}, DType::I64}}, opts({2, 2}, {2, 2}), "must be floating point, got i64[1,1,4,4]"},
        {"kernel too large", {D{{1, 1, 3, 3}}}, opts({4, 4}, {1, 1}), "kernel 4x4 is larger than the padded input 3x3"},
        {"padding >= kernel", {D{{1, 1, 6, 6}}}, opts({2, 2}, {2, 2}, {2, 0, 0, 0}), "must be smaller than the kernel 2x2"},
        {"negative stride", {D{{1, 1, 6, 6}}}, opts({2, 2}, {-1, 1}), "must be positive"},
        {"negative padding", {D{{1, 1, 6, 6}}}, opts({2, 2}, {2, 2}, {0, -1, 0, 0}), "negative padding"},
        {"zero dilation", {D{{1, 1, 6, 6}}}, dilated(opts({2, 2}, {2, 2}), {0, 1}), "dilation 0x1 must be positive"},
        {"dilated kernel too large", {D{{1, 1, 4, 6}}}, dilated(opts({2, 2}, {1, 1}), {4, 1}),
         "kernel 2x2 dilated to 5x2 is larger than the padded input 4x6"},
    };
}

std::vector<ErrorSample> pool_backward_error_samples(bool with_argmax) {
    using D = TensorDesc;
    auto in = [&](Shape dy, DType idx = DType::I64) {
        std::vector<D> v{D{dy}};
        if (with_argmax) v.push_back(D{dy, idx});
        return v;
    };
    std::vector<ErrorSample> out{
        {"dy shape", in({1, 1, 3, 3}), PoolBackwardAttrs{opts({2, 2}, {2, 2}), {1, 1, 4, 4}},
         "dy is [1,1,3,3] but pooling [1,1,4,4] gives [1,1,2,2]"},
        {"input shape rank", in({1, 1, 2, 2}), PoolBackwardAttrs{opts({2, 2}, {2, 2}), {4, 4}}, "input_shape must be [N, C, H, W]"},
    };
    if (with_argmax)
        out.push_back({"argmax dtype", in({1, 1, 2, 2}, DType::F32), PoolBackwardAttrs{opts({2, 2}, {2, 2}), {1, 1, 4, 4}},
                       "the argmax must be i64"});
    return out;
}

}  // namespace

// ---- builders -------------------------------------------------------------------------------
Value max_pool2d(Value x, Pool2dOptions o) {
    Graph& g = common_graph("max_pool2d", {x});
    return g.add_node(op_def("max_pool2d"), {x}, resolved(o)).at(0);
}

Value avg_pool2d(Value x, Pool2dOptions o) { return avg_pool_node(x, o); }

Value global_avg_pool2d(Value x) {
    if (x.rank() != 4) throw_graph("global_avg_pool2d \"{}\": expects [N, C, H, W], got {}", x.name(), x.desc());
    return mean(x, {2, 3}, true);
}

Value upsample_nearest2d(Value x, int64_t scale) {
    Graph& g = common_graph("upsample_nearest2d", {x});
    return g.add_node1(op_def("upsample_nearest2d"), {x}, UpsampleAttrs{scale});
}

void register_pooling_ops(OpRegistry& r) {
    r.define("max_pool2d")
        .arity(1)
        .describe("max over kh×kw windows of [N,C,H,W]; second output: i64 argmax iy·W+ix per plane")
        .infer_shape(infer_max_pool)
        .attributes<Pool2dOptions>()
        .fast_kernel(max_pool_fast)
        .reference(max_pool_reference)
        .cost(forward_pool_cost)
        .receptive_field(forward_pool_reach)
        .gradient([](GradContext& g) {  // dx = Σ dy scattered to the argmax (ties never split)
            const auto& o = g.attrs<Pool2dOptions>();
            return InputGrads{max_pool_backward_node(g.grad_output(0), g.output(1), o, g.input(0).shape())};
        })
        .samples(max_pool_samples)
        .error_samples(pool_error_samples);

    r.define("max_pool2d_backward")
        .arity(2)
        .describe("dy scattered (summed) to the argmax positions of max_pool2d: dx [N,C,H,W]")
        .infer_shape(infer_pool_backward)
        .attributes<PoolBackwardAttrs>()
        .kernel(max_pool_backward_kernel)
        .cost([](const RuleContext& c) {  // one add per dy element, into the zeroed dx
            return OpCost{.flops = c.input(0).numel(), .bytes_read = c.input_bytes(), .bytes_written = c.output_bytes()};
        })
        .non_differentiable_inputs({1})
        .gradient([](GradContext& g) {  // d(dy) = ddx gathered at the argmax (the adjoint of a scatter)
            Value ddx = g.grad_output(0), idx = g.input(1);
            const Shape& s = idx.shape();
            Value flat = reshape(ddx, {s[0], s[1], -1});
            Value picked = gather(flat, 2, reshape(idx, {s[0], s[1], -1}));
            return InputGrads{reshape(picked, s), std::nullopt};
        })
        .samples(max_pool_backward_samples)
        .error_samples([] { return pool_backward_error_samples(true); });

    r.define("avg_pool2d")
        .arity(1)
        .describe("mean over kh×kw windows of [N,C,H,W] (count_include_pad or not; oneDNN f32)")
        .infer_shape(infer_avg_pool)
        .attributes<Pool2dOptions>()
        .fast_kernel(avg_pool_onednn<false>)
        .reference(avg_pool_reference<false>)
        .cost(forward_pool_cost)
        .receptive_field(forward_pool_reach)
        .gradient([](GradContext& g) {  // dx = avg_pool2d_backward(dy): dy / divisor spread over each window
            return InputGrads{avg_pool_backward_node(g.grad_output(0), g.attrs<Pool2dOptions>(), g.input(0).shape())};
        })
        .samples(avg_pool_samples)
        .error_samples([] {
            auto e = pool_error_samples();
            e.push_back({"dilation", {TensorDesc{{1, 1, 6, 6}}}, dilated(opts({2, 2}, {2, 2}), {2, 2}),
                         "dilation 2x2: average pooling has none"});
            return e;
        });

    r.define("avg_pool2d_backward")
        .arity(1)
        .describe("adjoint of avg_pool2d: dy / divisor spread over each window (oneDNN f32)")
        .infer_shape(infer_pool_backward)
        .attributes<PoolBackwardAttrs>()
        .fast_kernel(avg_pool_onednn<true>)
        .reference(avg_pool_reference<true>)
        .cost([](const RuleContext& c) { return pool_cost(c, c.attrs_as<PoolBackwardAttrs>().options, c.input(0)); })
        .receptive_field([](const RuleContext& c) {  // each dy element spreads over its window
            return std::optional(pool_reach(c.attrs_as<PoolBackwardAttrs>().options, true));
        })
        .gradient([](GradContext& g) {  // linear: d(dy) = avg_pool2d(ddx), the adjoint's adjoint
            return InputGrads{avg_pool_node(g.grad_output(0), g.attrs<PoolBackwardAttrs>().options)};
        })
        .samples(avg_pool_backward_samples)
        .error_samples([] { return pool_backward_error_samples(false); });

    r.define("upsample_nearest2d")
        .arity(1)
        .describe("nearest-neighbour upsampling by an integer scale: [N,C,H·s,W·s]")
        .infer_shape(infer_upsample)
        .attributes<UpsampleAttrs>()
        .kernel(upsample_kernel)
        .cost(data_movement_cost())
        .receptive_field([](const RuleContext& c) {  // input i fills outputs i·s … i·s + s − 1
            const int64_t s = c.attrs_as<UpsampleAttrs>().scale;
            const AxisReach a{.kernel = s, .stride = s, .transposed = true};
            return std::optional(SpatialReach::window(a, a));
        })
        .gradient([](GradContext& g) {  // dx = Σ of dy over each s×s block
            Value dy = g.grad_output(0);
            const Shape& x = g.input(0).shape();
            const int64_t s = g.attrs<UpsampleAttrs>().scale;
            return InputGrads{sum(reshape(dy, {x[0], x[1], x[2], s, x[3], s}), {3, 5})};
        })
        .samples([] {
            return std::vector<OpSample>{
                {"scale 2", {floating({2, 3, 3, 4})}, UpsampleAttrs{2}, true},
                {"scale 3", {floating({1, 2, 2, 3})}, UpsampleAttrs{3}, true},
                {"scale 1", {floating({1, 2, 2, 2})}, UpsampleAttrs{1}, true},
            };
        })
        .error_samples([] {
            using D = TensorDesc;
            return std::vector<ErrorSample>{
                {"rank 2", {D{{4, 4}}}, UpsampleAttrs{2}, "input must be [N, C, H, W], got rank 2"},
                {"scale 0", {D{{1, 1, 2, 2}}}, UpsampleAttrs{0}, "scale must be >= 1, got 0"},
            };
        });
}

}  // namespace gg
