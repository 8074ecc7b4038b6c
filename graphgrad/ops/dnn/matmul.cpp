#include "graphgrad/ops/dnn/matmul.h"

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "graphgrad/ops/dnn/context.h"

namespace gg::dnn {

namespace {

using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;

// A oneDNN matmul with its memory objects. A program's steps run one at a time, so every step
// computing the same matmul (an unrolled recurrence's thousand per-step products, recomputed
// copies) shares one: run() re-points the handles before executing. A primitive with its
// descriptor and memory objects is ~4.5 KB of host memory, which per step would grow an LSTM's
// program over 1000 steps by ~15 MiB that the memory plan cannot see.
struct BoundMatmul {
    BoundMatmul(Context& c, const dnnl::matmul::primitive_desc& pd)
        : ctx(c),
          prim(pd),
          src(pd.src_desc(), c.engine(), DNNL_MEMORY_NONE),
          wei(pd.weights_desc(), c.engine(), DNNL_MEMORY_NONE),
          dst(pd.dst_desc(), c.engine(), DNNL_MEMORY_NONE),
          scratch_bytes(pd.scratchpad_desc().get_size()),
          impl(pd.impl_info_str()) {
        // Memory objects are handles: the map shares them, so set_data_handle() in run()
        // re-points what execute() sees without rebuilding anything.
        args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
        if (scratch_bytes > 0) {
            scratch = dnnl::memory(pd.scratchpad_desc(), c.engine(), DNNL_MEMORY_NONE);
            args.emplace(DNNL_ARG_SCRATCHPAD, scratch);
        }
    }

    Context& ctx;
    dnnl::matmul prim;
    dnnl::memory src, wei, dst, scratch;
    std::size_t scratch_bytes;
    std::string impl;
    std::unordered_map<int, dnnl::memory> args;
};

// The program's matmuls by operand descriptors (a KernelResources item: one per program).
struct BoundMatmuls {
    std::map<std::string, std::shared_ptr<BoundMatmul>> by_operands;
};

// Dims and strides of plain descriptors: all a matmul's primitive depends on here (f32, no
// attributes but the user scratchpad).
std::string operands_key(const dnnl::memory::desc& src, const dnnl::memory::desc& wei, const dnnl::memory::desc& dst) {
    std::string key;
    for (const dnnl::memory::desc* d : {&src, &wei, &dst}) {
        key += fmt::format("{}|", fmt::join(d->dims(), ","));
        const dnnl_memory_desc_t& raw = d->data;
        key += fmt::format("{}/", fmt::join(raw.format_desc.blocking.strides, raw.format_desc.blocking.strides + raw.ndims, ","));
    }
    return key;
}

class MatmulKernel final : public Kernel {
public:
    explicit MatmulKernel(std::shared_ptr<BoundMatmul> b) : b_(std::move(b)) {}

    void run(const KernelArgs& a) override {
        // oneDNN takes non-const handles; it never writes SRC or WEIGHTS.
        b_->src.set_data_handle(const_cast<void*>(a.inputs[0]));
        b_->wei.set_data_handle(const_cast<void*>(a.inputs[1]));
        b_->dst.set_data_handle(a.outputs[0]);
        if (b_->scratch_bytes > 0) b_->scratch.set_data_handle(a.scratch);
        b_->prim.execute(b_->ctx.stream(), b_->args);
        b_->ctx.stream().wait();
    }

    // scratchpad_mode::user: the planner places oneDNN's scratchpad in the arena.
    std::size_t scratch_bytes() const override { return b_->scratch_bytes; }
    std::string describe() const override { return b_->impl; }

private:
    std::shared_ptr<BoundMatmul> b_;
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
    std::shared_ptr<BoundMatmul>& bound = resources.get<BoundMatmuls>().by_operands[operands_key(src, wei, dst)];
    if (bound) return std::make_unique<MatmulKernel>(bound);
    try {
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), attr, ctx.engine());
        bound = std::make_shared<BoundMatmul>(ctx, pd);
        return std::make_unique<MatmulKernel>(bound);
    } catch (const dnnl::error&) {
        return nullptr;  // unimplemented combination (e.g. rank > 12): reference kernel runs
    }
}

}  // namespace gg::dnn
