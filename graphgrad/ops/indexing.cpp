// Indexing ops with i64 indices: gather / scatter_add (torch.gather and torch.scatter_add on
// zeros, each the other's gradient) and index_select / index_add (whole slices; embedding is
// index_select on axis 0). Index inputs are non-differentiable; an index outside the indexed
// axis raises gg::RuntimeError at run time naming the node, the index and its position.
//
// Tensors are viewed as [outer, axis, inner]. Scatters are parallel over (outer, inner) columns:
// each column owns a disjoint set of output elements, so there are no write races and the
// summation order (along the axis) is fixed, whatever the thread count.
#include "graphgrad/ops/indexing.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/shape_ops.h"
#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/kernels/strided_copy.h"

namespace gg {

namespace {

struct AxisAttrs {  // gather, index_select
    int64_t axis = 0;
    // index_select only: the slice at this index gets no gradient (embedding's padding_idx, as
    // PyTorch). A deliberate non-derivative, so no registry sample sets it (gradcheck would
    // rightly disagree); tests/test_ops_indexing.cpp checks it against hand values.
    std::optional<int64_t> frozen_index;
    // embedding(..., {.sparse_grad = true}): the table's gradient is row-sparse (ids + rows of
    // dy), see graph/gradient.h. Axis 0 only.
    bool sparse_grad = false;
};
struct ScatterAttrs {  // scatter_add, index_add: the output shape and the indexed axis
    Shape shape;
    int64_t axis = 0;
};

int64_t prod(const Shape& s, std::size_t b, std::size_t e) {
    int64_t p = 1;
    for (std::size_t i = b; i < e; ++i) p *= s[i];
    return p;
}

void require_index(const TensorDesc& idx) {
    if (idx.dtype != DType::I64) throw_shape("index must be i64, got {}", desc_str(idx));
}

// ---- geometry -------------------------------------------------------------------------------
// gather/scatter_add: the index tensor (shape `is`) addresses a tensor of shape `ts` that is at
// least as large on every other axis. Offsets into `ts` of the index's outer and inner
// coordinates are tabulated once, at kernel creation.
struct GatherGeometry {
    int64_t outer = 1, j = 1, inner = 1;  // index viewed as [outer, j, inner]
    int64_t axis_size = 0, axis_stride = 0;
    std::vector<int64_t> outer_off, inner_off;
};

// Row-major offsets, under `strides`, of every coordinate of `sub`.
std::vector<int64_t> offsets_of(const Shape& sub, const std::vector<int64_t>& strides) {
    std::vector<int64_t> out{0};
    for (std::size_t d = 0; d < sub.size(); ++d) {
        std::vector<int64_t> next;
        next.reserve(out.size() * static_cast<std::size_t>(sub[d]));
        for (int64_t base : out)
            for (int64_t k = 0; k < sub[d]; ++k) next.push_back(base + k * strides[d]);
        out = std::move(next);
    }
    return out;
}

GatherGeometry gather_geometry(const Shape& is, const Shape& ts, int64_t axis_attr) {
    const auto a = static_cast<std::size_t>(normalize_axis(axis_attr, static_cast<int>(ts.size())));
    const std::vector<int64_t> st = strides_of(ts);
    GatherGeometry g;
    g.outer = prod(is, 0, a);
    g.j = is[a];
    g.inner = prod(is, a + 1, is.size());
    g.axis_size = ts[a];
    g.axis_stride = st[a];
    g.outer_off = offsets_of(Shape(is.begin(), is.begin() + static_cast<std::ptrdiff_t>(a)),
                             std::vector<int64_t>(st.begin(), st.begin() + static_cast<std::ptrdiff_t>(a)));
    g.inner_off = offsets_of(Shape(is.begin() + static_cast<std::ptrdiff_t>(a) + 1, is.end()),
                             std::vector<int64_t>(st.begin() + static_cast<std::ptrdiff_t>(a) + 1, st.end()));
    return g;
}

// index_select/index_add: the full tensor [outer, axis_size, inner] and K = numel(index).
struct SelectGeometry {
    int64_t outer = 1, axis_size = 0, inner = 1, k = 0;
};

SelectGeometry select_geometry(const Shape& full, int64_t axis_attr, int64_t k) {
    const auto a = static_cast<std::size_t>(normalize_axis(axis_attr, static_cast<int>(full.size())));
    return {prod(full, 0, a), full[a], prod(full, a + 1, full.size()), k};
}

// One serial pass before the parallel loops: kernels then never see a bad index, and the
// error names the first one.
void check_indices(const char* op, const std::string& node, const int64_t* idx, int64_t n, int64_t size) {
    for (int64_t i = 0; i < n; ++i)
        if (idx[i] < 0 || idx[i] >= size)
            throw_runtime("{} \"{}\": index {} at position {} is outside [0, {})", op, node, idx[i], i, size);
}

// ---- kernels --------------------------------------------------------------------------------
std::unique_ptr<Kernel> gather_kernel(const KernelContext& c) {
    auto geo = std::make_shared<GatherGeometry>(
        gather_geometry(c.inputs[1].shape, c.inputs[0].shape, c.attrs_as<AxisAttrs>().axis));
    const int64_t n = c.inputs[1].numel();
    // Copies only move bits: one instantiation per element width (f32 → 4 bytes, f64/i64 → 8).
    return dispatch_bytes(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([geo, n, node = c.node.name](const KernelArgs& a) {
            const auto* x = static_cast<const T*>(a.inputs[0]);
            const auto* idx = static_cast<const int64_t*>(a.inputs[1]);
            auto* y = static_cast<T*>(a.outputs[0]);
            const GatherGeometry& g = *geo;
            check_indices("gather", node, idx, n, g.axis_size);
            parallel_range(
                g.outer * g.j,
                [&](int64_t r0, int64_t r1) {
                    // Locals: y's (u)int64 stores could otherwise alias the geometry's fields.
                    const int64_t j = g.j, inner = g.inner, stride = g.axis_stride;
                    const int64_t* outer_off = g.outer_off.data();
                    const int64_t* inner_off = g.inner_off.data();
                    for (int64_t r = r0; r < r1; ++r) {
                        const int64_t base = outer_off[r / j];
                        for (int64_t i = 0; i < inner; ++i) {
                            const int64_t e = r * inner + i;
                            y[e] = x[base + idx[e] * stride + inner_off[i]];
                        }
                    }
                },
                grain_for(g.inner));
        });
    });
}

// Inner columns handled per task: enough to keep rows contiguous, small enough to split.
constexpr int64_t kColumnChunk = 256;

std::unique_ptr<Kernel> scatter_add_kernel(const KernelContext& c) {
    const auto& at = c.attrs_as<ScatterAttrs>();
    auto geo = std::make_shared<GatherGeometry>(gather_geometry(c.inputs[1].shape, at.shape, at.axis));
    const int64_t n = c.inputs[1].numel(), out_n = numel(at.shape);
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([geo, n, out_n, node = c.node.name](const KernelArgs& a) {
            const auto* src = static_cast<const T*>(a.inputs[0]);
            const auto* idx = static_cast<const int64_t*>(a.inputs[1]);
            auto* y = static_cast<T*>(a.outputs[0]);
            const GatherGeometry& g = *geo;
            check_indices("scatter_add", node, idx, n, g.axis_size);
            parallel_range(out_n, [&](int64_t b, int64_t e) { std::fill(y + b, y + e, T(0)); });
            const int64_t chunks = (g.inner + kColumnChunk - 1) / kColumnChunk;
            parallel_range(
                g.outer * chunks,
                [&](int64_t t0, int64_t t1) {
                    for (int64_t t = t0; t < t1; ++t) {
                        const int64_t o = t / chunks, i0 = (t % chunks) * kColumnChunk;
                        const int64_t i1 = std::min(g.inner, i0 + kColumnChunk);
                        const int64_t base = g.outer_off[static_cast<std::size_t>(o)];
                        for (int64_t j = 0; j < g.j; ++j) {
                            const int64_t row = (o * g.j + j) * g.inner;
                            for (int64_t i = i0; i < i1; ++i) {
                                const auto ui = static_cast<std::size_t>(i);
                                y[base + idx[row + i] * g.axis_stride + g.inner_off[ui]] += src[row + i];
                            }
                        }
                    }
                },
                grain_for(g.j * std::min(g.inner, kColumnChunk)));
        });
    });
}

std::unique_ptr<Kernel> index_select_kernel(const KernelContext& c) {
    const SelectGeometry g = select_geometry(c.inputs[0].shape, c.attrs_as<AxisAttrs>().axis, c.inputs[1].numel());
    return dispatch_bytes(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([g, node = c.node.name](const KernelArgs& a) {
            const auto* x = static_cast<const T*>(a.inputs[0]);
            const auto* idx = static_cast<const int64_t*>(a.inputs[1]);
            auto* y = static_cast<T*>(a.outputs[0]);
            check_indices("index_select", node, idx, g.k, g.axis_size);
            parallel_range(
                g.outer * g.k,
                [&](int64_t r0, int64_t r1) {
                    for (int64_t r = r0; r < r1; ++r) {
                        const int64_t o = r / g.k, k = r % g.k;
                        std::copy_n(x + (o * g.axis_size + idx[k]) * g.inner, g.inner, y + r * g.inner);
                    }
                },
                grain_for(g.inner));
        });
    });
}

std::unique_ptr<Kernel> index_add_kernel(const KernelContext& c) {
    const auto& at = c.attrs_as<ScatterAttrs>();
    const SelectGeometry g = select_geometry(at.shape, at.axis, c.inputs[1].numel());
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([g, node = c.node.name](const KernelArgs& a) {
            const auto* src = static_cast<const T*>(a.inputs[0]);
            const auto* idx = static_cast<const int64_t*>(a.inputs[1]);
            auto* y = static_cast<T*>(a.outputs[0]);
            check_indices("index_add", node, idx, g.k, g.axis_size);
            const int64_t chunks = (g.inner + kColumnChunk - 1) / kColumnChunk;
            const int64_t work_per_task = (g.k + g.axis_size) * std::min(g.inner, kColumnChunk);
            parallel_range(
                g.outer * chunks,
                [&](int64_t t0, int64_t t1) {
                    for (int64_t t = t0; t < t1; ++t) {
                        const int64_t o = t / chunks, i0 = (t % chunks) * kColumnChunk;
                        const int64_t w = std::min(g.inner, i0 + kColumnChunk) - i0;
                        T* yo = y + o * g.axis_size * g.inner + i0;
                        for (int64_t r = 0; r < g.axis_size; ++r) std::fill_n(yo + r * g.inner, w, T(0));
                        for (int64_t k = 0; k < g.k; ++k) {
                            const T* s = src + (o * g.k + k) * g.inner + i0;
                            T* d = yo + idx[k] * g.inner;
#pragma omp simd
                            for (int64_t i = 0; i < w; ++i) d[i] += s[i];
                        }
                    }
                },
                grain_for(work_per_task));
        });
    });
}

// ---- shape rules ----------------------------------------------------------------------------
// gather / scatter_add: index has the target's rank and fits inside it off the axis.
void check_fits(const Shape& index, const Shape& target, int axis, const char* target_name) {
    if (index.size() != target.size())
        throw_shape("index rank {} differs from {} rank {}", index.size(), target_name, target.size());
    for (std::size_t d = 0; d < index.size(); ++d)
        if (static_cast<int>(d) != axis && index[d] > target[d])
            throw_shape("index {} exceeds {} {} on axis {}", shape_str(index), target_name, shape_str(target), d);
}

std::vector<TensorDesc> infer_gather(const InferContext& c) {
    const TensorDesc &x = c.input(0), &idx = c.input(1);
    require_index(idx);
    const int axis = normalize_axis(c.attrs_as<AxisAttrs>().axis, x.rank());
    check_fits(idx.shape, x.shape, axis, "input");
    return {TensorDesc{idx.shape, x.dtype}};
}

std::vector<TensorDesc> infer_scatter_add(const InferContext& c) {
    const auto& at = c.attrs_as<ScatterAttrs>();
    const TensorDesc &src = c.input(0), &idx = c.input(1);
    if (!is_floating(src.dtype)) throw_shape("src must be floating point, got {}", desc_str(src));
    require_index(idx);
    if (idx.shape != src.shape)
        throw_shape("index {} and src {} must have the same shape", shape_str(idx.shape), shape_str(src.shape));
    const int axis = normalize_axis(at.axis, static_cast<int>(at.shape.size()));
    check_fits(idx.shape, at.shape, axis, "output");
    return {TensorDesc{at.shape, src.dtype}};
}

Shape selected_shape(const Shape& x, int axis, const Shape& index) {
    Shape out(x.begin(), x.begin() + axis);
    out.insert(out.end(), index.begin(), index.end());
    out.insert(out.end(), x.begin() + axis + 1, x.end());
    return out;
}

std::vector<TensorDesc> infer_index_select(const InferContext& c) {
    const TensorDesc &x = c.input(0), &idx = c.input(1);
    require_index(idx);
    const int axis = normalize_axis(c.attrs_as<AxisAttrs>().axis, x.rank());
    return {TensorDesc{selected_shape(x.shape, axis, idx.shape), x.dtype}};
}

std::vector<TensorDesc> infer_index_add(const InferContext& c) {
    const auto& at = c.attrs_as<ScatterAttrs>();
    const TensorDesc &src = c.input(0), &idx = c.input(1);
    if (!is_floating(src.dtype)) throw_shape("src must be floating point, got {}", desc_str(src));
    require_index(idx);
    const int axis = normalize_axis(at.axis, static_cast<int>(at.shape.size()));
    const Shape expect = selected_shape(at.shape, axis, idx.shape);
    if (src.shape != expect)
        throw_shape("src {} should be {} for index {} into {} on axis {}", shape_str(src.shape), shape_str(expect),
                    shape_str(idx.shape), shape_str(at.shape), axis);
    return {TensorDesc{at.shape, src.dtype}};
}

// ---- samples --------------------------------------------------------------------------------
// Deterministic indices in [0, size), with repeats whenever there are more than `size`.
Tensor indices(const Shape& s, int64_t size) {
    std::vector<int64_t> v(static_cast<std::size_t>(numel(s)));
    for (std::size_t k = 0; k < v.size(); ++k) v[k] = static_cast<int64_t>((k * 7 + 3) % static_cast<std::size_t>(size));
    return Tensor::from_vector<int64_t>(v, s);
}

SampleInput idx_in(Shape s, int64_t size) {
    Tensor t = indices(s, size);
    return given(t);
}

using D = TensorDesc;
const D kF32x34{{3, 4}};

std::vector<ErrorSample> index_dtype_errors(std::any attrs) {
    return {{"float index", {kF32x34, D{{3, 4}, DType::F32}}, attrs, "index must be i64, got f32[3,4]"}};
}

// Gathers read the index and only the values they pick; scatters read everything they add
// (one add per source element) and write the whole output.
OpCost gather_cost(const RuleContext& c) {
    return OpCost{.bytes_read = static_cast<int64_t>(c.input(1).bytes()) + c.output_bytes(), .bytes_written = c.output_bytes()};
}
OpCost scatter_cost(const RuleContext& c) {
    return OpCost{.flops = c.input(0).numel(), .bytes_read = c.input_bytes(), .bytes_written = c.output_bytes()};
}

// embedding's row-sparse table gradient: row k of dy belongs to table row ids[k]; rows of
// the padding id are zeroed (where, not a product: a NaN in dy must not leak into them).
InputGrad sparse_table_gradient(GradContext& g, std::optional<int64_t> padding) {
    Value table = g.input(0), ids = g.input(1), dy = g.grad_output(0);
    const int64_t k = ids.numel();
    Shape rows_shape = table.shape();
    rows_shape[0] = k;
    Value indices = reshape(ids, {k});
    Value rows = reshape(dy, rows_shape);
    if (padding) {
        Shape col(rows_shape.size(), 1);
        col[0] = k;
        Value keep = not_equal(reshape(ids, col), g.graph().constant(Tensor::scalar(static_cast<double>(*padding), DType::I64)));
        rows = where(keep, rows, scalar_like(rows, 0.0));
    }
    return InputGrad::row_sparse(RowSparse{indices, rows}, [shape = table.shape()](const RowSparse& p) {
        return index_add(shape, 0, p.indices, p.rows);
    });
}

}  // namespace

// ---- builders -------------------------------------------------------------------------------
Value gather(Value x, int64_t axis, Value index) {
    return common_graph("gather", {x, index}).add_node1(op_def("gather"), {x, index}, AxisAttrs{axis});
}
Value index_select(Value x, int64_t axis, Value index) {
    return common_graph("index_select", {x, index}).add_node1(op_def("index_select"), {x, index}, AxisAttrs{axis});
}
Value embedding(Value table, Value ids, std::optional<int64_t> padding_idx, EmbeddingOptions o) {
    if (table.rank() != 2) throw_graph("embedding: the table \"{}\" must be [V, D], got {}", table.name(), table.desc());
    Graph& g = common_graph("embedding", {table, ids});
    if (!padding_idx) return g.add_node1(op_def("index_select"), {table, ids}, AxisAttrs{0, std::nullopt, o.sparse_grad});
    const int64_t v = table.dim(0), p = *padding_idx;
    if (p < -v || p >= v)
        throw_graph("embedding: padding_idx {} is outside the table \"{}\" {} (allowed [{}, {}))", p, table.name(),
                    table.desc(), -v, v);
    return g.add_node1(op_def("index_select"), {table, ids}, AxisAttrs{0, p < 0 ? p + v : p, o.sparse_grad});
}
Value scatter_add(const Shape& shape, int64_t axis, Value index, Value src) {
    return common_graph("scatter_add", {src, index}).add_node1(op_def("scatter_add"), {src, index}, ScatterAttrs{shape, axis});
}
Value index_add(const Shape& shape, int64_t axis, Value index, Value src) {
    return common_graph("index_add", {src, index}).add_node1(op_def("index_add"), {src, index}, ScatterAttrs{shape, axis});
}

void register_indexing_ops(OpRegistry& r) {
    r.define("gather")
        .arity(2)
        .describe("torch.gather: y[..i..] = x[.., index[..i..], ..] along one axis (i64 index)")
        .infer_shape(infer_gather)
        .attributes<AxisAttrs>()
        .kernel(gather_kernel)
        .cost(gather_cost)
        .non_differentiable_inputs({1})
        .gradient([](GradContext& g) {  // dx = scatter_add(dy) to the gathered positions
            const auto axis = g.attrs<AxisAttrs>().axis;
            return InputGrads{scatter_add(g.input(0).shape(), axis, g.input(1), g.grad_output(0)), std::nullopt};
        })
        .samples([] {
            return std::vector<OpSample>{
                {"2d axis 1", {floating({3, 4}), idx_in({3, 2}, 4)}, AxisAttrs{1}, true},
                {"2d axis 0", {floating({3, 4}), idx_in({2, 4}, 3)}, AxisAttrs{0}, true},
                {"3d repeats along the axis", {floating({2, 3, 4}), idx_in({2, 5, 4}, 3)}, AxisAttrs{1}, true},
                {"index smaller off the axis", {floating({3, 4, 5}), idx_in({2, 3, 2}, 5)}, AxisAttrs{-1}, true},
            };
        })
        .error_samples([] {
            auto e = index_dtype_errors(AxisAttrs{1});
            e.push_back({"rank", {kF32x34, D{{3}, DType::I64}}, AxisAttrs{0}, "index rank 1 differs from input rank 2"});
            e.push_back({"too large off axis", {kF32x34, D{{4, 2}, DType::I64}}, AxisAttrs{1}, "index [4,2] exceeds input [3,4] on axis 0"});
            e.push_back({"axis", {kF32x34, D{{3, 4}, DType::I64}}, AxisAttrs{2}, "axis 2 is out of range for rank 2"});
            return e;
        });

    r.define("scatter_add")
        .arity(2)
        .describe("zeros(shape) with y[.., index[..i..], ..] += src[..i..] along one axis (i64 index)")
        .infer_shape(infer_scatter_add)
        .attributes<ScatterAttrs>()
        .kernel(scatter_add_kernel)
        .cost(scatter_cost)
        .non_differentiable_inputs({1})
        .gradient([](GradContext& g) {  // dsrc = gather(dy) at the scattered positions
            const auto axis = g.attrs<ScatterAttrs>().axis;
            return InputGrads{gather(g.grad_output(0), axis, g.input(1)), std::nullopt};
        })
        .samples([] {
            return std::vector<OpSample>{
                {"2d axis 1 with repeats", {floating({3, 6}), idx_in({3, 6}, 4)}, ScatterAttrs{{3, 4}, 1}, true},
                {"2d axis 0", {floating({2, 4}), idx_in({2, 4}, 3)}, ScatterAttrs{{3, 4}, 0}, true},
                {"3d smaller off the axis", {floating({2, 3, 2}), idx_in({2, 3, 2}, 5)}, ScatterAttrs{{3, 4, 5}, -1},
                 true},
            };
        })
        .error_samples([] {
            return std::vector<ErrorSample>{
                {"float index", {kF32x34, D{{3, 4}, DType::F32}}, ScatterAttrs{{3, 4}, 1}, "index must be i64, got f32[3,4]"},
                {"index vs src", {kF32x34, D{{3, 2}, DType::I64}}, ScatterAttrs{{3, 4}, 1}, "index [3,2] and src [3,4] must have the same shape"},
                {"exceeds output", {kF32x34, D{{3, 4}, DType::I64}}, ScatterAttrs{{2, 4}, 1}, "index [3,4] exceeds output [2,4] on axis 0"},
                {"integer src", {D{{3, 4}, DType::I64}, D{{3, 4}, DType::I64}}, ScatterAttrs{{3, 4}, 1}, "src must be floating point"},
            };
        });

    r.define("index_select")
        .arity(2)
        .describe("whole slices picked along one axis: the axis is replaced by index's shape (embedding)")
        .infer_shape(infer_index_select)
        .attributes<AxisAttrs>()
        .kernel(index_select_kernel)
        .cost(gather_cost)
        .non_differentiable_inputs({1})
        .gradient([](GradContext& g) {  // dx = index_add(dy): each picked slice's gradient summed back
            const auto& at = g.attrs<AxisAttrs>();
            Value x = g.input(0);
            if (at.sparse_grad) return InputGrads{sparse_table_gradient(g, at.frozen_index), std::nullopt};
            Value dx = index_add(x.shape(), at.axis, g.input(1), g.grad_output(0));
            if (!at.frozen_index) return InputGrads{dx, std::nullopt};
            // dx ⊙ m, m = 1 but 0 at the frozen slice: stays differentiable (a constant factor).
            const int axis = normalize_axis(at.axis, static_cast<int>(x.rank()));
            Shape ms(static_cast<std::size_t>(x.rank()), 1);
            ms[static_cast<std::size_t>(axis)] = x.dim(axis);
            Tensor mask = Tensor::zeros(ms, x.dtype());
            for (int64_t i = 0; i < x.dim(axis); ++i) mask.set(i, i == *at.frozen_index ? 0.0 : 1.0);
            return InputGrads{dx * x.graph->constant(std::move(mask)), std::nullopt};
        })
        .samples([] {
            return std::vector<OpSample>{
                {"embedding-like axis 0", {floating({6, 4}), idx_in({2, 5}, 6)}, AxisAttrs{0}, true},
                {"axis 1 with repeats", {floating({2, 3, 4}), idx_in({5}, 3)}, AxisAttrs{1}, true},
                {"scalar index", {floating({3, 4}), idx_in({}, 4)}, AxisAttrs{-1}, true},
            };
        })
        .error_samples([] {
            auto e = index_dtype_errors(AxisAttrs{0});
            e.push_back({"axis", {kF32x34, D{{2}, DType::I64}}, AxisAttrs{-3}, "axis -3 is out of range for rank 2"});
            return e;
        });

    r.define("index_add")
        .arity(2)
        .describe("zeros(shape) with whole slices of src added at index along one axis (embedding gradient)")
        .infer_shape(infer_index_add)
        .attributes<ScatterAttrs>()
        .kernel(index_add_kernel)
        .cost(scatter_cost)
        .non_differentiable_inputs({1})
        .gradient([](GradContext& g) {  // dsrc = index_select(dy): the slices each src slice was added to
            const auto axis = g.attrs<ScatterAttrs>().axis;
            return InputGrads{index_select(g.grad_output(0), axis, g.input(1)), std::nullopt};
        })
        .samples([] {
            return std::vector<OpSample>{
                {"embedding gradient", {floating({2, 5, 4}), idx_in({2, 5}, 6)}, ScatterAttrs{{6, 4}, 0}, true},
                {"axis 1 with repeats", {floating({2, 5, 4}), idx_in({5}, 3)}, ScatterAttrs{{2, 3, 4}, 1}, true},
                {"scalar index", {floating({3}), idx_in({}, 4)}, ScatterAttrs{{3, 4}, -1}, true},
            };
        })
        .error_samples([] {
            return std::vector<ErrorSample>{
                {"float index", {kF32x34, D{{4}, DType::F32}}, ScatterAttrs{{3, 4}, 1}, "index must be i64, got f32[4]"},
                {"src shape", {kF32x34, D{{2}, DType::I64}}, ScatterAttrs{{3, 5}, 1}, "src [3,4] should be [3,2] for index [2] into [3,5] on axis 1"},
                {"integer src", {D{{3, 4}, DType::I64}, D{{4}, DType::I64}}, ScatterAttrs{{3, 4}, 1}, "src must be floating point"},
            };
        });
}

}  // namespace gg
