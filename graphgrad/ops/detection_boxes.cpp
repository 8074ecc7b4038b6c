// Box ops of ops/detection.h: box_iou (+ box_iou_backward, both boxes' gradients in one pass
// over the pairs) and nms. Plain loops (ops/reference/detection.h) are their only kernels.
#include "graphgrad/ops/detection.h"

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/reference/detection.h"

namespace gg {

namespace {

struct NmsAttrs {
    double iou_threshold = 0.5;
};

// About 17 flops per pair: two min, two max, two differences, two clamps, the product, two
// areas of three each, the union and the quotient.
constexpr int64_t kIouFlops = 17;

void require_boxes(const TensorDesc& d, const char* what) {
    if (d.rank() != 2 || d.shape[1] != 4) throw_shape("{} must be [N, 4] boxes (x1, y1, x2, y2), got {}", what, desc_str(d));
    if (!is_floating(d.dtype)) throw_shape("{} must be floating point, got {}", what, desc_str(d));
}

void require_same_dtype(const TensorDesc& a, const TensorDesc& b, const char* an, const char* bn) {
    if (a.dtype != b.dtype) throw_shape("{} {} and {} {} must have one dtype", an, desc_str(a), bn, desc_str(b));
}

std::vector<TensorDesc> infer_box_iou(const InferContext& c) {
    require_boxes(c.input(0), "a");
    require_boxes(c.input(1), "b");
    require_same_dtype(c.input(0), c.input(1), "a", "b");
    return {TensorDesc{{c.input(0).shape[0], c.input(1).shape[0]}, c.input(0).dtype}};
}

std::vector<TensorDesc> infer_box_iou_backward(const InferContext& c) {
    const TensorDesc &dy = c.input(0), &a = c.input(1), &b = c.input(2);
    require_boxes(a, "a");
    require_boxes(b, "b");
    require_same_dtype(a, b, "a", "b");
    require_same_dtype(dy, a, "dy", "a");
    if (dy.shape != Shape{a.shape[0], b.shape[0]})
        throw_shape("dy must be [N, M] = [{}, {}] for a {} and b {}, got {}", a.shape[0], b.shape[0], desc_str(a), desc_str(b), desc_str(dy));
    return {a, b};
}

std::vector<TensorDesc> infer_nms(const InferContext& c) {
    const TensorDesc &boxes = c.input(0), &scores = c.input(1);
    require_boxes(boxes, "boxes");
    if (scores.rank() != 1 || scores.shape[0] != boxes.shape[0])
        throw_shape("scores must be [N] with N = {} (boxes {}), got {}", boxes.shape[0], desc_str(boxes), desc_str(scores));
    require_same_dtype(boxes, scores, "boxes", "scores");
    const double t = c.attrs_as<NmsAttrs>().iou_threshold;
    if (std::isnan(t)) throw_shape("iou_threshold is NaN");
    return {TensorDesc{{boxes.shape[0]}, DType::I64}};
}

std::unique_ptr<Kernel> box_iou_kernel(const KernelContext& c) {
    const int64_t n = c.inputs[0].shape[0], m = c.inputs[1].shape[0];
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([n, m](const KernelArgs& a) {
            reference::box_iou<T>(static_cast<const T*>(a.inputs[0]), n, static_cast<const T*>(a.inputs[1]), m,
                                  static_cast<T*>(a.outputs[0]));
        });
    });
}

std::unique_ptr<Kernel> box_iou_backward_kernel(const KernelContext& c) {
    const int64_t n = c.inputs[1].shape[0], m = c.inputs[2].shape[0];
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([n, m](const KernelArgs& a) {
            reference::box_iou_backward<T>(static_cast<const T*>(a.inputs[0]), static_cast<const T*>(a.inputs[1]), n,
                                           static_cast<const T*>(a.inputs[2]), m, static_cast<T*>(a.outputs[0]),
                                           static_cast<T*>(a.outputs[1]));
        });
    });
}

std::unique_ptr<Kernel> nms_kernel(const KernelContext& c) {
    const int64_t n = c.inputs[0].shape[0];
    const double t = c.attrs_as<NmsAttrs>().iou_threshold;
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        // Scratch: the visiting order (n indices), then the suppressed flags (n bytes).
        const std::size_t order_bytes = scratch_aligned(static_cast<std::size_t>(n) * sizeof(int64_t));
        return make_kernel(
            [n, t, order_bytes](const KernelArgs& a) {
                auto* order = static_cast<int64_t*>(a.scratch);
                reference::nms<T>(static_cast<const T*>(a.inputs[0]), static_cast<const T*>(a.inputs[1]), n, t,
                                  static_cast<int64_t*>(a.outputs[0]), order, static_cast<char*>(a.scratch) + order_bytes);
            },
            order_bytes + static_cast<std::size_t>(n));
    });
}

OpCost pairwise_cost(const RuleContext& c, int64_t pairs, int64_t per_pair) {
    return OpCost{.flops = pairs * per_pair, .bytes_read = c.input_bytes(), .bytes_written = c.output_bytes()};
}

// ---- samples ----------------------------------------------------------------------------
// Boxes whose coordinates never tie across a and b and whose overlaps stay well away from 0,
// so IoU is smooth around every pair for central differences. Pairs include overlapping,
// nested, disjoint and corner-only ones.
Tensor boxes(std::vector<double> v) {
    const auto n = static_cast<int64_t>(v.size() / 4);
    return Tensor::from_vector<double>(v, {n, 4});
}
Tensor boxes_a() { return boxes({0, 0, 2, 3, 1, 0.5, 4, 2.5, 5, 5, 6, 7}); }
Tensor boxes_b() { return boxes({0.5, 1, 3.2, 2.2, 1.3, 0.2, 2.7, 4.1, -1, -2, 0.6, 1.4, 10, 10, 11, 12}); }

std::vector<OpSample> box_iou_samples() {
    return {
        {"3 x 4 boxes", {given(boxes_a()), given(boxes_b())}, {}, false},
        {"nested pair", {given(boxes({0, 0, 4, 4})), given(boxes({1, 1.5, 2, 3.2}))}, {}, false},
        {"corner overlap", {given(boxes({0, 0, 2, 2})), given(boxes({1.4, 1.1, 3, 2.6}))}, {}, false},
    };
}

std::vector<OpSample> box_iou_backward_samples() {
    return {
        {"3 x 4 boxes", {floating({3, 4}), given(boxes_a()), given(boxes_b())}, {}, false},
        {"1 x 1", {floating({1, 1}), given(boxes({0, 0, 2, 2})), given(boxes({1, 1, 3, 3}))}, {}, false},
    };
}

// Overlapping clusters, a tie in score, a disjoint box and a degenerate (zero-area) one.
std::vector<OpSample> nms_samples() {
    Tensor b = boxes({0, 0, 10, 10, 1, 1, 11, 11, 0.5, 0, 10, 9, 20, 20, 30, 30, 21, 19, 31, 29, 5, 5, 5, 5});
    Tensor s = Tensor::from_vector<double>({0.9, 0.8, 0.95, 0.7, 0.7, 0.6}, {6});
    return {
        {"clusters, tie, degenerate", {given(b), given(s)}, NmsAttrs{0.5}, false},
        {"threshold 0.9 keeps more", {given(b), given(s)}, NmsAttrs{0.9}, false},
        {"random boxes", {floating({5, 4}), floating({5})}, NmsAttrs{0.3}, false},
    };
}

std::vector<ErrorSample> box_iou_error_samples() {
    using D = TensorDesc;
    return {
        {"a not [N, 4]", {D{{3, 5}}, D{{2, 4}}}, {}, "a must be [N, 4] boxes (x1, y1, x2, y2), got f32[3,5]"},
        {"b rank 1", {D{{3, 4}}, D{{4}}}, {}, "b must be [N, 4] boxes (x1, y1, x2, y2), got f32[4]"},
        {"integer", {D{{3, 4}, DType::I64}, D{{2, 4}, DType::I64}}, {}, "a must be floating point, got i64[3,4]"},
        {"dtypes differ", {D{{3, 4}}, D{{2, 4}, DType::F64}}, {}, "a f32[3,4] and b f64[2,4] must have one dtype"},
    };
}

std::vector<ErrorSample> box_iou_backward_error_samples() {
    using D = TensorDesc;
    return {
        {"dy shape", {D{{3, 3}}, D{{3, 4}}, D{{2, 4}}}, {}, "dy must be [N, M] = [3, 2] for a f32[3,4] and b f32[2,4], got f32[3,3]"},
        {"b shape", {D{{3, 2}}, D{{3, 4}}, D{{2, 3}}}, {}, "b must be [N, 4] boxes"},
    };
}

std::vector<ErrorSample> nms_error_samples() {
    using D = TensorDesc;
    return {
        {"boxes not [N, 4]", {D{{3, 5}}, D{{3}}}, NmsAttrs{0.5}, "boxes must be [N, 4] boxes (x1, y1, x2, y2), got f32[3,5]"},
        {"scores length", {D{{3, 4}}, D{{4}}}, NmsAttrs{0.5}, "scores must be [N] with N = 3 (boxes f32[3,4]), got f32[4]"},
        {"scores rank", {D{{3, 4}}, D{{3, 1}}}, NmsAttrs{0.5}, "scores must be [N] with N = 3"},
        {"dtypes differ", {D{{3, 4}}, D{{3}, DType::F64}}, NmsAttrs{0.5}, "boxes f32[3,4] and scores f64[3] must have one dtype"},
        {"NaN threshold", {D{{3, 4}}, D{{3}}}, NmsAttrs{std::nan("")}, "iou_threshold is NaN"},
    };
}

}  // namespace

Value box_iou(Value a, Value b) {
    Graph& g = common_graph("box_iou", {a, b});
    return g.add_node1(op_def("box_iou"), {a, b});
}

Value nms(Value boxes, Value scores, double iou_threshold) {
    Graph& g = common_graph("nms", {boxes, scores});
    return g.add_node1(op_def("nms"), {boxes, scores}, NmsAttrs{iou_threshold});
}

void register_box_ops(OpRegistry& r) {
    r.define("box_iou")
        .arity(2)
        .describe("IoU of every pair of (x1,y1,x2,y2) boxes: [N,4], [M,4] → [N,M] (0 where the union is not positive)")
        .infer_shape(infer_box_iou)
        .kernel(box_iou_kernel)
        .cost([](const RuleContext& c) { return pairwise_cost(c, c.output(0).numel(), kIouFlops); })
        .gradient([](GradContext& g) {  // dIoU = ((U+I)/U²)·dI − (I/U²)·(dA_a + dA_b), I = w⁺h⁺
            Graph& graph = g.graph();
            const std::vector<Value> d = graph.add_node(op_def("box_iou_backward"), {g.grad_output(0), g.input(0), g.input(1)});
            return InputGrads{d[0], d[1]};
        })
        .samples(box_iou_samples)
        .error_samples(box_iou_error_samples);

    r.define("box_iou_backward")
        .arity(3)
        .describe("gradients of box_iou: (dy [N,M], a [N,4], b [M,4]) → (da, db)")
        .infer_shape(infer_box_iou_backward)
        .kernel(box_iou_backward_kernel)
        .cost([](const RuleContext& c) { return pairwise_cost(c, c.input(0).numel(), 2 * kIouFlops); })
        .not_differentiable("second derivatives of IoU are not implemented: IoU losses need only first order, so a Hessian-vector product through box_iou stops here")
        .samples(box_iou_backward_samples)
        .error_samples(box_iou_backward_error_samples);

    r.define("nms")
        .arity(2)
        .describe("greedy non-maximum suppression: i64 [N], kept box indices by decreasing score, then -1")
        .infer_shape(infer_nms)
        .attributes<NmsAttrs>()
        .kernel(nms_kernel)
        .cost([](const RuleContext& c) {  // at worst every pair's IoU once (the sort is not counted)
            const int64_t n = c.input(1).numel();
            return pairwise_cost(c, n * (n - 1) / 2, kIouFlops);
        })
        .not_differentiable("a selection of indices: piecewise constant in boxes and scores")
        .samples(nms_samples)
        .error_samples(nms_error_samples);
}

}  // namespace gg
