// split: one input cut along an axis into consecutive pieces, one output each; registered
// from register_shape_ops (the family lives in shape_ops.h).
//
// Its gradient is one concat of the pieces' gradients. The same pieces taken with K slices
// would each send back a zero-padded gradient of the whole input, K of them summed: O(K²)
// work and memory (a recurrent layer cutting its [T, N, G·H] input projection into T steps,
// or each step into its G gates, would build T full-size gradients).
#include <numeric>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/ops/kernels/strided_copy.h"
#include "graphgrad/ops/shape_ops.h"

namespace gg {

namespace {

struct SplitAttrs {
    int64_t axis = 0;
    std::vector<int64_t> sizes;  // along axis, summing to its extent
};

std::vector<TensorDesc> infer_split(const InferContext& c) {
    const TensorDesc& x = c.input(0);
    const auto& a = c.attrs_as<SplitAttrs>();
    if (x.rank() == 0) throw_shape("cannot split a scalar");
    const auto axis = static_cast<std::size_t>(normalize_axis(a.axis, x.rank()));
    if (a.sizes.empty()) throw_shape("no sizes: split needs at least one piece");
    for (int64_t s : a.sizes)
        if (s < 0) throw_shape("negative size {} in sizes {}", s, shape_str(a.sizes));
    const int64_t total = std::accumulate(a.sizes.begin(), a.sizes.end(), int64_t{0});
    if (total != x.shape[axis])
        throw_shape("sizes {} sum to {} but axis {} of {} has {}", shape_str(a.sizes), total, axis, shape_str(x.shape),
                    x.shape[axis]);
    std::vector<TensorDesc> out;
    for (int64_t s : a.sizes) {
        Shape piece = x.shape;
        piece[axis] = s;
        out.push_back({piece, x.dtype});
    }
    return out;
}

KernelFactory split_kernel() {
    return [](const KernelContext& c) {
        const Shape& in = c.inputs[0].shape;
        const auto axis = static_cast<std::size_t>(normalize_axis(c.attrs_as<SplitAttrs>().axis, static_cast<int>(in.size())));
        const auto ist = strides_of(in);
        std::vector<StridedCopy> copies;
        std::vector<int64_t> offsets;
        int64_t at = 0;
        for (const TensorDesc& out : c.outputs) {
            copies.emplace_back(out.shape, strides_of(out.shape), ist);
            offsets.push_back(at * ist[axis]);
            at += out.shape[axis];
        }
        return dispatch_bytes(c.inputs[0].dtype, [&](auto tag) {
            using U = decltype(tag);
            return make_kernel([copies, offsets](const KernelArgs& a) {
                for (std::size_t i = 0; i < copies.size(); ++i)
                    copies[i].run(static_cast<U*>(a.outputs[i]), static_cast<const U*>(a.inputs[0]) + offsets[i]);
            });
        });
    };
}

TensorDesc f64d(Shape s) { return TensorDesc{std::move(s), DType::F64}; }

}  // namespace

std::vector<Value> split(Value x, int64_t axis, std::vector<int64_t> sizes) {
    Graph& g = common_graph("split", {x});
    return g.add_node(op_def("split"), {x}, SplitAttrs{axis, std::move(sizes)});
}

void register_split_ops(OpRegistry& r) {
    r.define("split")
        .arity(1)
        .describe("cuts the input along one axis into consecutive pieces of the given sizes (one output each)")
        .infer_shape(infer_split)
        .attributes<SplitAttrs>()
        .kernel(split_kernel())
        .cost(data_movement_cost())
        .receptive_field([](const RuleContext& c) -> std::optional<SpatialReach> {
            // Cutting channels (or batches) keeps positions; cutting H or W shifts them per piece.
            if (c.input(0).rank() != 4 || normalize_axis(c.attrs_as<SplitAttrs>().axis, 4) >= 2) return std::nullopt;
            return SpatialReach::pointwise();
        })
        .gradient([](GradContext& g) {  // dx = concat(dy₀, dy₁, ...) along the axis (zeros for unused pieces)
            std::vector<Value> pieces;
            for (std::size_t i = 0; i < g.node().outputs.size(); ++i) pieces.push_back(g.grad_output(i));
            return InputGrads{concat(pieces, g.attrs<SplitAttrs>().axis)};
        })
        .samples([] {
            return std::vector<OpSample>{
                {"2 pieces, last axis", {floating({2, 5})}, SplitAttrs{1, {2, 3}}},
                {"3 pieces, first axis", {floating({6, 2})}, SplitAttrs{0, {1, 2, 3}}},
                {"negative axis, middle", {floating({2, 3, 2})}, SplitAttrs{-2, {1, 2}}},
                {"one piece", {floating({4})}, SplitAttrs{0, {4}}},
                {"unit pieces (time steps)", {floating({3, 2, 2})}, SplitAttrs{0, {1, 1, 1}}},
                {"image channels", {floating({1, 3, 2, 3})}, SplitAttrs{1, {2, 1}}},
            };
        })
        .error_samples([] {
            return std::vector<ErrorSample>{
                {"sizes do not cover the axis", {f64d({2, 5})}, SplitAttrs{1, {2, 2}},
                 "sizes [2,2] sum to 4 but axis 1 of [2,5] has 5"},
                {"negative size", {f64d({4})}, SplitAttrs{0, {5, -1}}, "negative size -1 in sizes [5,-1]"},
                {"axis out of range", {f64d({2, 3})}, SplitAttrs{2, {2}}, "axis 2 is out of range for rank 2"},
                {"scalar", {f64d({})}, SplitAttrs{0, {1}}, "cannot split a scalar"},
                {"no pieces", {f64d({3})}, SplitAttrs{0, {}}, "no sizes"},
            };
        });
}

}  // namespace gg
