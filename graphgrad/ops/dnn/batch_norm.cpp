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
// PyTorch, oneDNN wants the variance), then copies of data tensors held in another layout.
struct ScratchPlan {
    std::size_t bytes;
    std::size_t take(std::size_t n) {
        const std::size_t at = bytes;
        bytes += scratch_aligned(n);
        return at;
    }
};

// One data tensor of the primitive. When the graph holds it in another layout than the
// primitive runs on, the primitive works on a copy in scratch, reordered in before the
// primitive (inputs) or out after it (outputs).
class DataArg {
public:
    DataArg() = default;
    DataArg(Context& ctx, BoundPrimitive& p, int arg, const md& inner, const md& user, bool output, ScratchPlan& plan)
        : output_(output), slot_(p.bind(arg, inner)) {
        if (inner == user) return;
        staged_ = true;
        const dnnl::engine& eng = ctx.engine();
        user_ = dnnl::memory(user, eng, DNNL_MEMORY_NONE);
        inner_ = dnnl::memory(inner, eng, DNNL_MEMORY_NONE);
        reorder_ = output ? dnnl::reorder(dnnl::reorder::primitive_desc(eng, inner, eng, user))
                          : dnnl::reorder(dnnl::reorder::primitive_desc(eng, user, eng, inner));
        offset_ = plan.take(inner.get_size());
    }

    // Points the primitive at `buffer` (or its scratch copy, reordering an input into it).
    void before(Context& ctx, BoundPrimitive& p, const void* buffer, void* scratch) {
        if (!staged_) {
            p.set(slot_, buffer);
            return;
        }
        char* copy = static_cast<char*>(scratch) + offset_;
        p.set(slot_, copy);
        user_.set_data_handle(const_cast<void*>(buffer));  // reorder never writes its source
        inner_.set_data_handle(copy);
        if (!output_) reorder_.execute(ctx.stream(), user_, inner_);
    }
    // Reorders an output from its scratch copy into the graph's buffer.
    void after(Context& ctx) {
        if (!staged_ || !output_) return;
        reorder_.execute(ctx.stream(), inner_, user_);
        ctx.stream().wait();
    }

private:
    bool output_ = false, staged_ = false;
    int slot_ = -1;
    dnnl::memory user_, inner_;
    dnnl::reorder reorder_;
    std::size_t offset_ = 0;
};

// What both directions share: the primitive, its per-channel arguments (always plain) and our
// scratch plan, which starts with oneDNN's scratchpad and the per-channel variance.
class BatchNormKernel : public Kernel {
public:
    std::size_t scratch_bytes() const override { return plan_.bytes; }

protected:
    BatchNormKernel(Context& ctx, BoundPrimitive p, const BatchNormGeometry& g, double eps)
        : ctx_(ctx), p_(std::move(p)), g_(g), eps_(eps), plan_{scratch_aligned(p_.scratch_bytes())} {
        var_offset_ = plan_.take(static_cast<std::size_t>(g.c) * sizeof(float));
        scale_ = p_.bind(DNNL_ARG_SCALE, channel_md(g));
        shift_ = p_.bind(DNNL_ARG_SHIFT, channel_md(g));
        mean_ = p_.bind(DNNL_ARG_MEAN, channel_md(g));
        var_ = p_.bind(DNNL_ARG_VARIANCE, channel_md(g));
    }
    // A data tensor held in the graph as `user`; the primitive runs on `data`.
    DataArg data_arg(int arg, const md& data, const md& user, bool output) {
        return DataArg(ctx_, p_, arg, data, user, output, plan_);
    }
    float* scratch_var(void* scratch) const { return reinterpret_cast<float*>(static_cast<char*>(scratch) + var_offset_); }

    Context& ctx_;
    BoundPrimitive p_;
    BatchNormGeometry g_;
    double eps_;
    ScratchPlan plan_;
    std::size_t var_offset_ = 0;
    int scale_, shift_, mean_, var_;
};

class ForwardKernel final : public BatchNormKernel {
public:
    ForwardKernel(Context& ctx, BoundPrimitive p, const BatchNormGeometry& g, double eps, double momentum, bool training,
                  const md& data, const md& y, const md& workspace)
        : BatchNormKernel(ctx, std::move(p), g, eps), momentum_(momentum), training_(training) {
        src_ = data_arg(DNNL_ARG_SRC, data, data, false);
        dst_ = data_arg(DNNL_ARG_DST, data, y, true);
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
        src_.before(ctx_, p_, a.inputs[0], a.scratch);
        dst_.before(ctx_, p_, a.outputs[0], a.scratch);
        p_.set(scale_, a.inputs[1]);
        p_.set(shift_, a.inputs[2]);
        // Training: oneDNN writes the batch mean and variance; evaluation: it reads the running ones.
        p_.set(mean_, training_ ? save_mean : running_mean);
        p_.set(var_, var);
        if (workspace_ >= 0) p_.set(workspace_, static_cast<char*>(a.scratch) + workspace_offset_);
        p_.execute(a.scratch);
        dst_.after(ctx_);
        for (int64_t c = 0; c < g_.c; ++c) save_invstd[c] = static_cast<float>(1.0 / std::sqrt(double(var[c]) + eps_));
        if (training_) {
            auto* tracked = static_cast<int64_t*>(const_cast<void*>(a.inputs[5]));
            update_running_stats<float>(g_, momentum_, save_mean, var, running_mean, running_var, tracked);
        } else {
            std::copy_n(running_mean, g_.c, save_mean);
        }
    }

private:
    double momentum_;
    bool training_;
    DataArg src_, dst_;
    int workspace_ = -1;
    std::size_t workspace_offset_ = 0;
};

class BackwardKernel final : public BatchNormKernel {
public:
    BackwardKernel(Context& ctx, BoundPrimitive p, const BatchNormGeometry& g, double eps, const md& data, const md& x,
                   const md& dy, const md& dx)
        : BatchNormKernel(ctx, std::move(p), g, eps) {
        src_ = data_arg(DNNL_ARG_SRC, data, x, false);
        diff_dst_ = data_arg(DNNL_ARG_DIFF_DST, data, dy, false);
        diff_src_ = data_arg(DNNL_ARG_DIFF_SRC, data, dx, true);
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
        src_.before(ctx_, p_, a.inputs[0], a.scratch);
        diff_dst_.before(ctx_, p_, a.inputs[1], a.scratch);
        diff_src_.before(ctx_, p_, a.outputs[0], a.scratch);
        p_.set(scale_, a.inputs[2]);
        // Unused by the backward math, but oneDNN 2.6 refuses to execute with use_shift and
        // no SHIFT argument; it is pointed at the weight (read only).
        p_.set(shift_, a.inputs[2]);
        p_.set(mean_, a.inputs[3]);
        p_.set(var_, var);
        p_.set(diff_scale_, a.outputs[1]);
        p_.set(diff_shift_, a.outputs[2]);
        p_.execute(a.scratch);
        diff_src_.after(ctx_);
    }

private:
    DataArg src_, diff_dst_, diff_src_;
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
                                                       const md& y, bool relu) {
    if (empty(g)) return nullptr;
    Context& ctx = resources.get<Context>();
    try {
        auto pd = forward_pd(ctx, data, eps, training, !training, relu);
        BoundPrimitive p(ctx, dnnl::batch_normalization_forward(pd), pd.scratchpad_desc());
        return std::make_unique<ForwardKernel>(ctx, std::move(p), g, eps, momentum, training, data, y,
                                               pd.workspace_desc());
    } catch (const dnnl::error&) {
        return nullptr;
    }
}


std::unique_ptr<Kernel> make_batch_norm_backward_kernel(KernelResources& resources, const BatchNormGeometry& g,
                                                        double eps, bool batch_stats, const md& data, const md& x,
                                                        const md& dy, const md& dx) {
    if (empty(g)) return nullptr;
    Context& ctx = resources.get<Context>();
    try {
        auto hint = forward_pd(ctx, data, eps, true, !batch_stats);
        dnnl::batch_normalization_backward::primitive_desc pd(
            dnnl::batch_normalization_backward::desc(dnnl::prop_kind::backward, data, data, static_cast<float>(eps),
                                                     bn_flags(!batch_stats)),
            user_scratchpad(), ctx.engine(), hint);
        BoundPrimitive p(ctx, dnnl::batch_normalization_backward(pd), pd.scratchpad_desc());
        return std::make_unique<BackwardKernel>(ctx, std::move(p), g, eps, data, x, dy, dx);
    } catch (const dnnl::error&) {
        return nullptr;
    }
}


}  // namespace gg::dnn
