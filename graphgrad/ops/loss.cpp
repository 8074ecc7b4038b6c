#include "graphgrad/ops/loss.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/kernels/fast_exp.h"
#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/ops/reduction.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/softmax.h"

namespace gg {

namespace {

struct CrossEntropyAttrs {
    double label_smoothing = 0.0;
    int64_t ignore_index = kIgnoreIndex;
};

// "one_hot": labels i64 [...] → smoothed targets q = (1−ε)·onehot + ε/C with the C classes
// inserted at `axis` (−1: last), and all-zero where the label is ignore_index. Emitted by
// cross_entropy's gradient rule so that rule is made of differentiable graph ops.
struct OneHotAttrs {
    int64_t num_classes = 0;
    double label_smoothing = 0.0;
    DType dtype = DType::F32;
    int64_t axis = -1;
    std::optional<int64_t> ignore_index;
};

// "label_weights": labels i64 [N, d...] → [N, 1, d...] = [label ≠ ignore_index] / (number of
// such labels): the per-position weights of cross_entropy's mean, which only the data know.
struct LabelWeightsAttrs {
    int64_t ignore_index = kIgnoreIndex;
    DType dtype = DType::F32;
};

Value one_hot(Value labels, int64_t num_classes, double label_smoothing, DType dtype, int64_t axis,
              std::optional<int64_t> ignore_index) {
    Graph& g = common_graph("one_hot", {labels});
    return g.add_node1(op_def("one_hot"), {labels}, OneHotAttrs{num_classes, label_smoothing, dtype, axis, ignore_index});
}

Value label_weights(Value labels, int64_t ignore_index, DType dtype) {
    Graph& g = common_graph("label_weights", {labels});
    return g.add_node1(op_def("label_weights"), {labels}, LabelWeightsAttrs{ignore_index, dtype});
}

void check_smoothing(double eps) {
    if (!(eps >= 0.0 && eps <= 1.0)) throw_shape("label_smoothing must be in [0, 1], got {}", eps);
}

// Labels are data, so this is the one check that has to wait for run time. It runs before any
// parallel region (an exception must not leave an OpenMP region).
void check_labels(const char* op, const std::string& node, const int64_t* labels, int64_t n, int64_t c,
                  std::optional<int64_t> ignore = std::nullopt) {
    for (int64_t i = 0; i < n; ++i)
        if ((labels[i] < 0 || labels[i] >= c) && labels[i] != ignore)
            throw_runtime("{} \"{}\": label {} at index {} is outside [0, {}){}", op, node, labels[i], i, c,
                          ignore ? fmt::format(" and is not ignore_index {}", *ignore) : std::string());
}

int64_t product(const Shape& s, std::size_t from) {
    int64_t p = 1;
    for (std::size_t i = from; i < s.size(); ++i) p *= s[i];
    return p;
}

// ---- cross_entropy ------------------------------------------------------------------------

std::vector<TensorDesc> infer_cross_entropy(const InferContext& c) {
    const TensorDesc &x = c.input(0), &t = c.input(1);
    check_smoothing(c.attrs_as<CrossEntropyAttrs>().label_smoothing);
    if (x.rank() < 2) throw_shape("logits must be [N, C] or [N, C, d1, ...], got {}", desc_str(x));
    if (!is_floating(x.dtype)) throw_shape("logits must be floating point, got {}", desc_str(x));
    if (t.dtype != DType::I64) throw_shape("labels must be i64 class indices, got {}", desc_str(t));
    Shape expect = x.shape;
    expect.erase(expect.begin() + 1);
    if (t.shape != expect)
        throw_shape("labels {} do not match logits {}: expected {}", shape_str(t.shape), shape_str(x.shape), shape_str(expect));
    if (x.shape[1] == 0) throw_shape("logits {} have no classes", shape_str(x.shape));
    return {TensorDesc{{}, x.dtype}};
}

// Logits [N, C, d...] as N blocks of C rows of `inner` = Π d positions: class j of position
// (i, l) is x[(i·C + j)·inner + l]. [N, C] is inner = 1, contiguous rows.
struct ClassLayout {
    int64_t n = 0, c = 0, inner = 1;
};

// Per position: lse − (1−ε)·x_label − ε/C·Σ_c x_c with lse = m + log Σ exp(x − m) (stable),
// which is −Σ_c q_c·log_softmax(x)_c because Σ_c q_c = 1. Positions labelled ignore_index add
// nothing and the mean is over the others (PyTorch's reduction="mean"; none left gives NaN,
// as PyTorch). Sums in double.
template <typename T>
void cross_entropy_kernel(const std::string& node, ClassLayout s, double eps, int64_t ignore, const T* x,
                          const int64_t* labels, T* out) {
    const int64_t positions = s.n * s.inner, c = s.c, inner = s.inner;
    check_labels("cross_entropy", node, labels, positions, c, ignore);
    const double on = 1.0 - eps, off = eps / static_cast<double>(c);
    double total = 0;
    int64_t count = 0;
#pragma omp parallel for reduction(+ : total, count) schedule(static) if (positions * c > kParallelGrain)
    for (int64_t p = 0; p < positions; ++p) {
        if (labels[p] == ignore) continue;
        ++count;
        const T* row = x + (p / inner) * c * inner + p % inner;  // stride `inner` between classes
        double lse = 0, sx = 0;
        if (inner == 1) {
            const T m = row_max(row, c);
            const T e = exp_shifted(row, m, static_cast<T*>(nullptr), c);
            T sum = 0;
#pragma omp simd reduction(+ : sum)
            for (int64_t j = 0; j < c; ++j) sum += row[j];
            lse = static_cast<double>(m) + std::log(static_cast<double>(e));
            sx = static_cast<double>(sum);
        } else {
            double m = -std::numeric_limits<double>::infinity(), e = 0;
            for (int64_t j = 0; j < c; ++j) m = std::max(m, static_cast<double>(row[j * inner]));
            for (int64_t j = 0; j < c; ++j) {
                e += std::exp(static_cast<double>(row[j * inner]) - m);
                sx += static_cast<double>(row[j * inner]);
            }
            lse = m + std::log(e);
        }
        total += lse - on * static_cast<double>(row[labels[p] * inner]) - off * sx;
    }
    out[0] = count == 0 ? std::numeric_limits<T>::quiet_NaN() : static_cast<T>(total / static_cast<double>(count));
}

std::unique_ptr<Kernel> cross_entropy_factory(const KernelContext& c) {
    const Shape& xs = c.inputs[0].shape;
    const ClassLayout layout{xs[0], xs[1], product(xs, 2)};
    const auto& at = c.attrs_as<CrossEntropyAttrs>();
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([node = c.node.name, layout, eps = at.label_smoothing, ignore = at.ignore_index](const KernelArgs& a) {
            cross_entropy_kernel<T>(node, layout, eps, ignore, static_cast<const T*>(a.inputs[0]),
                                    static_cast<const int64_t*>(a.inputs[1]), static_cast<T*>(a.outputs[0]));
        });
    });
}

// d logits = (softmax over classes − q) · w · dy, w = [label ≠ ignore]/count per position:
// built from softmax, one_hot, label_weights and arithmetic so that it can be differentiated
// again (second order through softmax).
InputGrads cross_entropy_gradient(GradContext& g) {
    Value logits = g.input(0), labels = g.input(1), dy = g.grad_output(0);
    const auto& at = g.attrs<CrossEntropyAttrs>();
    Value q = one_hot(labels, logits.dim(1), at.label_smoothing, logits.dtype(), 1, at.ignore_index);
    Value w = label_weights(labels, at.ignore_index, logits.dtype());  // [N, 1, d...]
    return {(softmax(logits, 1) - q) * (w * dy), std::nullopt};
}

SampleInput labels_input(std::vector<int64_t> v) {
    const auto n = static_cast<int64_t>(v.size());
    return given(Tensor::from_vector<int64_t>(v, {n}));
}


std::vector<OpSample> cross_entropy_samples() {
    std::vector<double> big(12);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = 30.0 * std::sin(2.3 * static_cast<double>(i) + 0.5);
    SampleInput large{TensorDesc{{3, 4}, DType::F64}, Domain::AllReals, Tensor::from_vector<double>(big, {3, 4})};
    return {
        {"plain", {floating({4, 5}), labels_input({2, 0, 4, 1})}, CrossEntropyAttrs{0.0}, true},
        {"smoothing_0.1", {floating({4, 5}), labels_input({3, 3, 0, 4})}, CrossEntropyAttrs{0.1}, true},
        {"single_row", {floating({1, 3}), labels_input({1})}, CrossEntropyAttrs{0.0}, true},
        {"large_logits", {large, labels_input({0, 3, 2})}, CrossEntropyAttrs{0.1}, true},
        {"ignored_rows", {floating({4, 5}), labels_input({2, -100, 4, -100})}, CrossEntropyAttrs{0.1}, true},
        {"ignore_class_1", {floating({3, 4}), labels_input({1, 0, 3})}, CrossEntropyAttrs{0.0, 1}, true},
        {"NCL", {floating({2, 3, 4}), given(Tensor::from_vector<int64_t>({0, 2, -100, 1, 1, 1, 0, 2}, {2, 4}))},
         CrossEntropyAttrs{0.0}, true},
        {"NCHW_smoothing", {floating({2, 3, 2, 2}), given(Tensor::from_vector<int64_t>({0, 2, 1, 1, 2, -100, 0, 0}, {2, 2, 2}))},
         CrossEntropyAttrs{0.2}, true},
    };
}

std::vector<ErrorSample> cross_entropy_error_samples() {
    using D = TensorDesc;
    return {
        {"labels_not_i64", {D{{4, 5}}, D{{4}, DType::F32}}, CrossEntropyAttrs{}, "labels must be i64 class indices, got f32[4]"},
        {"batch_mismatch", {D{{4, 5}}, D{{3}, DType::I64}}, CrossEntropyAttrs{}, "labels [3] do not match logits [4,5]"},
        {"logits_rank_1", {D{{4}}, D{{4}, DType::I64}}, CrossEntropyAttrs{}, "logits must be [N, C] or [N, C, d1, ...], got f32[4]"},
        {"labels_not_NL", {D{{4, 5, 6}}, D{{4}, DType::I64}}, CrossEntropyAttrs{}, "labels [4] do not match logits [4,5,6]: expected [4,6]"},
        {"logits_integer", {D{{4, 5}, DType::I64}, D{{4}, DType::I64}}, CrossEntropyAttrs{}, "logits must be floating point"},
        {"smoothing_range", {D{{4, 5}}, D{{4}, DType::I64}}, CrossEntropyAttrs{1.5}, "label_smoothing must be in [0, 1]"},
    };
}

// ---- one_hot ------------------------------------------------------------------------------

std::vector<TensorDesc> infer_one_hot(const InferContext& c) {
    const auto& at = c.attrs_as<OneHotAttrs>();
    const TensorDesc& t = c.input(0);
    check_smoothing(at.label_smoothing);
    if (t.dtype != DType::I64) throw_shape("labels must be i64 class indices, got {}", desc_str(t));
    if (at.num_classes <= 0) throw_shape("num_classes must be positive, got {}", at.num_classes);
    if (!is_floating(at.dtype)) throw_shape("output dtype must be floating point, got {}", dtype_name(at.dtype));
    if (at.axis < -1 || at.axis > t.rank()) throw_shape("axis {} is out of range for labels {}", at.axis, shape_str(t.shape));
    Shape s = t.shape;
    s.insert(at.axis < 0 ? s.end() : s.begin() + at.axis, at.num_classes);
    return {TensorDesc{s, at.dtype}};
}

std::unique_ptr<Kernel> one_hot_factory(const KernelContext& c) {
    const auto& at = c.attrs_as<OneHotAttrs>();
    const Shape& ls = c.inputs[0].shape;
    const int64_t n = c.inputs[0].numel(), classes = at.num_classes;
    const int64_t inner = at.axis < 0 ? 1 : product(ls, static_cast<std::size_t>(at.axis));
    const double off = at.label_smoothing / static_cast<double>(classes), on = 1.0 - at.label_smoothing + off;
    return dispatch_float(at.dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([node = c.node.name, n, classes, inner, on, off, ignore = at.ignore_index](const KernelArgs& a) {
            const auto* labels = static_cast<const int64_t*>(a.inputs[0]);
            auto* q = static_cast<T*>(a.outputs[0]);
            check_labels("one_hot", node, labels, n, classes, ignore);
            std::fill(q, q + n * classes, static_cast<T>(off));
            for (int64_t p = 0; p < n; ++p) {  // class j of position p at ((p / inner)·C + j)·inner + p % inner
                T* base = q + (p / inner) * classes * inner + p % inner;
                if (labels[p] == ignore) {
                    for (int64_t j = 0; j < classes; ++j) base[j * inner] = T(0);
                } else {
                    base[labels[p] * inner] = static_cast<T>(on);
                }
            }
        });
    });
}

// ---- label_weights ------------------------------------------------------------------------

std::vector<TensorDesc> infer_label_weights(const InferContext& c) {
    const auto& at = c.attrs_as<LabelWeightsAttrs>();
    const TensorDesc& t = c.input(0);
    if (t.dtype != DType::I64) throw_shape("labels must be i64 class indices, got {}", desc_str(t));
    if (t.rank() < 1) throw_shape("labels must be [N, d...], got a scalar");
    if (!is_floating(at.dtype)) throw_shape("output dtype must be floating point, got {}", dtype_name(at.dtype));
    Shape s = t.shape;
    s.insert(s.begin() + 1, 1);
    return {TensorDesc{s, at.dtype}};
}

std::unique_ptr<Kernel> label_weights_factory(const KernelContext& c) {
    const auto& at = c.attrs_as<LabelWeightsAttrs>();
    const int64_t n = c.inputs[0].numel();
    return dispatch_float(at.dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([n, ignore = at.ignore_index](const KernelArgs& a) {
            const auto* labels = static_cast<const int64_t*>(a.inputs[0]);
            auto* w = static_cast<T*>(a.outputs[0]);
            const int64_t count = n - std::count(labels, labels + n, ignore);
            const T each = count > 0 ? T(1) / static_cast<T>(count) : T(0);  // all ignored: no gradient
            for (int64_t p = 0; p < n; ++p) w[p] = labels[p] == ignore ? T(0) : each;
        });
    });
}

// ---- stop_gradient ------------------------------------------------------------------------

std::unique_ptr<Kernel> copy_factory(const KernelContext& c) {
    const std::size_t bytes = c.outputs[0].bytes();
    return make_kernel([bytes](const KernelArgs& a) {
        if (a.outputs[0] != a.inputs[0] && bytes > 0) std::memcpy(a.outputs[0], a.inputs[0], bytes);
    });
}

}  // namespace

Value cross_entropy(Value logits, Value labels, double label_smoothing, int64_t ignore_index) {
    Graph& g = common_graph("cross_entropy", {logits, labels});
    return g.add_node1(op_def("cross_entropy"), {logits, labels}, CrossEntropyAttrs{label_smoothing, ignore_index});
}

Value one_hot(Value labels, int64_t num_classes, int64_t axis, DType dtype) {
    return one_hot(labels, num_classes, 0.0, dtype, axis, std::nullopt);
}

Value stop_gradient(Value x) {
    Graph& g = common_graph("stop_gradient", {x});
    return g.add_node1(op_def("stop_gradient"), {x});
}

void register_loss_ops(OpRegistry& r) {
    r.define("cross_entropy")
        .arity(2)
        .describe("mean over non-ignored positions of −Σ_c q_c·log softmax(logits)_c, q = (1−ε)·onehot + ε/C; "
                  "logits [N, C, d...], labels [N, d...]")
        .infer_shape(infer_cross_entropy)
        .attributes<CrossEntropyAttrs>()
        .kernel(cross_entropy_factory)
        .cost(reduction_cost(4))  // a log-softmax per row: max, exp, sum, subtract per logit
        .non_differentiable_inputs({1})
        .gradient(cross_entropy_gradient)  // d logits = (softmax(logits) − q)·dy·[label ≠ ignore]/count
        .samples(cross_entropy_samples)
        .error_samples(cross_entropy_error_samples);

    r.define("one_hot")
        .arity(1)
        .describe("labels i64 [...] → (1−ε)·onehot + ε/C, classes at attr axis, zero where ignored")
        .infer_shape(infer_one_hot)
        .attributes<OneHotAttrs>()
        .kernel(one_hot_factory)
        .cost(data_movement_cost())
        .not_differentiable("its only input is integer class indices")
        .samples([] {
            return std::vector<OpSample>{
                {"plain", {labels_input({2, 0, 4, 1})}, OneHotAttrs{5, 0.0, DType::F64}, true},
                {"smoothing_0.1", {labels_input({1, 1, 0})}, OneHotAttrs{3, 0.1, DType::F32}, true},
                {"classes_at_axis_1_ignored", {given(Tensor::from_vector<int64_t>({0, 2, -100, 1}, {2, 2}))},
                 OneHotAttrs{3, 0.1, DType::F64, 1, -100}, true},
            };
        })
        .error_samples([] {
            using D = TensorDesc;
            return std::vector<ErrorSample>{
                {"labels_not_i64", {D{{4}, DType::F32}}, OneHotAttrs{5, 0.0, DType::F32}, "labels must be i64"},
                {"no_classes", {D{{4}, DType::I64}}, OneHotAttrs{0, 0.0, DType::F32}, "num_classes must be positive"},
                {"axis", {D{{4}, DType::I64}}, OneHotAttrs{3, 0.0, DType::F32, 2}, "axis 2 is out of range for labels [4]"},
            };
        });

    r.define("label_weights")
        .arity(1)
        .describe("labels i64 [N, d...] → [N, 1, d...] = [label ≠ ignore_index] / count (cross_entropy's mean weights)")
        .infer_shape(infer_label_weights)
        .attributes<LabelWeightsAttrs>()
        .kernel(label_weights_factory)
        .cost(data_movement_cost())
        .not_differentiable("its only input is integer class indices")
        .samples([] {
            return std::vector<OpSample>{
                {"plain", {labels_input({2, 0, 4, 1})}, LabelWeightsAttrs{kIgnoreIndex, DType::F64}, true},
                {"ignored", {given(Tensor::from_vector<int64_t>({0, -100, 3, 3, -100, 1}, {2, 3}))},
                 LabelWeightsAttrs{kIgnoreIndex, DType::F32}, true},
            };
        })
        .error_samples([] {
            using D = TensorDesc;
            return std::vector<ErrorSample>{
                {"labels_not_i64", {D{{4}, DType::F32}}, LabelWeightsAttrs{}, "labels must be i64"},
                {"scalar", {D{{}, DType::I64}}, LabelWeightsAttrs{}, "labels must be [N, d...]"},
            };
        });

    // Identity forward whose gradient is zero by definition. That zero is a choice, not the
    // derivative of the forward (which is the identity), so no numerical check could confirm a
    // rule returning it; the explicit opt-out has the same effect in grad() (the node passes no
    // gradient back, x acts as a constant past it) and keeps gradcheck from "testing" it.
    r.define("stop_gradient")
        .arity(1)
        .describe("identity forward, zero gradient (treats its input as a constant)")
        .infer_shape(same_as_input(0))
        .kernel(copy_factory)
        .cost(data_movement_cost())
        .receptive_field(pointwise_reach())
        .inplace(0)
        .not_differentiable("its gradient is zero by definition: it marks its input as a constant")
        .samples([] {
            return std::vector<OpSample>{
                {"2d", {floating({3, 4})}, std::any{}, false},
                {"scalar", {floating({})}, std::any{}, false},
                {"image", {floating({1, 2, 2, 3})}, std::any{}, false},
                {"labels", {labels_input({3, 1, 2})}, std::any{}, false},
            };
        })
        .error_samples([] {
            using D = TensorDesc;
            return std::vector<ErrorSample>{{"two_inputs", {D{{3}}, D{{3}}}, std::any{}, "expects 1 inputs, got 2"}};
        });
}

}  // namespace gg
