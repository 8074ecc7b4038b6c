// Reductions: sum, mean, max over any set of axes, with keepdims.
//
// Kernels (ops/reduce_kernel.h) coalesce the input into groups of adjacent kept / reduced
// dims and walk the trailing group contiguously: rows, columns, batch axes and non-adjacent
// axis sets are vectorised loops, parallel over outputs or, for one long output row, over a
// fixed split of the reduced range. f32 accumulates in double.
#include "graphgrad/ops/reduction.h"

#include <algorithm>
#include <numeric>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/broadcast.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/ops/kernels/reduce_kernel.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/shape_ops.h"

namespace gg {

namespace {

struct ReduceAttrs {
    std::vector<int64_t> axes;  // normalised and sorted by the builders; shape rules accept raw
    bool keepdims = false;
};

// Sorted, non-negative axes; empty means all. Throws ShapeError naming the bad axis.
std::vector<int64_t> canonical_axes(const std::vector<int64_t>& axes, int rank) {
    std::vector<int64_t> out;
    if (axes.empty()) {
        for (int k = 0; k < rank; ++k) out.push_back(k);
        return out;
    }
    for (int64_t a : axes) {
        if (a < -rank || a >= rank) throw_shape("reduction axis {} is out of range for rank {}", a, rank);
        out.push_back(a < 0 ? a + rank : a);
    }
    std::sort(out.begin(), out.end());
    if (std::adjacent_find(out.begin(), out.end()) != out.end())
        throw_shape("duplicate reduction axis in [{}]", fmt::join(axes, ","));
    return out;
}

// x's shape with the reduced axes set to 1: the keepdims shape.
Shape kept_shape(const Shape& x, const std::vector<int64_t>& axes) {
    Shape s = x;
    for (int64_t a : axes) s[static_cast<std::size_t>(a)] = 1;
    return s;
}

std::vector<TensorDesc> infer_reduce(const InferContext& c, bool needs_floating, bool needs_nonempty) {
    const auto& a = c.attrs_as<ReduceAttrs>();
    const TensorDesc& x = c.input(0);
    if (needs_floating && !is_floating(x.dtype)) throw_shape("{} needs a floating input, got {}", c.op_name, x);
    auto axes = canonical_axes(a.axes, x.rank());
    Shape out;
    for (int k = 0; k < x.rank(); ++k) {
        const bool reduced = std::binary_search(axes.begin(), axes.end(), k);
        const int64_t d = x.shape[static_cast<std::size_t>(k)];
        if (reduced && needs_nonempty && d == 0) throw_shape("{} over axis {} of size 0 has no value", c.op_name, k);
        if (!reduced) out.push_back(d);
        else if (a.keepdims) out.push_back(1);
    }
    return {TensorDesc{out, x.dtype}};
}

// ---- kernels (loops in ops/reduce_kernel.h) ----------------------------------------------
template <typename Op>
KernelFactory reduce_kernel(bool mean) {
    return [mean](const KernelContext& c) -> std::unique_ptr<Kernel> {
        const TensorDesc& x = c.inputs[0];
        const auto& a = c.attrs_as<ReduceAttrs>();
        auto plan = reduce::make_plan(x.shape, canonical_axes(a.axes, x.rank()));
        const auto scratch = static_cast<std::size_t>(plan.splits * plan.inner) * 8;  // accumulators are ≤ 8 bytes
        auto body = [plan, mean](auto tag, const KernelArgs& args) {
            using T = decltype(tag);
            reduce::run_reduce<Op, T>(plan, mean, static_cast<const T*>(args.inputs[0]),
                                      static_cast<T*>(args.outputs[0]), static_cast<reduce::AccOf<Op, T>*>(args.scratch));
        };
        switch (x.dtype) {
            case DType::F32: return make_kernel([body](const KernelArgs& args) { body(float{}, args); }, scratch);
            case DType::F64: return make_kernel([body](const KernelArgs& args) { body(double{}, args); }, scratch);
            case DType::I64: return make_kernel([body](const KernelArgs& args) { body(int64_t{}, args); }, scratch);
        }
        throw_runtime("{}: unsupported dtype {}", c.node.op_name(), x.dtype);
    };
}

// ---- gradient helpers ----------------------------------------------------------------------
// dy in x's rank (reduced axes as 1), then broadcast to x's shape.
Value expand_back(Value dy, const Shape& x_shape, const std::vector<int64_t>& axes) {
    Shape ks = kept_shape(x_shape, axes);
    if (dy.shape() != ks) dy = reshape(dy, ks);
    return broadcast_to(dy, x_shape);
}

int64_t reduced_count(const Shape& x, const std::vector<int64_t>& axes) {
    int64_t n = 1;
    for (int64_t a : axes) n *= x[static_cast<std::size_t>(a)];
    return n;
}

Value reduce_node(const char* op, Value x, std::vector<int64_t> axes, bool keepdims) {
    Graph& g = common_graph(op, {x});  // a clear error for an empty Value before x.rank() is read
    ReduceAttrs a{std::move(axes), keepdims};
    // Normalise for the node's attributes; a bad axis list goes through as given so that the
    // shape rule reports it with the op, node and shapes.
    try {
        a.axes = canonical_axes(a.axes, x.rank());
    } catch (const ShapeError&) {
    }
    return g.add_node1(op_def(op), {x}, a);
}

// ---- samples ------------------------------------------------------------------------------
struct ReduceCase { const char* label; Shape shape; std::vector<int64_t> axes; bool keepdims; };

const std::vector<ReduceCase>& reduce_cases() {
    static const std::vector<ReduceCase> cases = {
        {"scalar", {}, {}, false},
        {"1d all", {5}, {}, false},
        {"2d rows", {3, 4}, {1}, false},
        {"2d cols keepdims", {3, 4}, {0}, true},
        {"3d non-adjacent", {2, 3, 4}, {0, 2}, false},
        {"3d last negative keepdims", {2, 3, 4}, {-1}, true},
        {"4d middle pair", {2, 3, 2, 3}, {1, 2}, false},
        {"4d outer and last keepdims", {2, 2, 3, 2}, {0, -1}, true},
        {"4d all keepdims", {2, 3, 2, 2}, {}, true},
        {"4d three axes", {2, 3, 2, 2}, {-3, 0, 3}, false},
        {"4d H and W (global pooling)", {2, 3, 3, 4}, {2, 3}, false},
    };
    return cases;
}

// Distinct values (a permutation of an even grid in [-2, 2]): every slice has one maximum,
// at least 4/n away from the runner-up, so central differences never cross a kink.
Tensor distinct_values(const Shape& shape) {
    const int64_t n = numel(shape);
    int64_t k = 7;
    while (std::gcd(k, n) != 1) k += 2;
    Tensor t = Tensor::zeros(shape, DType::F64);
    for (int64_t i = 0; i < n; ++i) t.set(i, -2.0 + 4.0 * (static_cast<double>((i * k) % n) + 0.5) / static_cast<double>(n));
    return t;
}

std::vector<OpSample> reduce_samples(bool distinct) {
    std::vector<OpSample> out;
    for (const auto& c : reduce_cases()) {
        SampleInput in{TensorDesc{c.shape, DType::F64}, Domain::AllReals, std::nullopt};
        if (distinct) in.data = distinct_values(c.shape);
        out.push_back(OpSample{c.label, {in}, ReduceAttrs{c.axes, c.keepdims}});
    }
    return out;
}

// Over [N, C, H, W]: a reduced spatial axis is read whole, a kept one position by position.
// Dropping axes other than both H and W leaves no grid.
std::optional<SpatialReach> reduce_reach(const RuleContext& c) {
    const auto& a = c.attrs_as<ReduceAttrs>();
    if (c.input(0).rank() != 4) return std::nullopt;
    const auto axes = canonical_axes(a.axes, 4);
    auto reduced = [&](int64_t k) { return std::find(axes.begin(), axes.end(), k) != axes.end(); };
    if (reduced(2) && reduced(3)) return SpatialReach::global();
    if (!a.keepdims && !axes.empty()) return std::nullopt;
    SpatialReach reach;
    for (std::size_t k = 0; k < 2; ++k)
        if (reduced(static_cast<int64_t>(2 + k))) reach.axes[k] = AxisReach::everywhere();
    return reach;
}

std::vector<ErrorSample> reduce_errors(bool mean, bool max) {
    std::vector<ErrorSample> out = {
        {"axis out of range", {TensorDesc{{2, 3}, DType::F64}}, ReduceAttrs{{2}, false}, "axis 2 is out of range for rank 2"},
        {"negative axis out of range", {TensorDesc{{2, 3}, DType::F64}}, ReduceAttrs{{-3}, false}, "axis -3 is out of range"},
        {"duplicate axis", {TensorDesc{{2, 3}, DType::F64}}, ReduceAttrs{{1, -1}, true}, "duplicate reduction axis in [1,-1]"},
    };
    if (mean) out.push_back({"integer input", {TensorDesc{{4}, DType::I64}}, ReduceAttrs{{}, false}, "needs a floating input"});
    if (max) out.push_back({"empty axis", {TensorDesc{{2, 0}, DType::F64}}, ReduceAttrs{{1}, false}, "axis 1 of size 0"});
    return out;
}

// What sum, mean and max share: one input, ReduceAttrs, a reduction's cost and reach; `floating`
// and `nonempty` select the shape rule's checks, and the error samples follow them. max
// (nonempty) samples distinct values: ties (kinks) would make central differences meaningless.
OpDef& define_reduction(OpRegistry& r, const char* name, const char* summary, KernelFactory kernel, bool floating,
                        bool nonempty) {
    return r.define(name)
        .arity(1)
        .describe(summary)
        .attributes<ReduceAttrs>()
        .infer_shape([floating, nonempty](const InferContext& c) { return infer_reduce(c, floating, nonempty); })
        .kernel(std::move(kernel))
        .cost(reduction_cost())
        .receptive_field(reduce_reach)
        .samples([nonempty] { return reduce_samples(nonempty); })
        .error_samples([floating, nonempty] { return reduce_errors(floating, nonempty); });
}

}  // namespace

Value sum(Value x, std::vector<int64_t> axes, bool keepdims) { return reduce_node("sum", x, std::move(axes), keepdims); }
Value mean(Value x, std::vector<int64_t> axes, bool keepdims) { return reduce_node("mean", x, std::move(axes), keepdims); }
Value max(Value x, std::vector<int64_t> axes, bool keepdims) { return reduce_node("max", x, std::move(axes), keepdims); }

void register_reduction_ops(OpRegistry& r) {
    define_reduction(r, "sum", "sum over axes (empty = all), optional keepdims", reduce_kernel<reduce::SumOp>(false),
                     false, false)
        .gradient([](GradContext& g) {  // dx = broadcast(dy): every summand has derivative 1
            Value x = g.input(0);
            auto axes = canonical_axes(g.attrs<ReduceAttrs>().axes, x.rank());
            return InputGrads{expand_back(g.grad_output(0), x.shape(), axes)};
        });

    define_reduction(r, "mean", "mean over axes (empty = all), optional keepdims", reduce_kernel<reduce::SumOp>(true),
                     true, false)
        .gradient([](GradContext& g) {  // dx = broadcast(dy) / n, n = elements per mean
            Value x = g.input(0);
            auto axes = canonical_axes(g.attrs<ReduceAttrs>().axes, x.rank());
            const int64_t n = reduced_count(x.shape(), axes);
            return InputGrads{expand_back(g.grad_output(0), x.shape(), axes) * (n > 0 ? 1.0 / static_cast<double>(n) : 0.0)};
        });

    define_reduction(r, "max", "maximum over axes (empty = all), optional keepdims; ties share the gradient",
                     reduce_kernel<reduce::MaxOp>(false), false, true)
        .gradient([](GradContext& g) {  // dx = dy · [x = max] / #ties: a subgradient split evenly
            Value x = g.input(0);
            auto axes = canonical_axes(g.attrs<ReduceAttrs>().axes, x.rank());
            Value mask = equal(x, expand_back(g.output(0), x.shape(), axes));
            Value ties = sum(mask, axes, true);
            Shape ks = kept_shape(x.shape(), axes);
            Value dy = g.grad_output(0);
            if (dy.shape() != ks) dy = reshape(dy, ks);
            return InputGrads{mask * broadcast_to(dy / ties, x.shape())};
        });
}

}  // namespace gg
