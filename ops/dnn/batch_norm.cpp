#include "ops/dnn/batch_norm.h"

#include <cmath>

#include "ops/dnn/bound_primitive.h"

namespace gg::dnn {

namespace {

using flags = dnnl::normalization_flags;

// x is described as [N, C, 1, inner] (nchw): batch norm only needs the channel axis, so one
// descriptor serves every rank, and 4-D gets oneDNN's optimised ncsp implementation (3-D ncw
// falls back to its slow reference one in 2.6).
dnnl::memory::desc data_md(const BatchNormGeometry& g) { return plain_f32({g.n, g.c, 1, g.inner}); }
dnnl::memory::desc channel_md(const BatchNormGeometry& g) { return plain_f32({g.c}); }

// Our scratch: oneDNN's scratchpad, then the per-channel variance (which the ops do not
// output: they keep invstd, like PyTorch).
std::size_t aligned(std::size_t b) { return (b + 63) / 64 * 64; }

class ForwardKernel final : public Kernel {
public:
    ForwardKernel(BoundPrimitive p, const BatchNormGeometry& g, double eps, double momentum, bool training)
        : p_(std::move(p)), g_(g), eps_(eps), momentum_(momentum), training_(training) {
        src_ = p_.bind(DNNL_ARG_SRC, data_md(g));
        dst_ = p_.bind(DNNL_ARG_DST, data_md(g));
        scale_ = p_.bind(DNNL_ARG_SCALE, channel_md(g));
        shift_ = p_.bind(DNNL_ARG_SHIFT, channel_md(g));
        mean_ = p_.bind(DNNL_ARG_MEAN, channel_md(g));
        var_ = p_.bind(DNNL_ARG_VARIANCE, channel_md(g));
    }

    void run(const KernelArgs& a) override {
        auto* save_mean = static_cast<float*>(a.outputs[1]);
        auto* save_invstd = static_cast<float*>(a.outputs[2]);
        // State inputs (declared with OpDef::updates_state) are written in place.
        auto* running_mean = static_cast<float*>(const_cast<void*>(a.inputs[3]));
        auto* running_var = static_cast<float*>(const_cast<void*>(a.inputs[4]));
        float* var = training_ ? reinterpret_cast<float*>(static_cast<char*>(a.scratch) + aligned(p_.scratch_bytes()))
                               : running_var;
        p_.set(src_, a.inputs[0]);
        p_.set(dst_, a.outputs[0]);
        p_.set(scale_, a.inputs[1]);
        p_.set(shift_, a.inputs[2]);
        // Training: oneDNN writes the batch mean and variance; evaluation: it reads the running ones.
        p_.set(mean_, training_ ? save_mean : running_mean);
        p_.set(var_, var);
        p_.execute(a.scratch);
        for (int64_t c = 0; c < g_.c; ++c) save_invstd[c] = static_cast<float>(1.0 / std::sqrt(double(var[c]) + eps_));
        if (training_) {
            auto* tracked = static_cast<int64_t*>(const_cast<void*>(a.inputs[5]));
            update_running_stats<float>(g_, momentum_, save_mean, var, running_mean, running_var, tracked);
        } else {
            std::copy_n(running_mean, g_.c, save_mean);
        }
    }
    std::size_t scratch_bytes() const override {
        return training_ ? aligned(p_.scratch_bytes()) + static_cast<std::size_t>(g_.c) * sizeof(float) : p_.scratch_bytes();
    }

private:
    BoundPrimitive p_;
    BatchNormGeometry g_;
    double eps_, momentum_;
    bool training_;
    int src_, dst_, scale_, shift_, mean_, var_;
};

class BackwardKernel final : public Kernel {
public:
    BackwardKernel(BoundPrimitive p, const BatchNormGeometry& g, double eps) : p_(std::move(p)), g_(g), eps_(eps) {
        src_ = p_.bind(DNNL_ARG_SRC, data_md(g));
        diff_dst_ = p_.bind(DNNL_ARG_DIFF_DST, data_md(g));
        scale_ = p_.bind(DNNL_ARG_SCALE, channel_md(g));
        // Unused by the backward math, but oneDNN 2.6 refuses to execute with use_shift and
        // no SHIFT argument; it is pointed at the weight (read only).
        shift_ = p_.bind(DNNL_ARG_SHIFT, channel_md(g));
        mean_ = p_.bind(DNNL_ARG_MEAN, channel_md(g));
        var_ = p_.bind(DNNL_ARG_VARIANCE, channel_md(g));
        diff_src_ = p_.bind(DNNL_ARG_DIFF_SRC, data_md(g));
        diff_scale_ = p_.bind(DNNL_ARG_DIFF_SCALE, channel_md(g));
        diff_shift_ = p_.bind(DNNL_ARG_DIFF_SHIFT, channel_md(g));
    }

    void run(const KernelArgs& a) override {
        // oneDNN wants the variance; the forward saved invstd = 1/√(var + eps).
        auto* var = reinterpret_cast<float*>(static_cast<char*>(a.scratch) + aligned(p_.scratch_bytes()));
        const auto* invstd = static_cast<const float*>(a.inputs[4]);
        for (int64_t c = 0; c < g_.c; ++c) {
            const double s = invstd[c];
            var[c] = static_cast<float>(1.0 / (s * s) - eps_);
        }
        p_.set(src_, a.inputs[0]);
        p_.set(diff_dst_, a.inputs[1]);
        p_.set(scale_, a.inputs[2]);
        p_.set(shift_, a.inputs[2]);
        p_.set(mean_, a.inputs[3]);
        p_.set(var_, var);
        p_.set(diff_src_, a.outputs[0]);
        p_.set(diff_scale_, a.outputs[1]);
        p_.set(diff_shift_, a.outputs[2]);
        p_.execute(a.scratch);
    }
    std::size_t scratch_bytes() const override {
        return aligned(p_.scratch_bytes()) + static_cast<std::size_t>(g_.c) * sizeof(float);
    }

private:
    BoundPrimitive p_;
    BatchNormGeometry g_;
    double eps_;
    int src_, diff_dst_, scale_, shift_, mean_, var_, diff_src_, diff_scale_, diff_shift_;
};

dnnl::batch_normalization_forward::primitive_desc forward_pd(Context& ctx, const BatchNormGeometry& g, double eps,
                                                             bool training) {
    const flags f = training ? (flags::use_scale | flags::use_shift)
                             : (flags::use_scale | flags::use_shift | flags::use_global_stats);
    const auto kind = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    return {dnnl::batch_normalization_forward::desc(kind, data_md(g), static_cast<float>(eps), f), user_scratchpad(),
            ctx.engine()};
}

}  // namespace

std::unique_ptr<Kernel> make_batch_norm_forward_kernel(KernelResources& resources, const BatchNormGeometry& g,
                                                       double eps, double momentum, bool training) {
    if (g.n == 0 || g.c == 0 || g.inner == 0) return nullptr;
    Context& ctx = resources.get<Context>();
    try {
        auto pd = forward_pd(ctx, g, eps, training);
        BoundPrimitive p(ctx, dnnl::batch_normalization_forward(pd), pd.scratchpad_desc());
        return std::make_unique<ForwardKernel>(std::move(p), g, eps, momentum, training);
    } catch (const dnnl::error&) {
        return nullptr;
    }
}

std::unique_ptr<Kernel> make_batch_norm_backward_kernel(KernelResources& resources, const BatchNormGeometry& g,
                                                        double eps) {
    if (g.n == 0 || g.c == 0 || g.inner == 0) return nullptr;
    Context& ctx = resources.get<Context>();
    try {
        auto hint = forward_pd(ctx, g, eps, true);
        dnnl::batch_normalization_backward::primitive_desc pd(
            dnnl::batch_normalization_backward::desc(dnnl::prop_kind::backward, data_md(g), data_md(g),
                                                     static_cast<float>(eps), flags::use_scale | flags::use_shift),
            user_scratchpad(), ctx.engine(), hint);
        BoundPrimitive p(ctx, dnnl::batch_normalization_backward(pd), pd.scratchpad_desc());
        return std::make_unique<BackwardKernel>(std::move(p), g, eps);
    } catch (const dnnl::error&) {
        return nullptr;
    }
}

}  // namespace gg::dnn
