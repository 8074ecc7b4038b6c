// Shape manipulation: reshape, permute, slice (+ slice_grad). pad, concat and split live in
// pad.cpp, concat.cpp and split.cpp.
//
// All of these only move data, so kernels dispatch on the element width (dispatch_bytes) and
// run f32, f64 and i64 alike; the strided loops are StridedCopy (ops/strided_copy.h).
#include "graphgrad/ops/shape_ops.h"

#include <algorithm>
#include <cstring>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/kernels/strided_copy.h"

namespace gg {

void register_pad_ops(OpRegistry& r);     // ops/pad.cpp
void register_concat_ops(OpRegistry& r);  // ops/concat.cpp
void register_split_ops(OpRegistry& r);   // ops/split.cpp

namespace {

struct ReshapeAttrs {
    Shape shape;  // resolved by the builder; shape rules also resolve one -1
};
struct PermuteAttrs {
    std::vector<int64_t> perm;
};
struct SliceAttrs {
    std::vector<int64_t> starts, ends, steps;  // one per axis; normalised by the builder
};
struct SliceGradAttrs {  // dx = zeros(input_shape) with dy written into the slice
    Shape input_shape;
    SliceAttrs slice;
};

// Builders normalise attributes for the node; when normalisation fails the raw attributes go
// through so that the shape rule reports the error with the op, node and input shapes.
template <typename A, typename F>
A normalised_or_raw(A raw, F&& normalise) {
    try {
        return normalise(raw);
    } catch (const ShapeError&) {
        return raw;
    }
}

// ---- reshape ------------------------------------------------------------------------------
Shape resolve_shape(const Shape& target, const Shape& from) {
    const int64_t n = numel(from);
    int64_t known = 1, wild = -1;
    for (std::size_t k = 0; k < target.size(); ++k) {
        if (target[k] == -1) {
            if (wild >= 0) throw_shape("more than one -1 in target shape {}", shape_str(target));
            wild = static_cast<int64_t>(k);
        } else if (target[k] < 0) {
            throw_shape("negative dimension in target shape {}", shape_str(target));
        } else {
            known *= target[k];
        }
    }
    Shape out = target;
    if (wild >= 0) {
        if (known == 0 || n % known != 0)
            throw_shape("cannot resolve -1 in {} for {} elements", shape_str(target), n);
        out[static_cast<std::size_t>(wild)] = n / known;
    } else if (known != n) {
        throw_shape("cannot reshape {} ({} elements) to {} ({} elements)", shape_str(from), n, shape_str(target), known);
    }
    return out;
}

// Reshape copies. A true alias of a live input would need the memory planner to extend the
// input's lifetime to the alias's last use (it cannot yet); what it can do is hand a dying
// input's block to the output (.inplace), and then there is nothing to copy.
KernelFactory copy_kernel() {
    return [](const KernelContext& c) {
        const auto bytes = static_cast<int64_t>(c.outputs[0].bytes());
        return make_kernel([bytes](const KernelArgs& a) {
            const auto* src = static_cast<const char*>(a.inputs[0]);
            auto* dst = static_cast<char*>(a.outputs[0]);
            if (dst == src) return;  // in place: same bytes, same order
            parallel_range(bytes, [&](int64_t b, int64_t e) { std::memcpy(dst + b, src + b, static_cast<std::size_t>(e - b)); },
                           kParallelGrain * 8);
        });
    };
}

// ---- permute ------------------------------------------------------------------------------
std::vector<int64_t> canonical_perm(const std::vector<int64_t>& perm, int rank) {
    std::vector<int64_t> out;
    std::vector<char> seen(static_cast<std::size_t>(rank), 0);
    bool ok = static_cast<int>(perm.size()) == rank;
    for (int64_t p : perm) {
        if (!ok || p < -rank || p >= rank) { ok = false; break; }
        const int64_t q = p < 0 ? p + rank : p;
        ok = !seen[static_cast<std::size_t>(q)];
        seen[static_cast<std::size_t>(q)] = 1;
        out.push_back(q);
    }
    if (!ok) throw_shape("perm [{}] is not a permutation of the {} axes", fmt::join(perm, ","), rank);
    return out;
}

std::vector<int64_t> inverse_perm(const std::vector<int64_t>& p) {
    std::vector<int64_t> inv(p.size());
    for (std::size_t k = 0; k < p.size(); ++k) inv[static_cast<std::size_t>(p[k])] = static_cast<int64_t>(k);
    return inv;
}

// A kernel running one precomputed StridedCopy from input 0 (at src_offset) into output 0
// (at dst_offset), optionally zeroing the output first (slice_grad).
KernelFactory strided_kernel(std::function<StridedCopy(const KernelContext&, int64_t&, int64_t&, bool&)> make) {
    return [make](const KernelContext& c) {
        int64_t dst_off = 0, src_off = 0;
        bool zero = false;
        StridedCopy copy = make(c, dst_off, src_off, zero);
        const std::size_t bytes = c.outputs[0].bytes();
        return dispatch_bytes(c.outputs[0].dtype, [&](auto tag) {
            using U = decltype(tag);
            return make_kernel([copy, dst_off, src_off, zero, bytes](const KernelArgs& a) {
                if (zero) std::memset(a.outputs[0], 0, bytes);  // 0.0 and 0 are all-zero bits
                copy.run(static_cast<U*>(a.outputs[0]) + dst_off, static_cast<const U*>(a.inputs[0]) + src_off);
            });
        });
    };
}

// The meaning of permute, element by element: y[i] = x[Σₖ iₖ·stride_x(perm[k])] with i
// decomposed over y's shape. No dim merging, no tiles: what the StridedCopy kernel is tested
// against.
std::unique_ptr<Kernel> permute_reference(const KernelContext& c) {
    const Shape& x = c.inputs[0].shape;
    const Shape y = c.outputs[0].shape;
    const auto perm = canonical_perm(c.attrs_as<PermuteAttrs>().perm, static_cast<int>(x.size()));
    const auto xst = strides_of(x);
    std::vector<int64_t> src(perm.size());
    for (std::size_t k = 0; k < perm.size(); ++k) src[k] = xst[static_cast<std::size_t>(perm[k])];
    return dispatch_bytes(c.outputs[0].dtype, [&](auto tag) {
        using U = decltype(tag);
        return make_kernel([y, src](const KernelArgs& a) {
            const auto* in = static_cast<const U*>(a.inputs[0]);
            auto* out = static_cast<U*>(a.outputs[0]);
            for (int64_t o = 0; o < numel(y); ++o) {
                int64_t s = 0, rest = o;
                for (std::size_t k = y.size(); k-- > 0;) {
                    s += rest % y[k] * src[k];
                    rest /= y[k];
                }
                out[o] = in[s];
            }
        });
    });
}

// ---- slice --------------------------------------------------------------------------------
// Normalised slice (start in [0, dim], end clamped to [0, dim] and ≥ start, step > 0), and its
// output shape.
SliceAttrs canonical_slice(const SliceAttrs& a, const Shape& x, Shape* out_shape = nullptr) {
    const auto rank = x.size();
    if (a.starts.size() != rank || a.ends.size() != rank || !(a.steps.empty() || a.steps.size() == rank))
        throw_shape("slice needs one start, end (and step) per axis: {} starts, {} ends, {} steps for rank {}",
                    a.starts.size(), a.ends.size(), a.steps.size(), rank);
    SliceAttrs s{a.starts, a.ends, a.steps.empty() ? std::vector<int64_t>(rank, 1) : a.steps};
    Shape out(rank);
    for (std::size_t k = 0; k < rank; ++k) {
        const int64_t d = x[k];
        int64_t b = s.starts[k] < 0 ? s.starts[k] + d : s.starts[k];
        int64_t e = s.ends[k] < 0 ? s.ends[k] + d : s.ends[k];
        if (s.steps[k] <= 0) throw_shape("slice step {} on axis {} must be positive", s.steps[k], k);
        if (b < 0 || b > d) throw_shape("slice start {} is out of range for axis {} of size {}", s.starts[k], k, d);
        e = std::clamp<int64_t>(e, 0, d);
        if (b > e) throw_shape("slice start {} is beyond end {} on axis {}", s.starts[k], s.ends[k], k);
        s.starts[k] = b;
        s.ends[k] = e;
        out[k] = (e - b + s.steps[k] - 1) / s.steps[k];
    }
    if (out_shape) *out_shape = out;
    return s;
}

// The strided view of a slice: per-axis source strides (row-major · step) and its start offset.
StridedCopy slice_copy(const SliceAttrs& s, const Shape& x, const Shape& out, bool scatter, int64_t& x_off) {
    const auto xst = strides_of(x);
    x_off = 0;
    for (std::size_t k = 0; k < x.size(); ++k) x_off += s.starts[k] * xst[k];
    auto view = scaled_strides(x, s.steps);
    return scatter ? StridedCopy(out, view, strides_of(out)) : StridedCopy(out, strides_of(out), view);
}

Value slice_grad(Value dy, const Shape& x_shape, const SliceAttrs& s) {
    return dy.graph->add_node1(op_def("slice_grad"), {dy}, SliceGradAttrs{x_shape, s});
}

// ---- samples ------------------------------------------------------------------------------
TensorDesc f64d(Shape s) { return TensorDesc{std::move(s), DType::F64}; }

std::vector<OpSample> slice_samples() {
    return {
        {"1d step 1", {floating({6})}, SliceAttrs{{1}, {5}, {1}}},
        {"2d steps 2", {floating({5, 6})}, SliceAttrs{{0, 1}, {5, 6}, {2, 2}}},
        {"2d negative start and end", {floating({4, 5})}, SliceAttrs{{-3, 0}, {4, -1}, {1, 3}}},
        {"3d mixed, end clamps", {floating({3, 4, 5})}, SliceAttrs{{1, -4, 0}, {3, 100, 5}, {1, 2, 2}}},
        {"4d default steps", {floating({2, 3, 2, 4})}, SliceAttrs{{0, 1, 0, 1}, {2, 3, 1, 3}, {}}},
        {"4d crop with steps", {floating({1, 2, 7, 6})}, SliceAttrs{{0, 0, 1, 2}, {1, 2, 7, 6}, {1, 1, 2, 3}}},
    };
}

// ---- receptive fields ---------------------------------------------------------------------
// Output position (h, w) of [N, C, H, W] keeps input position (h, w) when the trailing two
// axes stay where they are with their sizes: a reshape of the leading axes, a permute of them.
std::optional<SpatialReach> keeps_grid(const RuleContext& c) {
    const Shape &x = c.input(0).shape, &y = c.output(0).shape;
    if (x.size() != 4 || y.size() != 4 || x[2] != y[2] || x[3] != y[3]) return std::nullopt;
    return SpatialReach::pointwise();
}

// A slice keeps every step-th index from start: output o reads input o·step + start.
std::array<AxisReach, 2> slice_axes(const SliceAttrs& s) {
    std::array<AxisReach, 2> axes;
    for (std::size_t a = 0; a < 2; ++a) axes[a] = AxisReach{.stride = s.steps[2 + a], .padding = -s.starts[2 + a]};
    return axes;
}

std::optional<SpatialReach> slice_reach(const RuleContext& c) {
    if (c.input(0).rank() != 4) return std::nullopt;
    return SpatialReach{slice_axes(canonical_slice(c.attrs_as<SliceAttrs>(), c.input(0).shape))};
}

// slice_grad writes dy[o] to dx[o·step + start]: the slice's windows, transposed.
std::optional<SpatialReach> slice_grad_reach(const RuleContext& c) {
    const auto& a = c.attrs_as<SliceGradAttrs>();
    if (a.input_shape.size() != 4) return std::nullopt;
    SpatialReach r{slice_axes(canonical_slice(a.slice, a.input_shape))};
    for (AxisReach& axis : r.axes) axis.transposed = true;
    return r;
}

}  // namespace

// ---- builders -----------------------------------------------------------------------------
Value reshape(Value x, Shape shape) {
    Graph& g = common_graph("reshape", {x});
    ReshapeAttrs a = normalised_or_raw(ReshapeAttrs{std::move(shape)},
                                       [&](const ReshapeAttrs& r) { return ReshapeAttrs{resolve_shape(r.shape, x.shape())}; });
    return g.add_node1(op_def("reshape"), {x}, std::move(a));
}

Value permute(Value x, std::vector<int64_t> perm) {
    Graph& g = common_graph("permute", {x});
    PermuteAttrs a = normalised_or_raw(PermuteAttrs{std::move(perm)},
                                       [&](const PermuteAttrs& p) { return PermuteAttrs{canonical_perm(p.perm, x.rank())}; });
    return g.add_node1(op_def("permute"), {x}, std::move(a));
}

Value transpose(Value x, int64_t axis0, int64_t axis1) {
    common_graph("transpose", {x});
    std::vector<int64_t> perm;
    for (int64_t k = 0; k < x.rank(); ++k) perm.push_back(k);
    try {
        std::swap(perm[static_cast<std::size_t>(normalize_axis(axis0, x.rank()))],
                  perm[static_cast<std::size_t>(normalize_axis(axis1, x.rank()))]);
    } catch (const ShapeError& e) {
        throw_graph("transpose \"{}\": {} (input {})", x.name(), e.what(), x.desc());
    }
    return permute(x, std::move(perm));
}

Value slice(Value x, std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> steps) {
    Graph& g = common_graph("slice", {x});
    SliceAttrs a = normalised_or_raw(SliceAttrs{std::move(starts), std::move(ends), std::move(steps)},
                                     [&](const SliceAttrs& s) { return canonical_slice(s, x.shape()); });
    return g.add_node1(op_def("slice"), {x}, std::move(a));
}

Value slice_axis(Value x, int64_t axis, int64_t start, int64_t end, int64_t step) {
    common_graph("slice", {x});
    std::vector<int64_t> starts(static_cast<std::size_t>(x.rank()), 0), ends = x.shape(), steps(starts.size(), 1);
    try {
        const auto k = static_cast<std::size_t>(normalize_axis(axis, x.rank()));
        starts[k] = start;
        ends[k] = end;
        steps[k] = step;
    } catch (const ShapeError& e) {
        throw_graph("slice_axis \"{}\": {} (input {})", x.name(), e.what(), x.desc());
    }
    return slice(x, std::move(starts), std::move(ends), std::move(steps));
}

void register_shape_ops(OpRegistry& r) {
    r.define("reshape")
        .arity(1)
        .describe("same elements in a new shape (one -1 is inferred)")
        .infer_shape([](const InferContext& c) {
            return std::vector<TensorDesc>{{resolve_shape(c.attrs_as<ReshapeAttrs>().shape, c.input(0).shape), c.input(0).dtype}};
        })
        .attributes<ReshapeAttrs>()
        .kernel(copy_kernel())
        .cost(data_movement_cost())  // when it runs out of place
        .receptive_field(keeps_grid)
        .inplace(0)
        .gradient([](GradContext& g) {  // dx = reshape(dy, shape(x))
            return InputGrads{reshape(g.grad_output(0), g.input(0).shape())};
        })
        .samples([] {
            return std::vector<OpSample>{
                {"3d to 2d", {floating({2, 3, 4})}, ReshapeAttrs{{6, 4}}},
                {"-1 resolved by the shape rule", {floating({2, 3, 4})}, ReshapeAttrs{{4, -1}}},
                {"1d to 3d", {floating({24})}, ReshapeAttrs{{2, 3, 4}}},
                {"to scalar", {floating({1, 1})}, ReshapeAttrs{{}}},
                {"scalar to 1d", {floating({})}, ReshapeAttrs{{1}}},
                {"4d regroup channels", {floating({2, 4, 2, 3})}, ReshapeAttrs{{4, 2, 2, 3}}},
            };
        })
        .error_samples([] {
            return std::vector<ErrorSample>{
                {"numel mismatch", {f64d({2, 3})}, ReshapeAttrs{{4, 2}}, "cannot reshape [2,3] (6 elements) to [4,2] (8 elements)"},
                {"two -1", {f64d({2, 3})}, ReshapeAttrs{{-1, -1}}, "more than one -1"},
                {"-1 does not divide", {f64d({2, 3})}, ReshapeAttrs{{4, -1}}, "cannot resolve -1 in [4,-1] for 6 elements"},
                {"negative dimension", {f64d({2, 3})}, ReshapeAttrs{{-2, -3}}, "negative dimension"},
            };
        });

    r.define("permute")
        .arity(1)
        .describe("reorders axes: output axis k is input axis perm[k]")
        .attributes<PermuteAttrs>()
        .cost(data_movement_cost())
        .receptive_field(keeps_grid)
        .infer_shape([](const InferContext& c) {
            const TensorDesc& x = c.input(0);
            Shape out;
            for (int64_t p : canonical_perm(c.attrs_as<PermuteAttrs>().perm, x.rank())) out.push_back(x.shape[static_cast<std::size_t>(p)]);
            return std::vector<TensorDesc>{{out, x.dtype}};
        })
        .fast_kernel(strided_kernel([](const KernelContext& c, int64_t&, int64_t&, bool&) {
            const Shape& x = c.inputs[0].shape;
            const auto perm = canonical_perm(c.attrs_as<PermuteAttrs>().perm, static_cast<int>(x.size()));
            const auto xst = strides_of(x);
            std::vector<int64_t> src(perm.size());
            for (std::size_t k = 0; k < perm.size(); ++k) src[k] = xst[static_cast<std::size_t>(perm[k])];
            return StridedCopy(c.outputs[0].shape, strides_of(c.outputs[0].shape), src);
        }))
        .reference(permute_reference)
        .gradient([](GradContext& g) {  // dx = permute(dy, perm⁻¹)
            auto perm = canonical_perm(g.attrs<PermuteAttrs>().perm, g.input(0).rank());
            return InputGrads{permute(g.grad_output(0), inverse_perm(perm))};
        })
        .samples([] {
            return std::vector<OpSample>{
                {"2d transpose", {floating({3, 4})}, PermuteAttrs{{1, 0}}},
                {"3d rotate", {floating({2, 3, 4})}, PermuteAttrs{{2, 0, 1}}},
                {"3d last two (tiled)", {floating({2, 9, 10})}, PermuteAttrs{{0, 2, 1}}},
                {"4d nchw to nhwc", {floating({2, 3, 2, 4})}, PermuteAttrs{{0, 2, 3, 1}}},
                {"4d scrambled, negative", {floating({2, 3, 2, 4})}, PermuteAttrs{{-1, 1, 0, 2}}},
                {"4d swap N and C", {floating({2, 3, 2, 4})}, PermuteAttrs{{1, 0, 2, 3}}},
            };
        })
        .error_samples([] {
            return std::vector<ErrorSample>{
                {"wrong length", {f64d({2, 3})}, PermuteAttrs{{0}}, "perm [0] is not a permutation of the 2 axes"},
                {"repeated axis", {f64d({2, 3, 4})}, PermuteAttrs{{0, 2, 0}}, "perm [0,2,0] is not a permutation"},
                {"axis out of range", {f64d({2, 3})}, PermuteAttrs{{0, 2}}, "perm [0,2] is not a permutation"},
            };
        });

    r.define("slice")
        .arity(1)
        .describe("[start, end) with step > 0 on every axis; negative indices count from the end")
        .attributes<SliceAttrs>()
        .cost(copy_cost())
        .receptive_field(slice_reach)
        .infer_shape([](const InferContext& c) {
            Shape out;
            canonical_slice(c.attrs_as<SliceAttrs>(), c.input(0).shape, &out);
            return std::vector<TensorDesc>{{out, c.input(0).dtype}};
        })
        .kernel(strided_kernel([](const KernelContext& c, int64_t&, int64_t& src_off, bool&) {
            auto s = canonical_slice(c.attrs_as<SliceAttrs>(), c.inputs[0].shape);
            return slice_copy(s, c.inputs[0].shape, c.outputs[0].shape, false, src_off);
        }))
        .gradient([](GradContext& g) {  // dx = dy scattered into zeros at the sliced positions
            const Shape& x = g.input(0).shape();
            auto s = canonical_slice(g.attrs<SliceAttrs>(), x);
            if (std::all_of(s.steps.begin(), s.steps.end(), [](int64_t st) { return st == 1; })) {
                std::vector<std::pair<int64_t, int64_t>> pads;
                for (std::size_t k = 0; k < x.size(); ++k) pads.emplace_back(s.starts[k], x[k] - s.ends[k]);
                return InputGrads{pad(g.grad_output(0), std::move(pads))};
            }
            return InputGrads{slice_grad(g.grad_output(0), x, s)};
        })
        .samples(slice_samples)
        .error_samples([] {
            return std::vector<ErrorSample>{
                {"start beyond end", {f64d({5})}, SliceAttrs{{3}, {1}, {1}}, "slice start 3 is beyond end 1 on axis 0"},
                {"start out of range", {f64d({2, 5})}, SliceAttrs{{0, 6}, {2, 6}, {}}, "start 6 is out of range for axis 1 of size 5"},
                {"negative start out of range", {f64d({4})}, SliceAttrs{{-5}, {4}, {}}, "start -5 is out of range"},
                {"zero step", {f64d({5})}, SliceAttrs{{0}, {5}, {0}}, "slice step 0 on axis 0 must be positive"},
                {"too few axes", {f64d({2, 3})}, SliceAttrs{{0}, {1}, {}}, "1 starts, 1 ends, 0 steps for rank 2"},
            };
        });

    r.define("slice_grad")
        .arity(1)
        .describe("adjoint of slice: dy written into zeros of the input shape (emitted by slice's gradient)")
        .attributes<SliceGradAttrs>()
        .cost(data_movement_cost())
        .receptive_field(slice_grad_reach)
        .infer_shape([](const InferContext& c) {
            const auto& a = c.attrs_as<SliceGradAttrs>();
            Shape sliced;
            canonical_slice(a.slice, a.input_shape, &sliced);
            if (c.input(0).shape != sliced)
                throw_shape("dy {} does not match the slice shape {} of {}", shape_str(c.input(0).shape),
                            shape_str(sliced), shape_str(a.input_shape));
            return std::vector<TensorDesc>{{a.input_shape, c.input(0).dtype}};
        })
        .kernel(strided_kernel([](const KernelContext& c, int64_t& dst_off, int64_t&, bool& zero) {
            const auto& a = c.attrs_as<SliceGradAttrs>();
            zero = true;
            return slice_copy(canonical_slice(a.slice, a.input_shape), a.input_shape, c.inputs[0].shape, true, dst_off);
        }))
        .gradient([](GradContext& g) {  // slice_grad is linear; its adjoint is the slice itself
            const auto& a = g.attrs<SliceGradAttrs>();
            auto s = canonical_slice(a.slice, a.input_shape);
            return InputGrads{slice(g.grad_output(0), s.starts, s.ends, s.steps)};
        })
        .samples([] {
            std::vector<OpSample> out;
            for (OpSample s : slice_samples()) {
                const auto& a = std::any_cast<const SliceAttrs&>(s.attrs);
                Shape x = s.inputs[0].desc.shape, sliced;
                canonical_slice(a, x, &sliced);
                out.push_back(OpSample{s.label, {floating(sliced)}, SliceGradAttrs{x, a}});
            }
            return out;
        })
        .error_samples([] {
            return std::vector<ErrorSample>{
                {"dy shape mismatch", {f64d({4})}, SliceGradAttrs{{6}, SliceAttrs{{0}, {6}, {2}}},
                 "dy [4] does not match the slice shape [3] of [6]"},
            };
        });

    register_concat_ops(r);
    register_pad_ops(r);
    register_split_ops(r);
}

}  // namespace gg
