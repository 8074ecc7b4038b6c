// A oneDNN primitive with its memory objects made once (in compile()); run() only re-points
// them at the step's buffers and executes. Shared by the pooling and batch-norm kernels.
//
//   BoundPrimitive p(ctx, dnnl::pooling_v2_forward(pd), pd.scratchpad_desc());
//   const int src = p.bind(DNNL_ARG_SRC, pd.src_desc());
//   p.set(src, a.inputs[0]);  ...  p.execute(a.scratch);
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "graphgrad/ops/dnn/context.h"

namespace gg::dnn {

class BoundPrimitive {
public:
    // The primitive must have been created with scratchpad_mode::user: its scratchpad is
    // planned into the arena (KernelArgs::scratch).
    BoundPrimitive(Context& ctx, dnnl::primitive prim, const dnnl::memory::desc& scratchpad)
        : ctx_(&ctx), prim_(std::move(prim)), scratch_bytes_(scratchpad.get_size()) {
        if (scratch_bytes_ > 0) {
            scratch_ = dnnl::memory(scratchpad, ctx.engine(), DNNL_MEMORY_NONE);
            args_.emplace(DNNL_ARG_SCRATCHPAD, scratch_);
        }
    }

    // Memory objects are handles: the argument map shares them with `mems_`, so set() changes
    // what execute() sees without rebuilding anything. Returns the slot for set().
    int bind(int arg, const dnnl::memory::desc& md) {
        mems_.push_back(dnnl::memory(md, ctx_->engine(), DNNL_MEMORY_NONE));
        args_.emplace(arg, mems_.back());
        return static_cast<int>(mems_.size()) - 1;
    }
    // oneDNN takes non-const handles; it never writes its source arguments.
    void set(int slot, const void* p) { mems_[static_cast<std::size_t>(slot)].set_data_handle(const_cast<void*>(p)); }

    void execute(void* scratch) {
        if (scratch_bytes_ > 0) scratch_.set_data_handle(scratch);
        prim_.execute(ctx_->stream(), args_);
        ctx_->stream().wait();
    }
    std::size_t scratch_bytes() const { return scratch_bytes_; }
    // oneDNN's implementation name (e.g. "jit:avx512_core"), for compile reports.
    std::string impl() const {
        const char* name = nullptr;
        dnnl_primitive_desc_query(prim_.get_primitive_desc(), dnnl_query_impl_info_str, 0, &name);
        return name ? name : "";
    }

private:
    Context* ctx_;
    dnnl::primitive prim_;
    std::size_t scratch_bytes_;
    dnnl::memory scratch_;
    std::vector<dnnl::memory> mems_;
    std::unordered_map<int, dnnl::memory> args_;
};

// Row-major ("plain") descriptor of an f32 tensor: nchw for 4-D, nc for 2-D, and so on.
inline dnnl::memory::desc plain_f32(const dnnl::memory::dims& dims) {
    dnnl::memory::dims strides(dims.size(), 1);
    for (std::size_t i = dims.size(); i-- > 1;) strides[i - 1] = strides[i] * dims[i];
    return {dims, dnnl::memory::data_type::f32, strides};
}

// Attributes every graphgrad primitive uses: the scratchpad comes from the arena.
inline dnnl::primitive_attr user_scratchpad() {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return attr;
}

}  // namespace gg::dnn
