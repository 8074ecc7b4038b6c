// Kernels of the fused recurrent ops (ops/rnn.cpp): oneDNN's RNN primitives for f32 batches
// without lengths (ops/dnn/rnn.h), the reference loops for everything (ops/reference/rnn.h).
//
// Which implementation a backward runs is decided by the workspace its forward wrote: the
// formats name the writer, the fast backward takes only oneDNN's, the reference backward only
// its own of the same dtype (anything else is an internal error, never a silent misread). So
// the fast forward runs only where the fast backward will too: it declines a geometry whose
// backward oneDNN cannot build. A forward whose workspace nobody reads (an inference program)
// runs oneDNN's forward_inference, or keeps the reference's states in its scratch.
#include <fmt/format.h>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/ops/dnn/context.h"
#include "graphgrad/ops/dnn/rnn.h"
#include "graphgrad/ops/internal/rnn_op.h"
#include "graphgrad/ops/kernels/kernel_util.h"

namespace gg {

namespace {

std::string node_label(const KernelContext& c) { return fmt::format("{} \"{}\"", c.node.op->name, c.node.name); }

// The forward's arguments; `in` holds the forward's inputs from index `offset` on (0 in a
// forward node, 1 in a backward node, after the workspace).
template <typename T>
RnnForwardArgs<T> forward_inputs(const RnnOpAttrs& a, const RnnSlots& s, const void* const* in, int offset) {
    auto input = [&](int slot) { return slot < 0 ? nullptr : static_cast<const T*>(in[slot + offset]); };
    RnnForwardArgs<T> f;
    f.x = input(RnnSlots::x);
    for (int64_t d = 0; d < a.directions(); ++d) {
        const auto u = static_cast<std::size_t>(d);
        f.params.weight_ih[u] = input(RnnSlots::weight(d, 0));
        f.params.weight_hh[u] = input(RnnSlots::weight(d, 1));
        f.params.bias_ih[u] = input(RnnSlots::weight(d, 2));
        f.params.bias_hh[u] = input(RnnSlots::weight(d, 3));
    }
    f.h0 = input(s.h0);
    f.c0 = input(s.c0);
    f.lengths = s.lengths < 0 ? nullptr : static_cast<const int64_t*>(in[s.lengths + offset]);
    return f;
}

template <typename T>
RnnForwardArgs<T> forward_args(const RnnOpAttrs& a, const RnnSlots& s, const KernelArgs& k) {
    RnnForwardArgs<T> f = forward_inputs<T>(a, s, k.inputs, 0);
    f.y = static_cast<T*>(k.outputs[RnnSlots::y]);
    f.hn = static_cast<T*>(k.outputs[RnnSlots::hn]);
    f.cn = s.cn < 0 ? nullptr : static_cast<T*>(k.outputs[s.cn]);
    f.workspace = k.outputs[s.workspace];
    return f;
}

template <typename T>
RnnBackwardArgs<T> backward_args(const RnnOpAttrs& a, const RnnSlots& s, const KernelArgs& k) {
    const RnnForwardArgs<T> f = forward_inputs<T>(a, s, k.inputs, 1);
    auto input = [&](int slot) { return slot < 0 ? nullptr : static_cast<const T*>(k.inputs[slot]); };
    auto output = [&](int slot) { return slot < 0 ? nullptr : static_cast<T*>(k.outputs[slot]); };
    RnnBackwardArgs<T> b;
    b.x = f.x;
    b.h0 = f.h0;
    b.c0 = f.c0;
    b.params = f.params;
    b.lengths = f.lengths;
    b.y = input(s.saved_y);
    b.hn = input(s.saved_hn);
    b.cn = input(s.saved_cn);
    // Declared WorkspaceUse::Overwrites: the one input a kernel may write.
    b.workspace = const_cast<void*>(k.inputs[RnnSlots::saved_workspace]);
    b.dy = input(s.dy);
    b.dhn = input(s.dhn);
    b.dcn = input(s.dcn);
    b.dx = output(RnnSlots::dx);
    for (int64_t d = 0; d < a.directions(); ++d) {
        const auto u = static_cast<std::size_t>(d);
        b.grads.weight_ih[u] = output(RnnSlots::dweight(d, 0));
        b.grads.weight_hh[u] = output(RnnSlots::dweight(d, 1));
        b.grads.bias_ih[u] = output(RnnSlots::dweight(d, 2));
        b.grads.bias_hh[u] = output(RnnSlots::dweight(d, 3));
    }
    b.dh0 = output(s.dh0);
    b.dc0 = output(s.dc0);
    return b;
}

class DnnForwardKernel final : public Kernel {
public:
    DnnForwardKernel(std::unique_ptr<dnn::RnnForward> f, const RnnOpAttrs& a, bool training)
        : f_(std::move(f)), a_(a), s_(a), training_(training) {}
    void run(const KernelArgs& k) override { f_->run(forward_args<float>(a_, s_, k), k.scratch); }
    std::size_t scratch_bytes() const override { return f_->scratch_bytes(); }
    std::string describe() const override {
        return fmt::format("oneDNN {}; {}", training_ ? "forward_training" : "forward_inference", f_->conversions());
    }

private:
    std::unique_ptr<dnn::RnnForward> f_;
    RnnOpAttrs a_;
    RnnSlots s_;
    bool training_;
};

class DnnBackwardKernel final : public Kernel {
public:
    DnnBackwardKernel(std::unique_ptr<dnn::RnnBackward> b, const RnnOpAttrs& a) : b_(std::move(b)), a_(a), s_(a) {}
    void run(const KernelArgs& k) override { b_->run(backward_args<float>(a_, s_, k), k.scratch); }
    std::size_t scratch_bytes() const override { return b_->scratch_bytes(); }
    std::string describe() const override { return "oneDNN backward; " + b_->conversions(); }

private:
    std::unique_ptr<dnn::RnnBackward> b_;
    RnnOpAttrs a_;
    RnnSlots s_;
};

}  // namespace

std::unique_ptr<Kernel> rnn_forward_fast(const KernelContext& c) {
    const auto& a = c.attrs_as<RnnOpAttrs>();
    if (c.inputs[0].dtype != DType::F32 || a.has_lengths) return nullptr;  // the reference serves
    const RnnSlots s(a);
    const RnnGeometry geo = rnn_geometry(a, c.inputs);
    const bool training = c.output_read(static_cast<std::size_t>(s.workspace));
    dnn::warm_gemm_code();
    auto& ctx = c.resources.get<dnn::Context>();
    auto fwd = dnn::make_rnn_forward(ctx, geo, training);
    if (!fwd || (training && !dnn::make_rnn_backward(ctx, geo))) return nullptr;
    c.set_workspace(static_cast<std::size_t>(s.workspace), fwd->workspace_bytes(), dnn_rnn_workspace_format(geo));
    return std::make_unique<DnnForwardKernel>(std::move(fwd), a, training);
}

std::unique_ptr<Kernel> rnn_forward_reference(const KernelContext& c) {
    const auto& a = c.attrs_as<RnnOpAttrs>();
    const RnnSlots s(a);
    const RnnGeometry geo = rnn_geometry(a, c.inputs);
    const DType dt = c.inputs[0].dtype;
    const std::size_t bytes = reference::rnn_workspace_bytes(geo, dt);
    // Unread (inference): the states the loops keep go to scratch, freed after the step.
    const bool keep = c.output_read(static_cast<std::size_t>(s.workspace));
    c.set_workspace(static_cast<std::size_t>(s.workspace), keep ? bytes : 0, reference_rnn_workspace_format(geo, dt));
    return dispatch_float(dt, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel(
            [a, s, geo, keep, who = node_label(c)](const KernelArgs& k) {
                RnnForwardArgs<T> f = forward_args<T>(a, s, k);
                if (!keep) f.workspace = k.scratch;
                reference::check_rnn_lengths(geo, f.lengths, who);
                reference::rnn_forward<T>(geo, f);
            },
            keep ? 0 : bytes);
    });
}

std::unique_ptr<Kernel> rnn_backward_fast(const KernelContext& c) {
    const auto& a = c.attrs_as<RnnOpAttrs>();
    const std::span<const TensorDesc> forward = c.inputs.subspan(1);
    if (forward[0].dtype != DType::F32 || a.has_lengths) return nullptr;
    const RnnGeometry geo = rnn_geometry(a, forward);
    const WorkspaceLayout* ws = c.workspace_input(RnnSlots::saved_workspace);
    if (!ws || ws->format() != dnn_rnn_workspace_format(geo)) return nullptr;  // the reference wrote it
    dnn::warm_gemm_code();
    auto bwd = dnn::make_rnn_backward(c.resources.get<dnn::Context>(), geo);
    if (!bwd || bwd->workspace_bytes() != ws->bytes())
        throw_graph("internal error: {}: oneDNN's forward wrote a {} byte workspace that its backward {}",
                    node_label(c), ws->bytes(),
                    bwd ? fmt::format("sizes {} bytes", bwd->workspace_bytes()) : std::string("cannot be built for"));
    return std::make_unique<DnnBackwardKernel>(std::move(bwd), a);
}

std::unique_ptr<Kernel> rnn_backward_reference(const KernelContext& c) {
    const auto& a = c.attrs_as<RnnOpAttrs>();
    const RnnSlots s(a);
    const std::span<const TensorDesc> forward = c.inputs.subspan(1);
    const RnnGeometry geo = rnn_geometry(a, forward);
    const DType dt = forward[0].dtype;
    const std::string format = reference_rnn_workspace_format(geo, dt);
    const std::size_t bytes = reference::rnn_workspace_bytes(geo, dt);
    const WorkspaceLayout* ws = c.workspace_input(RnnSlots::saved_workspace);
    if (!ws || ws->format() != format || ws->bytes() != bytes)
        throw_graph("internal error: {}: the reference backward reads a \"{}\" workspace of {} bytes, but its forward "
                    "wrote {}",
                    node_label(c), format, bytes,
                    ws ? fmt::format("\"{}\" of {} bytes", ws->format(), ws->bytes()) : std::string("none"));
    return dispatch_float(dt, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([a, s, geo, who = node_label(c)](const KernelArgs& k) {
            const RnnBackwardArgs<T> b = backward_args<T>(a, s, k);
            reference::check_rnn_lengths(geo, b.lengths, who);
            reference::rnn_backward<T>(geo, b);
        });
    });
}

}  // namespace gg
