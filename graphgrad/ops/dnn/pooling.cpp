#include "graphgrad/ops/dnn/pooling.h"

#include "graphgrad/ops/dnn/bound_primitive.h"

namespace gg::dnn {

namespace {

class PoolKernel final : public Kernel {
public:
    PoolKernel(BoundPrimitive p, int in, int out) : p_(std::move(p)), in_(in), out_(out) {}
    void run(const KernelArgs& a) override {
        p_.set(in_, a.inputs[0]);
        p_.set(out_, a.outputs[0]);
        p_.execute(a.scratch);
    }
    std::size_t scratch_bytes() const override { return p_.scratch_bytes(); }
    std::string describe() const override { return p_.impl(); }

private:
    BoundPrimitive p_;
    int in_, out_;
};

}  // namespace

std::unique_ptr<Kernel> make_avg_pool_kernel(KernelResources& resources, const Pool2dGeometry& g, bool include_pad,
                                             bool backward) {
    if (g.planes() == 0 || g.in_plane() == 0) return nullptr;
    Context& ctx = resources.get<Context>();
    using dims = dnnl::memory::dims;
    const auto alg = include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                 : dnnl::algorithm::pooling_avg_exclude_padding;
    const auto src = plain_f32({g.n, g.c, g.h, g.w});
    const auto dst = plain_f32({g.n, g.c, g.oh, g.ow});
    const dims strides{g.sh, g.sw}, kernel{g.kh, g.kw}, dilation{0, 0}, pad_l{g.pt, g.pl}, pad_r{g.pb, g.pr};
    try {
        const auto attr = user_scratchpad();
        // Backward needs a forward descriptor as its hint; average pooling has no workspace,
        // so the training and inference forwards compute the same thing.
        const auto fwd_kind = backward ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
        dnnl::pooling_v2_forward::primitive_desc fwd(
            dnnl::pooling_v2_forward::desc(fwd_kind, alg, src, dst, strides, kernel, dilation, pad_l, pad_r), attr,
            ctx.engine());
        if (!backward) {
            BoundPrimitive p(ctx, dnnl::pooling_v2_forward(fwd), fwd.scratchpad_desc());
            const int in = p.bind(DNNL_ARG_SRC, fwd.src_desc());
            const int out = p.bind(DNNL_ARG_DST, fwd.dst_desc());
            return std::make_unique<PoolKernel>(std::move(p), in, out);
        }
        dnnl::pooling_v2_backward::primitive_desc bwd(
            dnnl::pooling_v2_backward::desc(alg, src, dst, strides, kernel, dilation, pad_l, pad_r), attr, ctx.engine(),
            fwd);
        BoundPrimitive p(ctx, dnnl::pooling_v2_backward(bwd), bwd.scratchpad_desc());
        const int in = p.bind(DNNL_ARG_DIFF_DST, bwd.diff_dst_desc());
        const int out = p.bind(DNNL_ARG_DIFF_SRC, bwd.diff_src_desc());
        return std::make_unique<PoolKernel>(std::move(p), in, out);
    } catch (const dnnl::error&) {
        return nullptr;  // unimplemented combination: the reference kernel runs
    }
}

}  // namespace gg::dnn
