#include "graphgrad/ops/dnn/layout.h"

#include <fmt/format.h>

#include "graphgrad/ops/dnn/context.h"

namespace gg::dnn {

namespace {

class ReorderKernel final : public Kernel {
public:
    ReorderKernel(Context& ctx, const dnnl::memory::desc& from, const dnnl::memory::desc& to)
        : ReorderKernel(ctx, from, to, dnnl::reorder::primitive_desc(ctx.engine(), from, ctx.engine(), to)) {}

    void run(const KernelArgs& a) override {
        src_.set_data_handle(const_cast<void*>(a.inputs[0]));  // reorder never writes its source
        dst_.set_data_handle(a.outputs[0]);
        prim_.execute(ctx_.stream(), src_, dst_);
        ctx_.stream().wait();
    }
    std::string describe() const override { return impl_; }

private:
    ReorderKernel(Context& ctx, const dnnl::memory::desc& from, const dnnl::memory::desc& to,
                  const dnnl::reorder::primitive_desc& pd)
        : ctx_(ctx),
          src_(from, ctx.engine(), DNNL_MEMORY_NONE),
          dst_(to, ctx.engine(), DNNL_MEMORY_NONE),
          prim_(pd),
          impl_(pd.impl_info_str()) {}

    Context& ctx_;
    dnnl::memory src_, dst_;
    dnnl::reorder prim_;
    std::string impl_;
};

}  // namespace

DnnLayout::DnnLayout(dnnl::memory::desc desc, dnnl::memory::desc plain)
    : desc_(std::move(desc)), plain_(std::move(plain)) {}

bool DnnLayout::equals(const Layout& other) const {
    const auto* o = dynamic_cast<const DnnLayout*>(&other);
    return o && o->desc_ == desc_;
}

std::string DnnLayout::describe() const {
    // 2.6 has no format-tag query; describe the inner blocking, e.g. "blocked 16c".
    const auto& blk = desc_.data.format_desc.blocking;
    std::string inner;
    for (int i = 0; i < blk.inner_nblks; ++i) inner += fmt::format("{}{}", blk.inner_blks[i], "abcdef"[blk.inner_idxs[i]]);
    return inner.empty() ? "dnnl plain-strided" : "dnnl blocked " + inner;
}

std::unique_ptr<Kernel> DnnLayout::make_to_plain(KernelResources& resources) const {
    return make_reorder_kernel(resources, desc_, plain_);
}

std::unique_ptr<Kernel> DnnLayout::make_from_plain(KernelResources& resources) const {
    return make_reorder_kernel(resources, plain_, desc_);  // oneDNN reorders zero the padding
}

std::unique_ptr<Kernel> DnnLayout::make_conversion_to(const Layout& to, KernelResources& resources) const {
    const auto* d = dynamic_cast<const DnnLayout*>(&to);
    if (!d || d->plain_ != plain_) return nullptr;
    return make_reorder_kernel(resources, desc_, d->desc_);
}

const DnnLayout* as_dnn(const LayoutPtr& layout) { return dynamic_cast<const DnnLayout*>(layout.get()); }

std::unique_ptr<Kernel> make_reorder_kernel(KernelResources& resources, const dnnl::memory::desc& from,
                                            const dnnl::memory::desc& to) {
    return std::make_unique<ReorderKernel>(resources.get<Context>(), from, to);
}

}  // namespace gg::dnn
