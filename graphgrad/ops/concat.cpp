// concat: joins inputs along one axis; registered from register_shape_ops (the family lives in
// shape_ops.h). The kernel is one strided copy per input into its slab of the output.
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/ops/kernels/strided_copy.h"
#include "graphgrad/ops/shape_ops.h"

namespace gg {

namespace {

struct ConcatAttrs {
    int64_t axis = 0;
};

TensorDesc f64d(Shape s) { return TensorDesc{std::move(s), DType::F64}; }

std::vector<TensorDesc> infer_concat(const InferContext& c) {
    const TensorDesc& first = c.input(0);
    if (first.rank() == 0) throw_shape("cannot concatenate scalars");
    const int axis = normalize_axis(c.attrs_as<ConcatAttrs>().axis, first.rank());
    Shape out = first.shape;
    out[static_cast<std::size_t>(axis)] = 0;
    for (std::size_t i = 0; i < c.inputs.size(); ++i) {
        const TensorDesc& d = c.input(i);
        if (d.dtype != first.dtype) throw_shape("input {} is {} but input 0 is {}", i, d.dtype, first.dtype);
        bool same = d.rank() == first.rank();
        for (int k = 0; same && k < d.rank(); ++k)
            same = k == axis || d.shape[static_cast<std::size_t>(k)] == first.shape[static_cast<std::size_t>(k)];
        if (!same)
            throw_shape("input {} {} does not match input 0 {} outside axis {}", i, shape_str(d.shape),
                        shape_str(first.shape), axis);
        out[static_cast<std::size_t>(axis)] += d.shape[static_cast<std::size_t>(axis)];
    }
    return {TensorDesc{out, first.dtype}};
}

KernelFactory concat_kernel() {
    return [](const KernelContext& c) {
        const Shape& out = c.outputs[0].shape;
        const int axis = normalize_axis(c.attrs_as<ConcatAttrs>().axis, static_cast<int>(out.size()));
        const auto ost = strides_of(out);
        std::vector<StridedCopy> copies;
        std::vector<int64_t> offsets;
        int64_t at = 0;
        for (const TensorDesc& in : c.inputs) {
            copies.emplace_back(in.shape, ost, strides_of(in.shape));
            offsets.push_back(at * ost[static_cast<std::size_t>(axis)]);
            at += in.shape[static_cast<std::size_t>(axis)];
        }
        return dispatch_bytes(c.outputs[0].dtype, [&](auto tag) {
            using U = decltype(tag);
            return make_kernel([copies, offsets](const KernelArgs& a) {
                for (std::size_t i = 0; i < copies.size(); ++i)
                    copies[i].run(static_cast<U*>(a.outputs[0]) + offsets[i], static_cast<const U*>(a.inputs[i]));
            });
        });
    };
}

// Joining channels (or batches) keeps positions; joining along H or W shifts them per input.
std::optional<SpatialReach> concat_reach(const RuleContext& c) {
    if (c.output(0).rank() != 4 || normalize_axis(c.attrs_as<ConcatAttrs>().axis, 4) >= 2) return std::nullopt;
    return SpatialReach::pointwise();
}

}  // namespace

Value concat(const std::vector<Value>& xs, int64_t axis) {
    Graph& g = common_graph("concat", xs);
    return g.add_node1(op_def("concat"), xs, ConcatAttrs{axis});
}

void register_concat_ops(OpRegistry& r) {
    r.define("concat")
        .arity(1, -1)
        .describe("joins inputs along one axis; other dims must match")
        .attributes<ConcatAttrs>()
        .cost(data_movement_cost())
        .receptive_field(concat_reach)
        .infer_shape(infer_concat)
        .kernel(concat_kernel())
        .gradient([](GradContext& g) {  // dxᵢ = dy[..., offᵢ : offᵢ + nᵢ, ...]
            const int axis = normalize_axis(g.attrs<ConcatAttrs>().axis, g.input(0).rank());
            Value dy = g.grad_output(0);
            InputGrads out;
            int64_t at = 0;
            for (std::size_t i = 0; i < g.num_inputs(); ++i) {
                const int64_t n = g.input(i).dim(axis);
                out.push_back(slice_axis(dy, axis, at, at + n));
                at += n;
            }
            return out;
        })
        .samples([] {
            return std::vector<OpSample>{
                {"2 inputs, last axis", {floating({2, 3}), floating({2, 4})}, ConcatAttrs{1}},
                {"3 inputs, middle axis", {floating({2, 1, 3}), floating({2, 2, 3}), floating({2, 3, 3})},
                 ConcatAttrs{1}},
                {"first axis", {floating({3, 2}), floating({2, 2})}, ConcatAttrs{0}},
                {"3 inputs, negative axis", {floating({2, 2, 1}), floating({2, 2, 3}), floating({2, 2, 2})},
                 ConcatAttrs{-1}},
                {"single input", {floating({2, 3})}, ConcatAttrs{0}},
                {"4d channels", {floating({1, 2, 3, 3}), floating({1, 1, 3, 3})}, ConcatAttrs{1}},
            };
        })
        .error_samples([] {
            return std::vector<ErrorSample>{
                {"mismatched non-axis dim", {f64d({2, 3}), f64d({3, 4})}, ConcatAttrs{1},
                 "input 1 [3,4] does not match input 0 [2,3] outside axis 1"},
                {"rank mismatch", {f64d({2, 3}), f64d({2, 3, 1})}, ConcatAttrs{0}, "does not match input 0"},
                {"axis out of range", {f64d({2, 3}), f64d({2, 3})}, ConcatAttrs{2}, "axis 2 is out of range for rank 2"},
                {"dtype mismatch", {f64d({2, 3}), TensorDesc{{2, 3}, DType::I64}}, ConcatAttrs{0}, "input 1 is i64 but input 0 is f64"},
                {"scalars", {f64d({}), f64d({})}, ConcatAttrs{0}, "cannot concatenate scalars"},
            };
        });
}

}  // namespace gg
