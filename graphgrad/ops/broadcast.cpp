// broadcast_to and sum_to: the one place broadcasting happens (ARCHITECTURE.md §3). Each is
// the other's gradient. Both kernels work on a collapsed view of the two shapes (see
// BroadcastPlan in broadcast_kernels.h), so a bias add [N,C] + [C] is N contiguous row copies
// and its gradient is one pass of vectorised column sums.
#include "graphgrad/ops/broadcast.h"

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/kernels/broadcast_kernels.h"
#include "graphgrad/ops/internal/elementwise_rules.h"
#include "graphgrad/ops/internal/register_ops.h"

namespace gg {

Shape broadcast_shapes(const Shape& a, const Shape& b) {
    const std::size_t rank = std::max(a.size(), b.size());
    Shape out(rank);
    for (std::size_t i = 0; i < rank; ++i) {
        // Align trailing axes: missing leading axes count as size 1.
        const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
        const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
        if (da != db && da != 1 && db != 1)
            throw_shape("shapes {} and {} do not broadcast (axis {}: {} vs {})", shape_str(a), shape_str(b), i, da, db);
        out[i] = da == 1 ? db : da;
    }
    return out;
}

Value broadcast_to(Value x, const Shape& shape) {
    if (x.shape() == shape) return x;
    return x.graph->add_node1(op_def("broadcast_to"), {x}, shape);
}

Value sum_to(Value x, const Shape& shape) {
    if (x.shape() == shape) return x;
    return x.graph->add_node1(op_def("sum_to"), {x}, shape);
}

namespace {

// True when `small` broadcasts to `big` (NumPy rules, in one direction only).
bool broadcasts_to(const Shape& small, const Shape& big) {
    if (small.size() > big.size()) return false;
    const std::size_t lead = big.size() - small.size();
    for (std::size_t i = 0; i < small.size(); ++i)
        if (small[i] != big[lead + i] && small[i] != 1) return false;
    return true;
}

// (small, big) pairs: leading axes, size-1 axes, both, a scalar, and interleaved kept and
// broadcast axes (rank 4 collapses to 3 axes in the plan). broadcast_to goes small → big,
// sum_to big → small.
std::vector<OpSample> pair_samples(bool summing) {
    const std::vector<std::pair<Shape, Shape>> pairs = {{{3}, {2, 3}},          {{2, 1}, {2, 3}},          {{}, {2, 2}},
                                                        {{1, 3, 1}, {2, 3, 4}}, {{3, 1, 2}, {2, 3, 2, 2}}, {{1}, {5}},
                                                        {{2, 3, 1, 1}, {2, 3, 3, 4}}, {{1, 2, 3, 1}, {2, 2, 3, 4}}};
    std::vector<OpSample> out;
    for (const auto& [small, big] : pairs) {
        const Shape& from = summing ? big : small;
        const Shape& to = summing ? small : big;
        SampleInput x{TensorDesc{from, DType::F64}, Domain::AllReals, std::nullopt};
        out.push_back(OpSample{fmt::format("{} to {}", shape_str(from), shape_str(to)), {x}, to, true});
    }
    return out;
}

// [N, C, H, W] to [N, C, H', W']: per spatial axis the same size (each position reads its
// own) or a size-1 side (one position reads, or feeds, every position of the other).
std::optional<SpatialReach> broadcast_reach(const RuleContext& c) {
    const TensorDesc &x = c.input(0), &y = c.output(0);
    if (x.rank() != 4 || y.rank() != 4) return std::nullopt;
    SpatialReach reach;
    for (int a = 0; a < 2; ++a) {
        const int64_t in = x.shape[static_cast<std::size_t>(2 + a)], out = y.shape[static_cast<std::size_t>(2 + a)];
        if (in == out) continue;
        if (in != 1 && out != 1) return std::nullopt;
        reach.axes[static_cast<std::size_t>(a)] = AxisReach::everywhere();
    }
    return reach;
}

}  // namespace

void register_broadcast_ops(OpRegistry& r) {
    r.define("broadcast_to")
        .arity(1)
        .describe("repeat x along size-1 and missing leading axes to the target shape (NumPy rules)")
        .infer_shape([](const InferContext& c) {
            const Shape& target = c.attrs_as<Shape>();
            if (!broadcasts_to(c.input(0).shape, target))
                throw_shape("cannot broadcast {} to {}", shape_str(c.input(0).shape), shape_str(target));
            return std::vector<TensorDesc>{TensorDesc{target, c.input(0).dtype}};
        })
        .attributes<Shape>()
        .kernel(broadcast_kernel)
        .cost(data_movement_cost())
        .receptive_field(broadcast_reach)
        .gradient([](GradContext& g) {  // dx = Σ over the broadcast axes of dy
            return InputGrads{sum_to(g.grad_output(0), g.input(0).shape())};
        })
        .samples([] { return pair_samples(false); })
        .error_samples([] {
            return std::vector<ErrorSample>{
                ErrorSample{"incompatible", {TensorDesc{{2, 3}, DType::F32}}, Shape{4, 3}, "cannot broadcast [2,3] to [4,3]"},
                ErrorSample{"lower rank", {TensorDesc{{2, 3}, DType::F32}}, Shape{3}, "cannot broadcast [2,3] to [3]"},
            };
        });

    r.define("sum_to")
        .arity(1)
        .describe("sum x over the axes that broadcasting the target shape would repeat")
        .infer_shape([](const InferContext& c) {
            const Shape& target = c.attrs_as<Shape>();
            require_floating(c.input(0));
            if (!broadcasts_to(target, c.input(0).shape))
                throw_shape("cannot sum {} to {}: {} does not broadcast to {}", shape_str(c.input(0).shape),
                            shape_str(target), shape_str(target), shape_str(c.input(0).shape));
            return std::vector<TensorDesc>{TensorDesc{target, c.input(0).dtype}};
        })
        .attributes<Shape>()
        .kernel(sum_to_kernel)
        .cost(reduction_cost())
        .receptive_field(broadcast_reach)
        .gradient([](GradContext& g) {  // dx = broadcast of dy back to x's shape
            return InputGrads{broadcast_to(g.grad_output(0), g.input(0).shape())};
        })
        .samples([] { return pair_samples(true); })
        .error_samples([] {
            return std::vector<ErrorSample>{
                ErrorSample{"incompatible", {TensorDesc{{2, 3}, DType::F32}}, Shape{2}, "cannot sum [2,3] to [2]"},
                ErrorSample{"integer input", {TensorDesc{{2, 3}, DType::I64}}, Shape{3}, "must be floating point"},
            };
        });
}

}  // namespace gg
