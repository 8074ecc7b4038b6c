// oneDNN memory layouts as graph layouts (graph/layout.h): a value that a oneDNN op produced
// in the format the primitive preferred (e.g. nChw16c) carries a DnnLayout, so the next
// oneDNN op reads it without a reorder and compile() converts it to plain only where needed.
//
//   auto layout = std::make_shared<gg::dnn::DnnLayout>(pd.dst_desc(), plain_md);
//   ctx.set_output_layout(0, layout);                      // in a Native kernel factory
//   if (auto* in = gg::dnn::as_dnn(ctx.input_layout(0))) src_md = in->desc();
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "graphgrad/graph/kernel.h"
#include "graphgrad/graph/layout.h"

namespace gg::dnn {

class DnnLayout final : public Layout {
public:
    DnnLayout(dnnl::memory::desc desc, dnnl::memory::desc plain);
    std::size_t bytes() const override { return desc_.get_size(); }
    bool equals(const Layout& other) const override;
    std::string describe() const override;
    std::unique_ptr<Kernel> make_to_plain(KernelResources& resources) const override;
    std::unique_ptr<Kernel> make_from_plain(KernelResources& resources) const override;
    // One reorder to another oneDNN layout of the same tensor.
    std::unique_ptr<Kernel> make_conversion_to(const Layout& to, KernelResources& resources) const override;

    const dnnl::memory::desc& desc() const { return desc_; }
    const dnnl::memory::desc& plain() const { return plain_; }

private:
    dnnl::memory::desc desc_, plain_;
};

// The oneDNN layout behind a graph layout, or nullptr (plain, or not a oneDNN layout).
const DnnLayout* as_dnn(const LayoutPtr& layout);

// A kernel reordering one buffer from `from` to `to` (a reorder primitive made once).
std::unique_ptr<Kernel> make_reorder_kernel(KernelResources& resources, const dnnl::memory::desc& from,
                                            const dnnl::memory::desc& to);

}  // namespace gg::dnn
