// pad (constant / reflect / replicate) and pad_grad, its adjoint; registered from
// register_shape_ops (the family lives in shape_ops.h).
//
// Every padded position reads one input position (or the constant): per axis an index map
// out → in, the whole map being their product. pad copies rows through the maps; pad_grad sums
// dy over each input position's preimage (per axis a short list), so it too is a gather —
// parallel over dx with no write races and a fixed summation order.
#include <algorithm>
#include <array>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/shape_ops.h"
#include "graphgrad/ops/kernels/strided_copy.h"

namespace gg {

namespace {

using Pads = std::vector<std::pair<int64_t, int64_t>>;

struct PadAttrs {
    Pads pads;  // {before, after} per axis
    PadMode mode = PadMode::Constant;
    double value = 0.0;
};
struct PadGradAttrs {  // dx (of input_shape) = adjoint of pad applied to dy
    Shape input_shape;
    PadAttrs pad;
};

const char* mode_name(PadMode m) {
    switch (m) {
        case PadMode::Constant: return "constant";
        case PadMode::Reflect: return "reflect";
        case PadMode::Replicate: return "replicate";
    }
    return "?";
}

// Validates pads against x and returns the padded shape.
Shape padded_shape(const PadAttrs& a, const Shape& x) {
    if (a.pads.size() != x.size()) throw_shape("pad needs one {{before, after}} per axis: {} for rank {}", a.pads.size(), x.size());
    Shape out = x;
    for (std::size_t k = 0; k < x.size(); ++k) {
        const auto [b, e] = a.pads[k];
        if (b < 0 || e < 0) throw_shape("negative padding {{{}, {}}} on axis {}", b, e, k);
        if (a.mode == PadMode::Reflect && (b >= x[k] || e >= x[k]) && (b > 0 || e > 0))
            throw_shape("reflect padding {{{}, {}}} on axis {} needs pads < size {}", b, e, k, x[k]);
        if (a.mode == PadMode::Replicate && x[k] == 0 && (b > 0 || e > 0))
            throw_shape("replicate padding of the empty axis {}", k);
        out[k] += b + e;
    }
    return out;
}

// Input index read by output index o along one axis (-1: the constant).
int64_t source_index(int64_t o, int64_t before, int64_t n, PadMode mode) {
    const int64_t i = o - before;
    if (i >= 0 && i < n) return i;
    switch (mode) {
        case PadMode::Constant: return -1;
        case PadMode::Reflect: return i < 0 ? -i : 2 * (n - 1) - i;
        case PadMode::Replicate: return i < 0 ? 0 : n - 1;
    }
    return -1;
}

// Per-axis maps of one pad, built at kernel creation. A scalar is treated as shape [1].
struct PadMaps {
    Shape in, out;
    std::vector<int64_t> in_strides, out_strides;
    std::vector<std::vector<int64_t>> src;               // per axis: out index → in index
    std::vector<std::vector<int64_t>> pre_start, pre;    // per axis CSR: in index → out indices
    int64_t before_last = 0;                             // padding before the innermost axis

    PadMaps(const PadAttrs& a, const Shape& x) : in(x), out(padded_shape(a, x)) {
        Pads pads = a.pads;
        if (in.empty()) { in = out = {1}; pads = {{0, 0}}; }
        if (in.size() > StridedCopy::kMaxDims) throw_runtime("pad: rank {} (at most {})", in.size(), StridedCopy::kMaxDims);
        in_strides = strides_of(in);
        out_strides = strides_of(out);
        before_last = pads.back().first;
        for (std::size_t k = 0; k < in.size(); ++k) {
            std::vector<int64_t> m(static_cast<std::size_t>(out[k]));
            std::vector<int64_t> count(static_cast<std::size_t>(in[k]) + 1, 0);
            for (int64_t o = 0; o < out[k]; ++o) {
                m[static_cast<std::size_t>(o)] = source_index(o, pads[k].first, in[k], a.mode);
                if (m[static_cast<std::size_t>(o)] >= 0) ++count[static_cast<std::size_t>(m[static_cast<std::size_t>(o)]) + 1];
            }
            for (std::size_t i = 1; i < count.size(); ++i) count[i] += count[i - 1];
            std::vector<int64_t> list(static_cast<std::size_t>(count.back())), fill = count;
            for (int64_t o = 0; o < out[k]; ++o)
                if (int64_t i = m[static_cast<std::size_t>(o)]; i >= 0) list[static_cast<std::size_t>(fill[static_cast<std::size_t>(i)]++)] = o;
            src.push_back(std::move(m));
            pre_start.push_back(std::move(count));
            pre.push_back(std::move(list));
        }
    }
};

// y[o] = x[src(o)], or the value where src is -1. One pass over y, row by row: the middle of
// a row is a contiguous copy, only its padded ends go through the map.
template <typename T>
void pad_rows(const PadMaps& m, const T* x, T* y, T value) {
    const int n = static_cast<int>(m.out.size());
    const int64_t len = m.out.back(), in_len = m.in.back(), before = m.before_last;
    if (len == 0) return;
    const auto& last = m.src.back();
    auto edge = [&](T* yr, const T* xr, int64_t j0, int64_t j1) {
        for (int64_t j = j0; j < j1; ++j) {
            const int64_t i = last[static_cast<std::size_t>(j)];
            yr[j] = i < 0 ? value : xr[i];
        }
    };
    parallel_range(
        numel(m.out) / len,
        [&](int64_t b, int64_t e) {
            std::array<int64_t, StridedCopy::kMaxDims> idx{};
            for (int64_t row = b, rem = b; row < e; ++row) {
                // Output coordinates of the row: divided out once, then advanced like an odometer.
                if (row == b)
                    for (int k = n - 2; k >= 0; --k) {
                        idx[static_cast<std::size_t>(k)] = rem % m.out[static_cast<std::size_t>(k)];
                        rem /= m.out[static_cast<std::size_t>(k)];
                    }
                int64_t base = 0;
                bool outside = false;  // a constant-padded row
                for (int k = 0; k + 1 < n; ++k) {
                    const auto uk = static_cast<std::size_t>(k);
                    const int64_t i = m.src[uk][static_cast<std::size_t>(idx[uk])];
                    outside = outside || i < 0;
                    base += i * m.in_strides[uk];
                }
                T* yr = y + row * len;
                if (outside) {
                    std::fill_n(yr, len, value);
                } else {
                    const T* xr = x + base;
                    edge(yr, xr, 0, before);
                    std::copy_n(xr, in_len, yr + before);
                    edge(yr, xr, before + in_len, len);
                }
                for (int k = n - 2; k >= 0; --k) {
                    const auto uk = static_cast<std::size_t>(k);
                    if (++idx[uk] < m.out[uk]) break;
                    idx[uk] = 0;
                }
            }
        },
        grain_for(len));
}

// dx[i] = Σ dy[o] over every o with src(o) = i: the product of the per-axis preimages.
template <typename T>
void pad_adjoint(const PadMaps& m, const T* dy, T* dx) {
    const int n = static_cast<int>(m.in.size());
    const int64_t len = m.in.back();
    if (len == 0) return;
    const auto un = static_cast<std::size_t>(n);
    const int64_t olen = m.out.back(), before = m.before_last;
    const auto& last = m.src.back();
    parallel_range(
        numel(m.in) / len,
        [&](int64_t b, int64_t e) {
            std::array<int64_t, StridedCopy::kMaxDims> idx{}, pos{};
            for (int64_t row = b; row < e; ++row) {
                T* dr = dx + row * len;
                std::fill(dr, dr + len, T(0));
                int64_t rem = row;
                bool empty = false;  // an outer input index nobody reads (constant mode)
                for (int k = n - 2; k >= 0; --k) {
                    const auto uk = static_cast<std::size_t>(k);
                    idx[uk] = rem % m.in[uk];
                    rem /= m.in[uk];
                    pos[uk] = m.pre_start[uk][static_cast<std::size_t>(idx[uk])];
                    empty = empty || pos[uk] == m.pre_start[uk][static_cast<std::size_t>(idx[uk]) + 1];
                }
                // Odometer over the outer preimage lists; each combination is one dy row.
                while (!empty) {
                    int64_t base = 0;
                    for (std::size_t k = 0; k + 1 < un; ++k) base += m.pre[k][static_cast<std::size_t>(pos[k])] * m.out_strides[k];
                    // Innermost axis: the direct reads are one contiguous add; only the
                    // padded ends of the dy row scatter back through the map.
                    const T* dyr = dy + base;
                    for (int64_t j = 0; j < len; ++j) dr[j] += dyr[before + j];
                    auto edge = [&](int64_t o0, int64_t o1) {
                        for (int64_t o = o0; o < o1; ++o)
                            if (const int64_t i = last[static_cast<std::size_t>(o)]; i >= 0) dr[i] += dyr[o];
                    };
                    edge(0, before);
                    edge(before + len, olen);
                    int k = n - 2;
                    for (; k >= 0; --k) {
                        const auto uk = static_cast<std::size_t>(k);
                        if (++pos[uk] < m.pre_start[uk][static_cast<std::size_t>(idx[uk]) + 1]) break;
                        pos[uk] = m.pre_start[uk][static_cast<std::size_t>(idx[uk])];
                    }
                    if (k < 0) break;
                }
            }
        },
        grain_for(len));
}

KernelFactory pad_kernel() {
    return [](const KernelContext& c) -> std::unique_ptr<Kernel> {
        const auto& a = c.attrs_as<PadAttrs>();
        PadMaps maps(a, c.inputs[0].shape);
        auto run = [maps, v = a.value](auto tag, const KernelArgs& args) {
            using T = decltype(tag);
            pad_rows(maps, static_cast<const T*>(args.inputs[0]), static_cast<T*>(args.outputs[0]), static_cast<T>(v));
        };
        switch (c.outputs[0].dtype) {
            case DType::F32: return make_kernel([run](const KernelArgs& args) { run(float{}, args); });
            case DType::F64: return make_kernel([run](const KernelArgs& args) { run(double{}, args); });
            case DType::I64: return make_kernel([run](const KernelArgs& args) { run(int64_t{}, args); });
        }
        throw_runtime("pad: unsupported dtype {}", c.outputs[0].dtype);
    };
}

KernelFactory pad_grad_kernel() {
    return [](const KernelContext& c) {
        const auto& a = c.attrs_as<PadGradAttrs>();
        PadMaps maps(a.pad, a.input_shape);
        return dispatch_float(c.outputs[0].dtype, [&](auto tag) {
            using T = decltype(tag);
            return make_kernel([maps](const KernelArgs& args) {
                pad_adjoint(maps, static_cast<const T*>(args.inputs[0]), static_cast<T*>(args.outputs[0]));
            });
        });
    };
}

Value pad_grad(Value dy, const Shape& x_shape, const PadAttrs& a) {
    return dy.graph->add_node1(op_def("pad_grad"), {dy}, PadGradAttrs{x_shape, a});
}

// ---- samples ------------------------------------------------------------------------------
struct PadCase { const char* label; Shape shape; PadAttrs attrs; };

std::vector<PadCase> pad_cases() {
    using M = PadMode;
    return {
        {"1d constant asymmetric", {4}, {{{2, 1}}, M::Constant, 0.5}},
        {"1d reflect", {3}, {{{2, 2}}, M::Reflect, 0}},
        {"2d reflect asymmetric", {3, 4}, {{{1, 2}, {2, 0}}, M::Reflect, 0}},
        {"2d replicate, pad > size", {2, 3}, {{{3, 1}, {0, 4}}, M::Replicate, 0}},
        {"3d replicate", {2, 3, 4}, {{{0, 1}, {2, 1}, {1, 3}}, M::Replicate, 0}},
        {"3d constant", {2, 2, 3}, {{{1, 0}, {0, 2}, {1, 1}}, M::Constant, -1.5}},
        {"4d reflect image", {1, 2, 3, 4}, {{{0, 0}, {0, 0}, {1, 2}, {2, 3}}, M::Reflect, 0}},
        {"4d replicate image", {1, 2, 3, 3}, {{{0, 0}, {1, 0}, {2, 1}, {1, 2}}, M::Replicate, 0}},
        {"4d constant image", {2, 1, 2, 3}, {{{0, 0}, {0, 0}, {1, 1}, {1, 1}}, M::Constant, 0}},
    };
}

TensorDesc f64d(Shape s) { return TensorDesc{std::move(s), DType::F64}; }

// A constant pad of [N, C, H, W] shifts positions: output o reads input o − before (or the
// constant). Reflect and replicate fold borders back, which no window describes.
std::optional<std::array<AxisReach, 2>> pad_axes(const PadAttrs& a) {
    if (a.mode != PadMode::Constant || a.pads.size() != 4) return std::nullopt;
    return std::array<AxisReach, 2>{AxisReach{.padding = a.pads[2].first}, AxisReach{.padding = a.pads[3].first}};
}

}  // namespace

Value pad(Value x, std::vector<std::pair<int64_t, int64_t>> pads, PadMode mode, double value) {
    Graph& g = common_graph("pad", {x});
    return g.add_node1(op_def("pad"), {x}, PadAttrs{std::move(pads), mode, value});
}

void register_pad_ops(OpRegistry& r) {
    r.define("pad")
        .arity(1)
        .describe("pads every axis {before, after}: constant value, reflect (no edge repeat) or replicate edge")
        .infer_shape([](const InferContext& c) {
            return std::vector<TensorDesc>{{padded_shape(c.attrs_as<PadAttrs>(), c.input(0).shape), c.input(0).dtype}};
        })
        .attributes<PadAttrs>()
        .kernel(pad_kernel())
        .cost(data_movement_cost())
        .receptive_field([](const RuleContext& c) -> std::optional<SpatialReach> {
            auto axes = pad_axes(c.attrs_as<PadAttrs>());
            if (!axes) return std::nullopt;
            return SpatialReach{*axes};
        })
        .gradient([](GradContext& g) {  // constant: dx = dy[interior]; else dx = Padᵀ·dy
            const auto& a = g.attrs<PadAttrs>();
            const Shape& x = g.input(0).shape();
            Value dy = g.grad_output(0);
            if (a.mode != PadMode::Constant) return InputGrads{pad_grad(dy, x, a)};
            std::vector<int64_t> starts, ends;
            for (std::size_t k = 0; k < x.size(); ++k) {
                starts.push_back(a.pads[k].first);
                ends.push_back(a.pads[k].first + x[k]);
            }
            return InputGrads{slice(dy, std::move(starts), std::move(ends))};
        })
        .samples([] {
            std::vector<OpSample> out;
            for (const auto& c : pad_cases()) out.push_back(OpSample{c.label, {floating(c.shape)}, c.attrs});
            return out;
        })
        .error_samples([] {
            return std::vector<ErrorSample>{
                {"reflect pad >= size", {f64d({3})}, PadAttrs{{{3, 0}}, PadMode::Reflect, 0},
                 "reflect padding {3, 0} on axis 0 needs pads < size 3"},
                {"wrong number of axes", {f64d({2, 3})}, PadAttrs{{{1, 1}}, PadMode::Constant, 0}, "1 for rank 2"},
                {"negative pad", {f64d({2, 3})}, PadAttrs{{{0, 0}, {-1, 0}}, PadMode::Constant, 0},
                 "negative padding {-1, 0} on axis 1"},
                {"replicate empty axis", {f64d({2, 0})}, PadAttrs{{{0, 0}, {1, 0}}, PadMode::Replicate, 0},
                 "replicate padding of the empty axis 1"},
            };
        });

    r.define("pad_grad")
        .arity(1)
        .describe("adjoint of pad: sums dy into the input positions each output read (emitted by pad's gradient)")
        .infer_shape([](const InferContext& c) {
            const auto& a = c.attrs_as<PadGradAttrs>();
            if (!is_floating(c.input(0).dtype)) throw_shape("pad_grad needs a floating dy, got {}", c.input(0));
            Shape padded = padded_shape(a.pad, a.input_shape);
            if (c.input(0).shape != padded)
                throw_shape("dy {} does not match the {} padding {} of {}", shape_str(c.input(0).shape),
                            mode_name(a.pad.mode), shape_str(padded), shape_str(a.input_shape));
            return std::vector<TensorDesc>{{a.input_shape, c.input(0).dtype}};
        })
        .attributes<PadGradAttrs>()
        .kernel(pad_grad_kernel())
        .cost(data_movement_cost())
        .receptive_field([](const RuleContext& c) -> std::optional<SpatialReach> {  // dx[i] = dy[i + before]
            auto axes = pad_axes(c.attrs_as<PadGradAttrs>().pad);
            if (!axes) return std::nullopt;
            for (AxisReach& a : *axes) a.transposed = true;
            return SpatialReach{*axes};
        })
        .gradient([](GradContext& g) {  // pad_grad = Padᵀ is linear, so its adjoint is pad (value 0)
            const auto& a = g.attrs<PadGradAttrs>();
            return InputGrads{pad(g.grad_output(0), a.pad.pads, a.pad.mode, 0.0)};
        })
        .samples([] {
            std::vector<OpSample> out;
            for (const auto& c : pad_cases())
                out.push_back(
                    OpSample{c.label, {floating(padded_shape(c.attrs, c.shape))}, PadGradAttrs{c.shape, c.attrs}});
            return out;
        })
        .error_samples([] {
            return std::vector<ErrorSample>{
                {"dy shape mismatch", {f64d({5})}, PadGradAttrs{{3}, PadAttrs{{{2, 2}}, PadMode::Reflect, 0}},
                 "dy [5] does not match the reflect padding [7] of [3]"},
                {"integer dy", {TensorDesc{{7}, DType::I64}}, PadGradAttrs{{3}, PadAttrs{{{2, 2}}, PadMode::Reflect, 0}},
                 "pad_grad needs a floating dy"},
            };
        });
}

}  // namespace gg
