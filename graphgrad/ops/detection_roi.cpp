// RoI ops of ops/detection.h: roi_pool (+ roi_pool_backward, a scatter by the argmax it saved)
// and roi_align (+ roi_align_backward, the bilinear taps' adjoint). Plain loops
// (ops/reference/detection.h) are their only kernels.
//
// roi_pool's argmax indexes the whole [N, C, H, W] map (not one plane as torchvision's): the
// backward then needs no RoIs, and its own adjoint is one gather from the flattened map padded
// with a zero at index N·C·H·W, the sink empty bins point at.
#include "graphgrad/ops/detection.h"

#include <type_traits>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/indexing.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/reference/roi.h"
#include "graphgrad/ops/shape_ops.h"

namespace gg {

namespace {

// Backward nodes: the forward's options and its features' shape.
template <typename Options>
struct RoiBackwardAttrs {
    Options options;
    Shape input_shape;
};
using RoiPoolBackwardAttrs = RoiBackwardAttrs<RoiPoolOptions>;
using RoiAlignBackwardAttrs = RoiBackwardAttrs<RoiAlignOptions>;

template <typename Options>
void check_options(const Options& o) {
    if (o.output_size[0] < 1 || o.output_size[1] < 1)
        throw_shape("output_size {}x{} must be positive", o.output_size[0], o.output_size[1]);
    if (!(o.spatial_scale > 0)) throw_shape("spatial_scale must be positive, got {}", o.spatial_scale);
}

void require_features(const TensorDesc& x, const char* what) {
    if (x.rank() != 4) throw_shape("{} must be [N, C, H, W], got {}", what, desc_str(x));
    if (!is_floating(x.dtype)) throw_shape("{} must be floating point, got {}", what, desc_str(x));
}

void require_rois(const TensorDesc& rois, const TensorDesc& like) {
    if (rois.rank() != 2 || rois.shape[1] != 5)
        throw_shape("rois must be [K, 5] (batch index, x1, y1, x2, y2), got {}", desc_str(rois));
    if (rois.dtype != like.dtype) throw_shape("rois {} must have the dtype of {}", desc_str(rois), desc_str(like));
}

template <typename Options>
Shape pooled_shape(int64_t k, int64_t c, const Options& o) {
    return {k, c, o.output_size[0], o.output_size[1]};
}

// Forward: features, rois → [K, C, oh, ow] (roi_pool adds its i64 argmax).
template <typename Options, bool WithArgmax>
std::vector<TensorDesc> infer_roi(const InferContext& c) {
    const TensorDesc &x = c.input(0), &rois = c.input(1);
    require_features(x, "features");
    require_rois(rois, x);
    const auto& o = c.attrs_as<Options>();
    check_options(o);
    const Shape y = pooled_shape(rois.shape[0], x.shape[1], o);
    if constexpr (WithArgmax) return {TensorDesc{y, x.dtype}, TensorDesc{y, DType::I64}};
    else return {TensorDesc{y, x.dtype}};
}

// Backward: dy (and roi_pool's argmax, or roi_align's rois) → dx of the features' shape.
template <typename Options>
std::vector<TensorDesc> infer_roi_backward(const InferContext& c) {
    const auto& at = c.attrs_as<RoiBackwardAttrs<Options>>();
    const TensorDesc &dy = c.input(0), &second = c.input(1);
    require_features(dy, "dy");
    if (at.input_shape.size() != 4) throw_shape("input_shape must be [N, C, H, W], got {}", shape_str(at.input_shape));
    check_options(at.options);
    const Shape expect = pooled_shape(dy.shape[0], at.input_shape[1], at.options);
    if (dy.shape != expect)
        throw_shape("dy is {} but {} RoIs over {} give {}", shape_str(dy.shape), dy.shape[0], shape_str(at.input_shape), shape_str(expect));
    if constexpr (std::is_same_v<Options, RoiPoolOptions>) {
        if (second.dtype != DType::I64 || second.shape != dy.shape)
            throw_shape("the argmax must be i64 shaped like dy {}, got {}", shape_str(dy.shape), desc_str(second));
    } else {
        require_rois(second, dy);
        if (second.shape[0] != dy.shape[0]) throw_shape("rois {} and dy {} differ in K", desc_str(second), desc_str(dy));
    }
    return {TensorDesc{at.input_shape, dy.dtype}};
}

template <typename Options>
reference::RoiGeometry geometry(const Shape& x, int64_t k, const Options& o) {
    reference::RoiGeometry g{.n = x[0], .c = x[1], .h = x[2], .w = x[3], .k = k, .ph = o.output_size[0],
                             .pw = o.output_size[1], .scale = o.spatial_scale};
    if constexpr (std::is_same_v<Options, RoiAlignOptions>) {
        g.sampling_ratio = o.sampling_ratio;
        g.aligned = o.aligned;
    }
    return g;
}

// What a kernel names when a RoI's batch index is bad (data, so found only at run time).
struct Where {
    std::string op, node;
    explicit Where(const KernelContext& c) : op(c.node.op->name), node(c.node.name) {}
};

[[noreturn]] void bad_batch_index(const Where& at, const reference::RoiGeometry& g) {
    throw_runtime("{} \"{}\": a RoI's batch index is not an integer in [0, {})", at.op, at.node, g.n);
}

// ---- kernels ----------------------------------------------------------------------------
std::unique_ptr<Kernel> roi_pool_kernel(const KernelContext& c) {
    const auto g = geometry(c.inputs[0].shape, c.inputs[1].shape[0], c.attrs_as<RoiPoolOptions>());
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([g, where = Where(c)](const KernelArgs& a) {
            if (!reference::roi_pool<T>(g, static_cast<const T*>(a.inputs[0]), static_cast<const T*>(a.inputs[1]),
                                        static_cast<T*>(a.outputs[0]), static_cast<int64_t*>(a.outputs[1])))
                bad_batch_index(where, g);
        });
    });
}

std::unique_ptr<Kernel> roi_pool_backward_kernel(const KernelContext& c) {
    const auto& at = c.attrs_as<RoiPoolBackwardAttrs>();
    const auto g = geometry(at.input_shape, c.inputs[0].shape[0], at.options);
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([g, node = c.node.name](const KernelArgs& a) {
            if (!reference::roi_pool_backward<T>(g, static_cast<const T*>(a.inputs[0]), static_cast<const int64_t*>(a.inputs[1]),
                                                 static_cast<T*>(a.outputs[0])))
                throw_runtime("roi_pool_backward \"{}\": an argmax index is outside the {}x{}x{}x{} map", node, g.n, g.c, g.h, g.w);
        });
    });
}

std::unique_ptr<Kernel> roi_align_kernel(const KernelContext& c) {
    const auto g = geometry(c.inputs[0].shape, c.inputs[1].shape[0], c.attrs_as<RoiAlignOptions>());
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([g, where = Where(c)](const KernelArgs& a) {
            if (!reference::roi_align<T>(g, static_cast<const T*>(a.inputs[0]), static_cast<const T*>(a.inputs[1]),
                                         static_cast<T*>(a.outputs[0])))
                bad_batch_index(where, g);
        });
    });
}

std::unique_ptr<Kernel> roi_align_backward_kernel(const KernelContext& c) {
    const auto& at = c.attrs_as<RoiAlignBackwardAttrs>();
    const auto g = geometry(at.input_shape, c.inputs[0].shape[0], at.options);
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([g, where = Where(c)](const KernelArgs& a) {
            if (!reference::roi_align_backward<T>(g, static_cast<const T*>(a.inputs[0]), static_cast<const T*>(a.inputs[1]),
                                                  static_cast<T*>(a.outputs[0])))
                bad_batch_index(where, g);
        });
    });
}

// ---- cost ---------------------------------------------------------------------------------
// Which cells a RoI reads depends on its coordinates, so counts use what the shapes bound.
// RoI pooling: about one comparison per cell of a RoI covering the map (K·C·H·W).
OpCost roi_pool_cost(const RuleContext& c, const Shape& x, int64_t k) {
    return OpCost{.flops = k * x[1] * x[2] * x[3], .bytes_read = c.input_bytes(), .bytes_written = c.output_bytes()};
}
// RoIAlign: 4 taps × (weight multiply + add) per sample point; an adaptive grid
// (sampling_ratio ≤ 0) is counted as one point per bin, a lower bound.
OpCost roi_align_cost(const RuleContext& c, const RoiAlignOptions& o, int64_t pooled_elements) {
    const int64_t points = o.sampling_ratio > 0 ? o.sampling_ratio * o.sampling_ratio : 1;
    return OpCost{.flops = pooled_elements * points * 8, .bytes_read = c.input_bytes(), .bytes_written = c.output_bytes()};
}

// ---- builders of backward nodes -----------------------------------------------------------
Value roi_pool_backward_node(Value dy, Value argmax, const RoiPoolOptions& o, const Shape& input_shape) {
    Graph& g = common_graph("roi_pool_backward", {dy, argmax});
    return g.add_node1(op_def("roi_pool_backward"), {dy, argmax}, RoiPoolBackwardAttrs{o, input_shape});
}

Value roi_align_backward_node(Value dy, Value rois, const RoiAlignOptions& o, const Shape& input_shape) {
    Graph& g = common_graph("roi_align_backward", {dy, rois});
    return g.add_node1(op_def("roi_align_backward"), {dy, rois}, RoiAlignBackwardAttrs{o, input_shape});
}

// ---- samples ------------------------------------------------------------------------------
// Distinct feature values (gaps of 0.05) so RoI pooling's argmax is stable under finite
// differences: 7919 is prime and above every sample's size, so i → 7919·i mod n permutes.
Tensor distinct_features(const Shape& s) {
    const int64_t n = numel(s);
    std::vector<double> v(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        v[static_cast<std::size_t>(i)] = 0.05 * static_cast<double>((7919 * i) % n) - 0.025 * static_cast<double>(n);
    return Tensor::from_vector<double>(v, s);
}

Tensor rois(std::vector<double> v) {
    const auto k = static_cast<int64_t>(v.size() / 5);
    return Tensor::from_vector<double>(v, {k, 5});
}

// Inside, across the border, a single cell and wholly outside (empty bins); coordinates keep
// clear of rounding's half-way points so f32 and f64 agree.
Tensor mixed_rois() {
    return rois({0, 0.4, 1.2, 4.6, 5.1,  1, 2, 0, 6, 3,  0, 3.3, 3.3, 3.4, 3.4,  1, -3, -2, 1.2, 2.2,  0, 20, 20, 30, 30});
}

struct RoiPoolCase {
    std::string label;
    Shape x;
    Tensor rois;
    RoiPoolOptions o;
};

std::vector<RoiPoolCase> roi_pool_cases() {
    return {
        {"2x2 bins, scale 1", {2, 2, 6, 7}, mixed_rois(), {{2, 2}, 1.0}},
        {"3x2 bins, scale 0.5", {2, 1, 4, 5}, rois({0, 0.2, 0.6, 7.4, 5.8,  1, 3, 1.1, 9.2, 7.7}), {{3, 2}, 0.5}},
    };
}

std::vector<OpSample> roi_pool_samples() {
    std::vector<OpSample> out;
    for (auto& c : roi_pool_cases()) out.push_back(OpSample{c.label, {given(distinct_features(c.x)), given(c.rois)}, c.o, true});
    return out;
}

std::vector<OpSample> roi_pool_backward_samples() {
    std::vector<OpSample> out;
    for (auto& c : roi_pool_cases()) {  // a real argmax: the forward on distinct values
        const auto g = geometry(c.x, c.rois.shape()[0], c.o);
        Tensor x = distinct_features(c.x), y(TensorDesc{pooled_shape(g.k, g.c, c.o), DType::F64});
        Tensor idx(TensorDesc{y.shape(), DType::I64});
        reference::roi_pool<double>(g, x.data<double>(), c.rois.data<double>(), y.data<double>(), idx.data<int64_t>());
        out.push_back(OpSample{c.label, {floating(y.shape()), given(idx)}, RoiPoolBackwardAttrs{c.o, c.x}, true});
    }
    return out;
}

struct RoiAlignCase {
    std::string label;
    Shape x;
    Tensor rois;
    RoiAlignOptions o;
};

std::vector<RoiAlignCase> roi_align_cases() {
    return {
        {"2x2 bins, 2 samples, legacy", {2, 2, 6, 7}, mixed_rois(), {{2, 2}, 1.0, 2, false}},
        {"3x2 bins, adaptive, aligned, scale 0.5", {2, 1, 5, 6}, rois({0, 0.2, 0.6, 9.4, 7.8,  1, 3, 1.1, 11.2, 9.7,  1, -4, -3, 2, 1}),
         {{3, 2}, 0.5, -1, true}},
        {"1x1 bin, 3 samples, aligned", {1, 2, 4, 4}, rois({0, 0.7, 0.3, 3.1, 2.6}), {{1, 1}, 1.0, 3, true}},
    };
}

std::vector<OpSample> roi_align_samples() {
    std::vector<OpSample> out;
    for (auto& c : roi_align_cases()) out.push_back(OpSample{c.label, {floating(c.x), given(c.rois)}, c.o, true});
    return out;
}

std::vector<OpSample> roi_align_backward_samples() {
    std::vector<OpSample> out;
    for (auto& c : roi_align_cases())
        out.push_back(OpSample{c.label, {floating(pooled_shape(c.rois.shape()[0], c.x[1], c.o)), given(c.rois)},
                               RoiAlignBackwardAttrs{c.o, c.x}, true});
    return out;
}

template <typename Options>
std::vector<ErrorSample> roi_error_samples(Options ok) {
    using D = TensorDesc;
    Options zero = ok, unscaled = ok;
    zero.output_size = {0, 2};
    unscaled.spatial_scale = 0;
    return {
        {"features rank 3", {D{{2, 6, 7}}, D{{3, 5}}}, ok, "features must be [N, C, H, W], got f32[2,6,7]"},
        {"integer features", {D{{1, 1, 6, 7}, DType::I64}, D{{3, 5}}}, ok, "features must be floating point"},
        {"rois [K, 4]", {D{{1, 1, 6, 7}}, D{{3, 4}}}, ok, "rois must be [K, 5] (batch index, x1, y1, x2, y2), got f32[3,4]"},
        {"rois dtype", {D{{1, 1, 6, 7}}, D{{3, 5}, DType::F64}}, ok, "rois f64[3,5] must have the dtype of f32[1,1,6,7]"},
        {"output size 0", {D{{1, 1, 6, 7}}, D{{3, 5}}}, zero, "output_size 0x2 must be positive"},
        {"spatial scale 0", {D{{1, 1, 6, 7}}, D{{3, 5}}}, unscaled, "spatial_scale must be positive, got 0"},
    };
}

template <typename Options>
std::vector<ErrorSample> roi_backward_error_samples(Options o, TensorDesc second_ok, TensorDesc second_bad, std::string bad_msg) {
    using D = TensorDesc;
    using A = RoiBackwardAttrs<Options>;
    return {
        {"dy shape", {D{{3, 2, 3, 3}}, second_ok}, A{o, {1, 2, 6, 7}}, "dy is [3,2,3,3] but 3 RoIs over [1,2,6,7] give [3,2,2,2]"},
        {"input shape rank", {D{{3, 2, 2, 2}}, second_ok}, A{o, {2, 6, 7}}, "input_shape must be [N, C, H, W]"},
        {"second input", {D{{3, 2, 2, 2}}, second_bad}, A{o, {1, 2, 6, 7}}, std::move(bad_msg)},
    };
}

}  // namespace

// ---- builders -------------------------------------------------------------------------------
Value roi_pool(Value features, Value rois, RoiPoolOptions o) {
    Graph& g = common_graph("roi_pool", {features, rois});
    return g.add_node(op_def("roi_pool"), {features, rois}, o).at(0);
}

Value roi_align(Value features, Value rois, RoiAlignOptions o) {
    Graph& g = common_graph("roi_align", {features, rois});
    return g.add_node1(op_def("roi_align"), {features, rois}, o);
}

void register_roi_ops(OpRegistry& r) {
    r.define("roi_pool")
        .arity(2)
        .describe("Fast R-CNN RoI max pooling: features [N,C,H,W], rois [K,5] → [K,C,oh,ow]; second output: i64 argmax into the map")
        .infer_shape(infer_roi<RoiPoolOptions, true>)
        .attributes<RoiPoolOptions>()
        .kernel(roi_pool_kernel)
        .cost([](const RuleContext& c) { return roi_pool_cost(c, c.input(0).shape, c.input(1).shape[0]); })
        .non_differentiable_inputs({1})
        .gradient([](GradContext& g) {  // dx = Σ dy scattered to each bin's argmax; RoIs: none
            Value dx = roi_pool_backward_node(g.grad_output(0), g.output(1), g.attrs<RoiPoolOptions>(), g.input(0).shape());
            return InputGrads{dx, std::nullopt};
        })
        .samples(roi_pool_samples)
        .error_samples([] { return roi_error_samples(RoiPoolOptions{{2, 2}, 1.0}); });

    r.define("roi_pool_backward")
        .arity(2)
        .describe("dy scattered (summed) to roi_pool's argmax positions: dx [N,C,H,W]")
        .infer_shape(infer_roi_backward<RoiPoolOptions>)
        .attributes<RoiPoolBackwardAttrs>()
        .kernel(roi_pool_backward_kernel)
        .cost([](const RuleContext& c) {  // one add per dy element, into the zeroed dx
            return OpCost{.flops = c.input(0).numel(), .bytes_read = c.input_bytes(), .bytes_written = c.output_bytes()};
        })
        .non_differentiable_inputs({1})
        .gradient([](GradContext& g) {  // d(dy) = ddx gathered at the argmax, the sink reading 0
            Value ddx = g.grad_output(0), idx = g.input(1);
            const int64_t size = ddx.numel();
            Value flat = pad(reshape(ddx, {size}), {{0, 1}});
            Value picked = gather(flat, 0, reshape(idx, {idx.numel()}));
            return InputGrads{reshape(picked, idx.shape()), std::nullopt};
        })
        .samples(roi_pool_backward_samples)
        .error_samples([] {
            using D = TensorDesc;
            return roi_backward_error_samples(RoiPoolOptions{{2, 2}, 1.0}, D{{3, 2, 2, 2}, DType::I64}, D{{3, 2, 2, 2}},
                                              "the argmax must be i64 shaped like dy [3,2,2,2], got f32[3,2,2,2]");
        });

    r.define("roi_align")
        .arity(2)
        .describe("Mask R-CNN RoIAlign: bilinear samples averaged per bin: features [N,C,H,W], rois [K,5] → [K,C,oh,ow]")
        .infer_shape(infer_roi<RoiAlignOptions, false>)
        .attributes<RoiAlignOptions>()
        .kernel(roi_align_kernel)
        .cost([](const RuleContext& c) { return roi_align_cost(c, c.attrs_as<RoiAlignOptions>(), c.output(0).numel()); })
        .non_differentiable_inputs({1})
        .gradient([](GradContext& g) {  // linear in the features: dx = roi_align_backward(dy), the taps' adjoint
            Value dx = roi_align_backward_node(g.grad_output(0), g.input(1), g.attrs<RoiAlignOptions>(), g.input(0).shape());
            return InputGrads{dx, std::nullopt};
        })
        .samples(roi_align_samples)
        .error_samples([] { return roi_error_samples(RoiAlignOptions{{2, 2}, 1.0, 2, false}); });

    r.define("roi_align_backward")
        .arity(2)
        .describe("adjoint of roi_align: each dy spread over its bilinear taps: dx [N,C,H,W]")
        .infer_shape(infer_roi_backward<RoiAlignOptions>)
        .attributes<RoiAlignBackwardAttrs>()
        .kernel(roi_align_backward_kernel)
        .cost([](const RuleContext& c) {
            return roi_align_cost(c, c.attrs_as<RoiAlignBackwardAttrs>().options, c.input(0).numel());
        })
        .non_differentiable_inputs({1})
        .gradient([](GradContext& g) {  // linear: d(dy) = roi_align(ddx), the adjoint's adjoint
            return InputGrads{roi_align(g.grad_output(0), g.input(1), g.attrs<RoiAlignBackwardAttrs>().options), std::nullopt};
        })
        .samples(roi_align_backward_samples)
        .error_samples([] {
            using D = TensorDesc;
            return roi_backward_error_samples(RoiAlignOptions{{2, 2}, 1.0, 2, false}, D{{3, 5}}, D{{3, 4}},
                                              "rois must be [K, 5] (batch index, x1, y1, x2, y2), got f32[3,4]");
        });
}

}  // namespace gg
