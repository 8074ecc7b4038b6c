#include "graphgrad/ops/dnn/batch_norm.h"

#include <algorithm>
#include <cmath>

#include "graphgrad/ops/dnn/bound_primitive.h"

namespace gg::dnn {

namespace {

using flags = dnnl::normalization_flags;
using md = dnnl::memory::desc;

md channel_md(const BatchNormGeometry& g) { return plain_f32({g.c}); }

// Our scratch: oneDNN's scratchpad, the per-channel variance (the ops keep invstd, like
// PyTorch, oneDNN wants the variance), then the fused-relu workspace if any.
struct ScratchPlan {
    std::size_t bytes;
    std::size_t take(std::size_t n) {
        const std::size_t at = bytes;
        bytes += scratch_aligned(n);
        return at;
    }
};

// What both directions share: the primitive, its data and per-channel arguments (data in the
// layout the primitive runs on, which compile() delivers; per-channel ones always plain) and
// our scratch plan, which starts with oneDNN's scratchpad and the per-channel variance.
class BatchNormKernel : public Kernel {
public:
    std::size_t scratch_bytes() const override { return plan_.bytes; }
    std::string describe() const override { return impl_; }

protected:
    BatchNormKernel(BoundPrimitive p, std::string impl, const BatchNormGeometry& g, double eps)
        : p_(std::move(p)), impl_(std::move(impl)), g_(g), eps_(eps), plan_{scratch_aligned(p_.scratch_bytes())} {
        var_offset_ = plan_.take(static_cast<std::size_t>(g.c) * sizeof(float));
        scale_ = p_.bind(DNNL_ARG_SCALE, channel_md(g));
        shift_ = p_.bind(DNNL_ARG_SHIFT, channel_md(g));
        mean_ = p_.bind(DNNL_ARG_MEAN, channel_md(g));
        var_ = p_.bind(DNNL_ARG_VARIANCE, channel_md(g));
    }
    float* scratch_var(void* scratch) const { return reinterpret_cast<float*>(static_cast<char*>(scratch) + var_offset_); }

    BoundPrimitive p_;
    std::string impl_;
    BatchNormGeometry g_;
    double eps_;
    ScratchPlan plan_;
    std::size_t var_offset_ = 0;
    int scale_, shift_, mean_, var_;
};

class ForwardKernel final : public BatchNormKernel {
public:
    ForwardKernel(BoundPrimitive p, std::string impl, const BatchNormGeometry& g, double eps, double momentum,
                  bool training, bool update_state, const md& data, const md& workspace)
        : BatchNormKernel(std::move(p), std::move(impl), g, eps), momentum_(momentum), training_(training),
          update_state_(update_state) {
        src_ = p_.bind(DNNL_ARG_SRC, data);
        dst_ = p_.bind(DNNL_ARG_DST, data);
        if (workspace.get_size() > 0) {
            workspace_ = p_.bind(DNNL_ARG_WORKSPACE, workspace);
            workspace_offset_ = plan_.take(workspace.get_size());
        }
    }

    void run(const KernelArgs& a) override {
        auto* save_mean = static_cast<float*>(a.outputs[1]);
        auto* save_invstd = static_cast<float*>(a.outputs[2]);
        // State inputs (declared with OpDef::updates_state) are written in place.
        auto* running_mean = static_cast<float*>(const_cast<void*>(a.inputs[3]));
        auto* running_var = static_cast<float*>(const_cast<void*>(a.inputs[4]));
        float* var = training_ ? scratch_var(a.scratch) : running_var;
        p_.set(src_, a.inputs[0]);
        p_.set(dst_, a.outputs[0]);
        p_.set(scale_, a.inputs[1]);
        p_.set(shift_, a.inputs[2]);
        // Training: oneDNN writes the batch mean and variance; evaluation: it reads the running ones.
        p_.set(mean_, training_ ? save_mean : running_mean);
        p_.set(var_, var);
        if (workspace_ >= 0) p_.set(workspace_, static_cast<char*>(a.scratch) + workspace_offset_);
        p_.execute(a.scratch);
        for (int64_t c = 0; c < g_.c; ++c) save_invstd[c] = static_cast<float>(1.0 / std::sqrt(double(var[c]) + eps_));
        if (training_ && update_state_) {
            auto* tracked = static_cast<int64_t*>(const_cast<void*>(a.inputs[5]));
            update_running_stats<float>(g_, momentum_, save_mean, var, running_mean, running_var, tracked);
        } else if (!training_) {
            std::copy_n(running_mean, g_.c, save_mean);
        }
    }

private:
    double momentum_;
    bool training_;
    bool update_state_;  // false: a recomputation (KernelContext::recompute) leaves the state alone
    int src_ = -1, dst_ = -1;
    int workspace_ = -1;
    std::size_t workspace_offset_ = 0;
};

class BackwardKernel final : public BatchNormKernel {
public:
    BackwardKernel(BoundPrimitive p, std::string impl, const BatchNormGeometry& g, double eps, const md& data)
        : BatchNormKernel(std::move(p), std::move(impl), g, eps) {
        src_ = p_.bind(DNNL_ARG_SRC, data);
        diff_dst_ = p_.bind(DNNL_ARG_DIFF_DST, data);
        diff_src_ = p_.bind(DNNL_ARG_DIFF_SRC, data);
        diff_scale_ = p_.bind(DNNL_ARG_DIFF_SCALE, channel_md(g));
        diff_shift_ = p_.bind(DNNL_ARG_DIFF_SHIFT, channel_md(g));
    }

    void run(const KernelArgs& a) override {
        // oneDNN wants the variance; the forward saved invstd = 1/√(var + eps).
        float* var = scratch_var(a.scratch);
        const auto* invstd = static_cast<const float*>(a.inputs[4]);
        for (int64_t c = 0; c < g_.c; ++c) {
            const double s = invstd[c];
            var[c] = static_cast<float>(1.0 / (s * s) - eps_);
        }
        p_.set(src_, a.inputs[0]);
        p_.set(diff_dst_, a.inputs[1]);
        p_.set(diff_src_, a.outputs[0]);
        p_.set(scale_, a.inputs[2]);
        // Unused by the backward math, but oneDNN 2.6 refuses to execute with use_shift and
        // no SHIFT argument; it is pointed at the weight (read only).
        p_.set(shift_, a.inputs[2]);
        p_.set(mean_, a.inputs[3]);
        p_.set(var_, var);
        p_.set(diff_scale_, a.outputs[1]);
        p_.set(diff_shift_, a.outputs[2]);
        p_.execute(a.scratch);
    }

private:
    int src_ = -1, diff_dst_ = -1, diff_src_ = -1;
    int diff_scale_, diff_shift_;
};

// γ and β always; global statistics (the running ones, given) unless the batch's are computed.
flags bn_flags(bool global_stats, bool relu = false) {
    flags f = flags::use_scale | flags::use_shift;
    if (relu) f = f | flags::fuse_norm_relu;
    return global_stats ? f | flags::use_global_stats : f;
}

dnnl::batch_normalization_forward::primitive_desc forward_pd(Context& ctx, const md& data, double eps, bool training,
                                                             bool global_stats, bool relu = false) {
    const auto kind = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    return {dnnl::batch_normalization_forward::desc(kind, data, static_cast<float>(eps), bn_flags(global_stats, relu)),
            user_scratchpad(), ctx.engine()};
}

bool empty(const BatchNormGeometry& g) { return g.n == 0 || g.c == 0 || g.inner == 0; }

}  // namespace

std::unique_ptr<Kernel> make_batch_norm_forward_kernel(KernelResources& resources, const BatchNormGeometry& g,
                                                       double eps, double momentum, bool training, const md& data,
                                                       bool relu, bool update_state) {
    if (empty(g)) return nullptr;
    Context& ctx = resources.get<Context>();
    try {
        auto pd = forward_pd(ctx, data, eps, training, !training, relu);
        BoundPrimitive p(ctx, dnnl::batch_normalization_forward(pd), pd.scratchpad_desc());
        return std::make_unique<ForwardKernel>(std::move(p), pd.impl_info_str(), g, eps, momentum, training,
                                               update_state, data, pd.workspace_desc());
    } catch (const dnnl::error&) {
        return nullptr;
    }
}

std::unique_ptr<Kernel> make_batch_norm_backward_kernel(KernelResources& resources, const BatchNormGeometry& g,
                                                        double eps, bool batch_stats, const md& data) {
    if (empty(g)) return nullptr;
    Context& ctx = resources.get<Context>();
    try {
        auto hint = forward_pd(ctx, data, eps, true, !batch_stats);
        dnnl::batch_normalization_backward::primitive_desc pd(
            dnnl::batch_normalization_backward::desc(dnnl::prop_kind::backward, data, data, static_cast<float>(eps),
                                                     bn_flags(!batch_stats)),
            user_scratchpad(), ctx.engine(), hint);
        BoundPrimitive p(ctx, dnnl::batch_normalization_backward(pd), pd.scratchpad_desc());
        return std::make_unique<BackwardKernel>(std::move(p), pd.impl_info_str(), g, eps, data);
    } catch (const dnnl::error&) {
        return nullptr;
    }
}

}  // namespace gg::dnn
