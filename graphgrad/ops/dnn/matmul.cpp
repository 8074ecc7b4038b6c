#include "graphgrad/ops/dnn/matmul.h"

#include <string>
#include <unordered_map>
#include <utility>

#include "graphgrad/ops/dnn/context.h"

namespace gg::dnn {

namespace {

using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;

class MatmulKernel final : public Kernel {
public:
    MatmulKernel(Context& ctx, const dnnl::matmul::primitive_desc& pd)
        : ctx_(ctx),
          prim_(pd),
          src_(pd.src_desc(), ctx.engine(), DNNL_MEMORY_NONE),
          wei_(pd.weights_desc(), ctx.engine(), DNNL_MEMORY_NONE),
          dst_(pd.dst_desc(), ctx.engine(), DNNL_MEMORY_NONE),
          scratch_bytes_(pd.scratchpad_desc().get_size()),
          impl_(pd.impl_info_str()) {
        // Memory objects are handles: the map shares them, so set_data_handle() in run()
        // re-points what execute() sees without rebuilding anything.
        args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, wei_}, {DNNL_ARG_DST, dst_}};
        if (scratch_bytes_ > 0) {
            scratch_ = dnnl::memory(pd.scratchpad_desc(), ctx.engine(), DNNL_MEMORY_NONE);
            args_.emplace(DNNL_ARG_SCRATCHPAD, scratch_);
        }
    }

    void run(const KernelArgs& a) override {
        // oneDNN takes non-const handles; it never writes SRC or WEIGHTS.
        src_.set_data_handle(const_cast<void*>(a.inputs[0]));
        wei_.set_data_handle(const_cast<void*>(a.inputs[1]));
        dst_.set_data_handle(a.outputs[0]);
        if (scratch_bytes_ > 0) scratch_.set_data_handle(a.scratch);
        prim_.execute(ctx_.stream(), args_);
        ctx_.stream().wait();
    }

    // scratchpad_mode::user: the planner places oneDNN's scratchpad in the arena.
    std::size_t scratch_bytes() const override { return scratch_bytes_; }
    std::string describe() const override { return impl_; }

private:
    Context& ctx_;
    dnnl::matmul prim_;
    dnnl::memory src_, wei_, dst_, scratch_;
    std::size_t scratch_bytes_;
    std::string impl_;
    std::unordered_map<int, dnnl::memory> args_;
};

// Dims and strides of an operand stored densely as [stored batch..., rows, cols], seen as the
// logical [batch..., r, c] matrix with element strides (rs, cs). Broadcast batch dims are 1.
std::pair<dims, dims> operand_md(const MatmulGeometry& g, const std::vector<int64_t>& bstride, int64_t r,
                                 int64_t c, int64_t rs, int64_t cs) {
    const std::size_t nb = g.batch.size();
    dims d(nb + 2), s(nb + 2);
    d[nb] = r;
    d[nb + 1] = c;
    s[nb] = rs;
    s[nb + 1] = cs;
    int64_t dense = r * c;
    for (std::size_t i = nb; i-- > 0;) {
        d[i] = bstride[i] == 0 ? 1 : g.batch[i];
        s[i] = dense;  // for size-1 dims any stride works; keep the dense one
        dense *= d[i];
    }
    return {d, s};
}

}  // namespace

std::unique_ptr<Kernel> make_matmul_kernel(KernelResources& resources, const MatmulGeometry& g) {
    Context& ctx = resources.get<Context>();
    const int64_t batch = g.batch_count();
    if (batch == 0 || g.m == 0 || g.n == 0 || g.k == 0) return nullptr;

    dnnl::memory::desc src, wei, dst;
    if (!g.batch.empty() && g.b_shared() && g.a_covers_batch() && !g.transpose_a) {
        // x·W: batch folds into M, one [B·M, K] x [K, N] GEMM (better blocking than B small ones).
        src = {{batch * g.m, g.k}, dt::f32, dims{g.k, 1}};
        wei = {{g.k, g.n}, dt::f32, dims{g.b_rs, g.b_cs}};
        dst = {{batch * g.m, g.n}, dt::f32, dims{g.n, 1}};
    } else {
        auto [ad, as] = operand_md(g, g.a_bstride, g.m, g.k, g.a_rs, g.a_cs);
        auto [bd, bs] = operand_md(g, g.b_bstride, g.k, g.n, g.b_rs, g.b_cs);
        dims yd(g.batch.begin(), g.batch.end());
        yd.push_back(g.m);
        yd.push_back(g.n);
        src = {ad, dt::f32, as};
        wei = {bd, dt::f32, bs};
        dims ys(yd.size());  // Y is contiguous
        int64_t s = 1;
        for (std::size_t i = yd.size(); i-- > 0;) {
            ys[i] = s;
            s *= yd[i];
        }
        dst = {yd, dt::f32, ys};
    }
    try {
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), attr, ctx.engine());
        return std::make_unique<MatmulKernel>(ctx, pd);
    } catch (const dnnl::error&) {
        return nullptr;  // unimplemented combination (e.g. rank > 12): reference kernel runs
    }
}

}  // namespace gg::dnn
