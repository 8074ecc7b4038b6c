// Normalisation ops: batch_norm with its backward op, and layer_norm, on plain loops (f32 and
// f64). Both forward ops output (y, mean, invstd): the statistics are what their backward
// reuses, and they are honest outputs, so the gradient rules also handle gradients arriving
// through them (second order needs that: the first-order graph reads them).
//
// batch_norm's mode is decided at compile time (KernelContext::training): training programs
// normalise with the batch statistics and update running_mean, running_var and
// num_batches_tracked in place (OpDef::updates_state); evaluation programs read the running
// statistics. Gradient rules follow the training formula: a graph with gradient nodes
// compiles as a training program unless CompileOptions::training says otherwise.
//
// Kernels: batch_norm and batch_norm_backward read opaque layouts (LayoutUse::Native). When x
// (or dy) arrives in one of oneDNN's blocked layouts (e.g. nChw16c from a blocked convolution)
// they run oneDNN's batch norm on that layout (ops/dnn/batch_norm) and write y (dx) in it too
// (compile() converts where a reader needs plain); the per-channel outputs stay plain. On plain NCHW
// oneDNN 2.6 (ncsp_bnorm) measured 3–5× slower than loops (forward 2.7 vs 0.55 ms, backward
// 3.6 vs 1.3 ms on [32,64,28,28], one thread), so plain inputs run the loops of
// ops/normalization_kernels.h. The loops of ops/reference/batch_norm.h are the reference.
#include "graphgrad/ops/normalization.h"

#include <algorithm>
#include <cmath>

#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/dnn/batch_norm.h"
#include "graphgrad/ops/dnn/layout.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/kernels/normalization_kernels.h"
#include "graphgrad/ops/reduction.h"
#include "graphgrad/ops/reference/batch_norm.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/shape_ops.h"

namespace gg {

namespace {

// A batch_norm node holds the builder's public options (callers read them with
// node_attributes<BatchNormOptions>); affine says whether the builder made γ and β parameters,
// the node takes both either way.
using BatchNormAttrs = BatchNormOptions;
struct BatchNormBackwardAttrs {
    double eps = 1e-5;  // the forward's: oneDNN turns save_invstd back into the variance
};

struct LayerNormAttrs {
    int64_t dims = 1;  // normalised trailing dimensions
    double eps = 1e-5;
};

// ---- batch_norm shape rules -----------------------------------------------------------------
void require_channel_vector(const TensorDesc& v, const TensorDesc& x, const char* what) {
    if (v.shape != Shape{x.shape[1]} || v.dtype != x.dtype)
        throw_shape("{} must be {}[{}] (one per channel of x {}), got {}", what, dtype_name(x.dtype), x.shape[1],
                    shape_str(x.shape), desc_str(v));
}

void require_batch_input(const TensorDesc& x) {
    if (x.rank() < 2) throw_shape("x must be [N, C, ...], got rank {}", x.rank());
    if (!is_floating(x.dtype)) throw_shape("x must be floating point, got {}", desc_str(x));
}

std::vector<TensorDesc> infer_batch_norm(const InferContext& c) {
    const TensorDesc& x = c.input(0);
    require_batch_input(x);
    const auto& at = c.attrs_as<BatchNormAttrs>();
    if (!(at.eps > 0)) throw_shape("eps must be positive, got {}", at.eps);
    if (!(at.momentum >= 0 && at.momentum <= 1)) throw_shape("momentum {} is outside [0, 1]", at.momentum);
    const char* names[] = {"weight", "bias", "running_mean", "running_var"};
    for (std::size_t i = 0; i < 4; ++i) require_channel_vector(c.input(i + 1), x, names[i]);
    if (c.input(5) != TensorDesc{{}, DType::I64})
        throw_shape("num_batches_tracked must be an i64 scalar, got {}", desc_str(c.input(5)));
    const TensorDesc stat{{x.shape[1]}, x.dtype};
    return {x, stat, stat};
}

// (x, dy, weight, save_mean, save_invstd) → (dx, dweight, dbias)
std::vector<TensorDesc> infer_batch_norm_backward(const InferContext& c) {
    const TensorDesc& x = c.input(0);
    require_batch_input(x);
    if (c.input(1) != x) throw_shape("dy {} must match x {}", desc_str(c.input(1)), desc_str(x));
    const char* names[] = {"weight", "save_mean", "save_invstd"};
    for (std::size_t i = 0; i < 3; ++i) require_channel_vector(c.input(i + 2), x, names[i]);
    const TensorDesc stat{{x.shape[1]}, x.dtype};
    return {x, stat, stat};
}

// ---- batch_norm kernels (loops in ops/reference/batch_norm.h) -------------------------------
BatchNormGeometry checked_geometry(const KernelContext& c) {
    const BatchNormGeometry g = batch_norm_geometry(c.inputs[0].shape);
    // The unbiased running variance needs two values per channel (PyTorch refuses too).
    if (c.training && g.per_channel() < 2)
        throw_graph("batch_norm \"{}\": training needs more than one value per channel, got x {}", c.node.name,
                    desc_str(c.inputs[0]));
    return g;
}

// The loops (Fast: ops/normalization_kernels.h where it differs; else the reference).
template <bool Fast>
std::unique_ptr<Kernel> batch_norm_loops(const KernelContext& c) {
    const BatchNormGeometry g = checked_geometry(c);
    const auto& at = c.attrs_as<BatchNormAttrs>();
    const bool training = c.training;
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        auto f = [g, at, training](const KernelArgs& a) {
            auto in = [&](int i) { return static_cast<const T*>(a.inputs[i]); };
            auto out = [&](int i) { return static_cast<T*>(a.outputs[i]); };
            if (!training) {
                reference::batch_norm_eval<T>(g, at.eps, in(0), in(1), in(2), in(3), in(4), out(0), out(1), out(2),
                                              at.relu);
                return;
            }
            T* var = static_cast<T*>(a.scratch);
            if constexpr (Fast) fast::batch_norm_train<T>(g, at.eps, in(0), in(1), in(2), out(0), out(1), out(2), var, at.relu);
            else reference::batch_norm_train<T>(g, at.eps, in(0), in(1), in(2), out(0), out(1), out(2), var, at.relu);
            // State inputs (OpDef::updates_state) are written in place.
            update_running_stats<T>(g, at.momentum, out(1), var, const_cast<T*>(in(3)), const_cast<T*>(in(4)),
                                    static_cast<int64_t*>(const_cast<void*>(a.inputs[5])));
        };
        return make_kernel(std::move(f), training ? static_cast<std::size_t>(g.c) * sizeof(T) : 0);
    });
}

// In an evaluation program (fine-tuning with frozen statistics) the forward normalised with
// the running statistics, so dx = γ·invstd·dy: the kernel follows the program's mode. (The
// rules below, for gradients through mean/invstd and for second order, assume training.)
std::unique_ptr<Kernel> batch_norm_backward_loops(const KernelContext& c) {
    const BatchNormGeometry g = batch_norm_geometry(c.inputs[0].shape);
    const bool training = c.training;
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([g, training](const KernelArgs& a) {
            auto in = [&](int i) { return static_cast<const T*>(a.inputs[i]); };
            auto out = [&](int i) { return static_cast<T*>(a.outputs[i]); };
            reference::batch_norm_backward<T>(g, in(0), in(1), in(2), in(3), in(4), out(0), out(1), out(2), training);
        });
    });
}

// Inputs first, first + 1, ... are all held plain.
bool plain_from(const KernelContext& c, std::size_t first) {
    for (std::size_t i = first; i < c.inputs.size(); ++i)
        if (c.input_layout(i)) return false;
    return true;
}

// The loops read plain memory: inputs arriving in another layout are converted by compile()
// (only a Native op's fast kernel may ask; the reference kernels always get plain inputs).
bool require_plain_inputs(const KernelContext& c) {
    if (plain_from(c, 0)) return true;
    if (!c.may_choose_layouts()) return false;
    for (std::size_t i = 0; i < c.inputs.size(); ++i)
        if (c.input_layout(i)) c.require_input_layout(i, nullptr);
    return true;
}

// x in a oneDNN layout (f32): oneDNN's batch norm on it, y in it too (compile() converts y
// where a reader needs plain). Else the loops on plain memory.
std::unique_ptr<Kernel> batch_norm_fast_kernel(const KernelContext& c) {
    const BatchNormGeometry g = checked_geometry(c);
    const auto& at = c.attrs_as<BatchNormAttrs>();
    const LayoutPtr xl = c.input_layout(0);
    const dnn::DnnLayout* x = dnn::as_dnn(xl);
    if (x && c.inputs[0].dtype == DType::F32 && plain_from(c, 1) && c.may_choose_layouts()) {
        if (auto k = dnn::make_batch_norm_forward_kernel(c.resources, g, at.eps, at.momentum, c.training, x->desc(),
                                                         at.relu)) {
            c.set_output_layout(0, xl);
            return k;
        }
    }
    return require_plain_inputs(c) ? batch_norm_loops<true>(c) : nullptr;
}

// x or dy in a oneDNN layout (f32): oneDNN's backward on that layout (x's when both are
// opaque; compile() converts the other to it), dx in it too. Else the loops on plain memory.
std::unique_ptr<Kernel> batch_norm_backward_fast_kernel(const KernelContext& c) {
    const BatchNormGeometry g = batch_norm_geometry(c.inputs[0].shape);
    const LayoutPtr xl = c.input_layout(0), dl = c.input_layout(1);
    const dnn::DnnLayout *x = dnn::as_dnn(xl), *d = dnn::as_dnn(dl);
    if ((x || d) && (x || !xl) && (d || !dl) && c.inputs[0].dtype == DType::F32 && plain_from(c, 2) &&
        c.may_choose_layouts()) {
        const LayoutPtr& chosen = x ? xl : dl;
        const dnn::DnnLayout& l = x ? *x : *d;
        if (auto k = dnn::make_batch_norm_backward_kernel(c.resources, g, c.attrs_as<BatchNormBackwardAttrs>().eps,
                                                          c.training, l.desc())) {
            if (!same_layout(xl, chosen)) c.require_input_layout(0, chosen);
            if (!same_layout(dl, chosen)) c.require_input_layout(1, chosen);
            c.set_output_layout(0, chosen);
            return k;
        }
    }
    return require_plain_inputs(c) ? batch_norm_backward_loops(c) : nullptr;
}

// ---- batch_norm gradient rules --------------------------------------------------------------
// Per-channel helpers for x [N, C, ...]: `ch` views a [C] vector as [1, C, 1, ...] (it then
// broadcasts against x), `avg` and `tot` reduce everything but the channel axis, keepdims.
struct Channels {
    Shape bshape;
    std::vector<int64_t> axes;
    int64_t c = 0;
    double count = 1;  // M, values per channel

    explicit Channels(const Shape& x) : bshape(x.size(), 1), c(x[1]) {
        bshape[1] = c;
        for (std::size_t d = 0; d < x.size(); ++d)
            if (d != 1) {
                axes.push_back(static_cast<int64_t>(d));
                count *= static_cast<double>(x[d]);
            }
    }
    Value ch(Value v) const { return reshape(v, bshape); }
    Value vec(Value v) const { return reshape(v, {c}); }
    Value avg(Value v) const { return mean(v, axes, true); }
    Value tot(Value v) const { return sum(v, axes, true); }
};

// With x̂ = (x − μ)·s (μ, s = save_mean, save_invstd), the backward op gives
//   dx = γ·s·(dy − ⟨dy⟩ − x̂·⟨dy·x̂⟩), dγ = Σ dy·x̂, dβ = Σ dy   (⟨·⟩: mean per channel)
// and μ, s depend on x through dμ/dx = 1/M, ds/dx = −s²·x̂/M.
// With relu, dy first goes through relu's gradient (y > 0 exactly where the normalised x is).
InputGrads batch_norm_gradient(GradContext& g) {
    Value x = g.input(0), mu = g.output(1), s = g.output(2);
    Graph& graph = g.graph();
    const auto& at = g.attrs<BatchNormAttrs>();
    const Value dy = at.relu ? relu_backward(g.grad_output(0), g.output(0)) : g.grad_output(0);
    auto outs =
        graph.add_node(op_def("batch_norm_backward"), {x, dy, g.input(1), mu, s}, BatchNormBackwardAttrs{at.eps});
    Value dx = outs[0];
    const Channels k(x.shape());
    if (g.has_grad_output(1)) dx = dx + k.ch(g.grad_output(1)) / k.count;
    if (g.has_grad_output(2)) {
        Value xhat = (x - k.ch(mu)) * k.ch(s);
        dx = dx - xhat * k.ch(g.grad_output(2) * s * s / k.count);
    }
    return {dx, outs[1], outs[2], std::nullopt, std::nullopt, std::nullopt};
}

// The backward op as a function f(x, dy, γ, μ, s) with cotangents P (dx), q (dγ), r (dβ);
// w = γ·s, a = ⟨dy⟩, b = ⟨dy·x̂⟩. Per channel the pulled-back scalar is
//   L = w·Σ P·dy − M·a·(w·⟨P⟩ − r) − M·b·(w·⟨P·x̂⟩ − q), hence
//   ∂dy = w·P − (w·⟨P⟩ − r) − x̂·(w·⟨P·x̂⟩ − q)
//   ∂x̂ = −dy·(w·⟨P·x̂⟩ − q) − w·b·P;  ∂x = s·∂x̂;  ∂μ = −s·Σ ∂x̂
//   ∂w = Σ P·(dy − a − x̂·b);  ∂γ = s·∂w;  ∂s = Σ (x − μ)·∂x̂ + γ·∂w
InputGrads batch_norm_backward_gradient(GradContext& g) {
    Value x = g.input(0), dy = g.input(1), gamma = g.input(2), mu = g.input(3), s = g.input(4);
    const Channels k(x.shape());
    Value P = g.grad_output(0);
    Value sc = k.ch(s), gc = k.ch(gamma);
    Value xc = x - k.ch(mu), xhat = xc * sc, w = gc * sc;
    Value a = k.avg(dy), b = k.avg(dy * xhat);
    Value kx = w * k.avg(P * xhat), k1 = w * k.avg(P);
    if (g.has_grad_output(1)) kx = kx - k.ch(g.grad_output(1));  // q
    if (g.has_grad_output(2)) k1 = k1 - k.ch(g.grad_output(2));  // r
    Value d_dy = w * P - k1 - xhat * kx;
    Value g_xhat = neg(dy * kx) - w * b * P;
    Value d_w = k.tot(P * (dy - a - xhat * b));
    return {sc * g_xhat, d_dy, k.vec(sc * d_w), k.vec(neg(sc * k.tot(g_xhat))), k.vec(k.tot(xc * g_xhat) + gc * d_w)};
}

// ---- layer_norm -----------------------------------------------------------------------------
std::vector<TensorDesc> infer_layer_norm(const InferContext& c) {
    const TensorDesc& x = c.input(0);
    const auto& at = c.attrs_as<LayerNormAttrs>();
    if (!is_floating(x.dtype)) throw_shape("x must be floating point, got {}", desc_str(x));
    if (at.dims < 1 || at.dims > x.rank())
        throw_shape("cannot normalise the last {} dimensions of a rank-{} input", at.dims, x.rank());
    if (!(at.eps > 0)) throw_shape("eps must be positive, got {}", at.eps);
    Shape stat = x.shape;
    std::fill(stat.end() - at.dims, stat.end(), 1);
    return {x, TensorDesc{stat, x.dtype}, TensorDesc{stat, x.dtype}};
}

std::unique_ptr<Kernel> layer_norm_kernel(const KernelContext& c) {
    const auto& at = c.attrs_as<LayerNormAttrs>();
    const Shape& xs = c.inputs[0].shape;
    int64_t m = 1;
    for (std::size_t d = xs.size() - static_cast<std::size_t>(at.dims); d < xs.size(); ++d) m *= xs[d];
    const int64_t rows = m == 0 ? 0 : c.inputs[0].numel() / m;
    const double eps = at.eps;
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([rows, m, eps](const KernelArgs& a) {
            const auto* x = static_cast<const T*>(a.inputs[0]);
            auto* y = static_cast<T*>(a.outputs[0]);
            auto* mean = static_cast<T*>(a.outputs[1]);
            auto* invstd = static_cast<T*>(a.outputs[2]);
            parallel_range(
                rows,
                [&](int64_t r0, int64_t r1) {
                    for (int64_t r = r0; r < r1; ++r) {
                        const T* xr = x + r * m;
                        const double mu = reference::row_sum(xr, m) / static_cast<double>(m);
                        const double var = reference::row_squared_deviation(xr, m, mu) / static_cast<double>(m);
                        const double is = 1.0 / std::sqrt(var + eps);
                        mean[r] = static_cast<T>(mu);
                        invstd[r] = static_cast<T>(is);
                        reference::row_affine(xr, y + r * m, m, static_cast<T>(is), static_cast<T>(-mu * is));
                    }
                },
                grain_for(m));
        });
    });
}

// y = x̂ = (x − μ)·s per row of M values: dx = s·(dy − ⟨dy⟩ − x̂·⟨dy·x̂⟩) + dμ/M − dS·s²·x̂/M.
InputGrads layer_norm_gradient(GradContext& g) {
    Value y = g.output(0), s = g.output(2), dy = g.grad_output(0);
    const int64_t k = g.attrs<LayerNormAttrs>().dims, rank = y.rank();
    std::vector<int64_t> axes;
    double count = 1;
    for (int64_t d = rank - k; d < rank; ++d) {
        axes.push_back(d);
        count *= static_cast<double>(y.dim(d));
    }
    Value dx = s * (dy - mean(dy, axes, true) - y * mean(dy * y, axes, true));
    if (g.has_grad_output(1)) dx = dx + g.grad_output(1) / count;
    if (g.has_grad_output(2)) dx = dx - y * (g.grad_output(2) * s * s / count);
    return {dx};
}

// ---- samples --------------------------------------------------------------------------------

const std::vector<Shape> kBatchShapes = {{4, 3}, {2, 3, 2, 2}, {3, 2, 5}, {2, 2, 2, 1, 3}};

std::vector<OpSample> batch_norm_samples() {
    std::vector<OpSample> out;
    for (const Shape& x : kBatchShapes) {
        const Shape c{x[1]};
        Tensor counter = Tensor::zeros({}, DType::I64);
        out.push_back(OpSample{shape_str(x),
                               {floating(x), floating(c), floating(c), floating(c), floating(c, Domain::Positive),
                                given(counter)},
                               BatchNormAttrs{0.1, x.size() == 3 ? 1e-3 : 1e-5}, true});
    }
    // Fused relu: about half the outputs are clipped, their gradient 0. The seeded draws keep the
    // normalised values away from 0 (gradcheck's central differences would flag the kink).
    for (const Shape& x : {Shape{4, 3}, Shape{2, 3, 2, 2}}) {
        const Shape c{x[1]};
        out.push_back(OpSample{shape_str(x) + " relu",
                               {floating(x), floating(c), floating(c), floating(c), floating(c, Domain::Positive),
                                given(Tensor::zeros({}, DType::I64))},
                               BatchNormAttrs{.momentum = 0.1, .eps = 1e-5, .relu = true}, true});
    }
    return out;
}

std::vector<OpSample> batch_norm_backward_samples() {
    std::vector<OpSample> out;
    for (const Shape& x : kBatchShapes) {
        const Shape c{x[1]};
        out.push_back(OpSample{shape_str(x),
                               {floating(x), floating(x), floating(c), floating(c), floating(c, Domain::Positive)},
                               BatchNormBackwardAttrs{1e-5}, true});
    }
    return out;
}

std::vector<ErrorSample> batch_norm_error_samples() {
    using D = TensorDesc;
    const D c3{{3}}, nbt{{}, DType::I64};
    const BatchNormAttrs at{};
    return {
        {"rank 1", {D{{3}}, c3, c3, c3, c3, nbt}, at, "x must be [N, C, ...], got rank 1"},
        {"weight", {D{{2, 3, 4}}, D{{4}}, c3, c3, c3, nbt}, at, "weight must be f32[3] (one per channel of x [2,3,4]), got f32[4]"},
        {"running_var dtype", {D{{2, 3}}, c3, c3, c3, D{{3}, DType::F64}, nbt}, at, "running_var must be f32[3]"},
        {"counter", {D{{2, 3}}, c3, c3, c3, c3, D{{1}}}, at, "num_batches_tracked must be an i64 scalar, got f32[1]"},
        {"integer x", {D{{2, 3}, DType::I64}, c3, c3, c3, c3, nbt}, at, "x must be floating point"},
        {"momentum", {D{{2, 3}}, c3, c3, c3, c3, nbt}, BatchNormAttrs{1.5, 1e-5}, "momentum 1.5 is outside [0, 1]"},
    };
}

}  // namespace

// ---- builders -------------------------------------------------------------------------------

Value batch_norm(Value x, Value weight, Value bias, Value running_mean, Value running_var, Value num_batches_tracked,
                 BatchNormOptions o, const std::string& name) {
    Graph& g = common_graph("batch_norm", {x, weight, bias, running_mean, running_var, num_batches_tracked});
    return g.add_node(op_def("batch_norm"), {x, weight, bias, running_mean, running_var, num_batches_tracked},
                      o, name)
        .at(0);
}

Value batch_norm(Value x, const std::string& name, BatchNormOptions o) {
    Graph& g = common_graph("batch_norm", {x});
    if (x.rank() < 2) throw_graph("batch_norm \"{}\": x must be [N, C, ...], got {}", g.scoped(name), x.desc());
    const int64_t c = x.dim(1);
    const DType dt = x.dtype();
    Value w, b, rm, rv, nbt;
    {
        NameScope scope(g, name);  // names like PyTorch's state_dict: "bn1.running_mean"
        if (o.affine) {
            w = g.parameter("weight", {c}, init::ones(), dt);
            b = g.parameter("bias", {c}, init::zeros(), dt);
        } else {
            w = g.constant(Tensor::full({c}, 1.0, dt), "ones");
            b = g.constant(Tensor::zeros({c}, dt), "zeros");
        }
        rm = g.state("running_mean", {c}, init::zeros(), dt);
        rv = g.state("running_var", {c}, init::ones(), dt);
        nbt = g.state("num_batches_tracked", {}, init::zeros(), DType::I64);
    }
    return batch_norm(x, w, b, rm, rv, nbt, o, name);
}

Value layer_norm(Value x, const Shape& normalized_shape, std::optional<Value> weight, std::optional<Value> bias,
                 LayerNormOptions o) {
    Graph& g = common_graph("layer_norm", {x});
    const auto k = static_cast<int64_t>(normalized_shape.size());
    if (k < 1 || k > x.rank() || !std::equal(normalized_shape.begin(), normalized_shape.end(), x.shape().end() - k))
        throw_graph("layer_norm: normalized_shape {} is not a suffix of x \"{}\" {}", shape_str(normalized_shape), x.name(),
                    x.desc());
    Value y = g.add_node(op_def("layer_norm"), {x}, LayerNormAttrs{k, o.eps}).at(0);
    if (weight) y = y * *weight;  // broadcast over the leading dimensions
    if (bias) y = y + *bias;
    return y;
}

Value layer_norm(Value x, const Shape& normalized_shape, const std::string& name, LayerNormOptions o) {
    Graph& g = common_graph("layer_norm", {x});
    if (!o.affine) return layer_norm(x, normalized_shape, std::nullopt, std::nullopt, o);
    Value w, b;
    {
        NameScope scope(g, name);
        w = g.parameter("weight", normalized_shape, init::ones(), x.dtype());
        b = g.parameter("bias", normalized_shape, init::zeros(), x.dtype());
    }
    return layer_norm(x, normalized_shape, w, b, o);
}

void register_normalization_ops(OpRegistry& r) {
    r.define("batch_norm")
        .arity(6)
        .describe("per-channel normalisation of [N,C,...]: batch stats + running update (training) or running stats")
        .infer_shape(infer_batch_norm)
        .attributes<BatchNormOptions>()
        .fast_kernel(batch_norm_fast_kernel)
        .reference(batch_norm_loops<false>)
        .cost(elementwise_cost(4))  // statistics (sum, sum of squares), then x·a + b per element
        .receptive_field(pointwise_reach())
        .input_role(roles::kRunningMean, 3)
        .input_role(roles::kRunningVar, 4)
        .output_role(roles::kBatchMean, 1)
        .output_role(roles::kBatchInvStd, 2)
        .layout(LayoutUse::Native)  // oneDNN's batch norm on blocked x (see the top of the file)
        .updates_state({3, 4, 5})
        .non_differentiable_inputs({3, 4, 5})
        .gradient(batch_norm_gradient)  // dx = γ·s·(dy − ⟨dy⟩ − x̂·⟨dy·x̂⟩), dγ = Σ dy·x̂, dβ = Σ dy
        .samples(batch_norm_samples)
        .error_samples(batch_norm_error_samples);

    r.define("batch_norm_backward")
        .arity(5)
        .describe("(x, dy, γ, mean, invstd) → (dx, dγ, dβ) of training-mode batch_norm")
        .infer_shape(infer_batch_norm_backward)
        .attributes<BatchNormBackwardAttrs>()
        .fast_kernel(batch_norm_backward_fast_kernel)
        .reference(batch_norm_backward_loops)
        .cost(reduction_cost(6))  // Σ dy, Σ dy·x̂ (x̂ recomputed), then dx = w·(dy − a − x̂·b) per element
        .layout(LayoutUse::Native)
        .gradient(batch_norm_backward_gradient)  // see the derivation above the rule
        .samples(batch_norm_backward_samples)
        .error_samples([] {
            using D = TensorDesc;
            const D x{{2, 3, 4}}, c3{{3}};
            return std::vector<ErrorSample>{
                {"dy", {x, D{{2, 3, 5}}, c3, c3, c3}, BatchNormBackwardAttrs{}, "dy f32[2,3,5] must match x f32[2,3,4]"},
                {"save_invstd", {x, x, c3, c3, D{{2}}}, BatchNormBackwardAttrs{}, "save_invstd must be f32[3]"},
            };
        });

    r.define("layer_norm")
        .arity(1)
        .describe("(x − mean)/√(var + eps) over the trailing dims; outputs (y, mean, invstd) keepdims")
        .infer_shape(infer_layer_norm)
        .attributes<LayerNormAttrs>()
        .kernel(layer_norm_kernel)
        .cost(elementwise_cost(4))  // statistics (sum, sum of squares), then (x − mean)·invstd
        .receptive_field([](const RuleContext& c) -> std::optional<SpatialReach> {
            // Every position of the normalised trailing axes enters each statistic.
            if (c.input(0).rank() != 4) return std::nullopt;
            const int64_t dims = c.attrs_as<LayerNormAttrs>().dims;
            SpatialReach r;
            if (dims >= 1) r.axes[1] = AxisReach::everywhere();
            if (dims >= 2) r.axes[0] = AxisReach::everywhere();
            return r;
        })
        .gradient(layer_norm_gradient)  // dx = s·(dy − ⟨dy⟩ − y·⟨dy·y⟩) (+ terms through mean, invstd)
        .samples([] {
            return std::vector<OpSample>{
                {"rows", {floating({3, 5})}, LayerNormAttrs{1, 1e-5}, true},
                {"last two dims", {floating({2, 3, 4})}, LayerNormAttrs{2, 1e-5}, true},
                {"last dim of rank 3", {floating({2, 3, 4})}, LayerNormAttrs{1, 1e-3}, true},
                {"rank 1", {floating({6})}, LayerNormAttrs{1, 1e-5}, true},
                {"image over W", {floating({1, 2, 3, 3})}, LayerNormAttrs{1, 1e-5}, true},
            };
        })
        .error_samples([] {
            using D = TensorDesc;
            return std::vector<ErrorSample>{
                {"too many dims", {D{{3, 4}}}, LayerNormAttrs{3, 1e-5}, "cannot normalise the last 3 dimensions of a rank-2 input"},
                {"zero dims", {D{{3, 4}}}, LayerNormAttrs{0, 1e-5}, "cannot normalise the last 0 dimensions"},
                {"integer", {D{{3, 4}, DType::I64}}, LayerNormAttrs{1, 1e-5}, "x must be floating point"},
            };
        });
}

}  // namespace gg
