#include "graphgrad/ops/dnn/conv.h"

#include <array>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "graphgrad/ops/dnn/context.h"
#include "graphgrad/ops/dnn/conv_rows.h"
#include "graphgrad/ops/dnn/layout.h"
#include "graphgrad/ops/kernels/kernel_util.h"

namespace gg::dnn {

namespace {

using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using md = dnnl::memory::desc;

// Descriptors of the geometry's tensors: plain (what the graph stores) or any (the
// primitive's choice). Grouped weights are 5-D goihw, which is PyTorch's [O, C/g, kh, kw].
md x_md(const ConvGeometry& g, bool any) { return md({g.n, g.c, g.h, g.w}, dt::f32, any ? tag::any : tag::nchw); }
md y_md(const ConvGeometry& g, bool any) { return md({g.n, g.o, g.oh, g.ow}, dt::f32, any ? tag::any : tag::nchw); }
md w_md(const ConvGeometry& g, bool any) {
    if (g.groups > 1) return md({g.groups, g.og(), g.cg(), g.kh, g.kw}, dt::f32, any ? tag::any : tag::goihw);
    return md({g.o, g.c, g.kh, g.kw}, dt::f32, any ? tag::any : tag::oihw);
}
md b_md(const ConvGeometry& g) { return md({g.o}, dt::f32, tag::x); }

// oneDNN counts dilation from 0 (dense), PyTorch and ConvGeometry from 1.
struct Window {
    dims strides, dilates, pad_l, pad_r;
    explicit Window(const ConvGeometry& g)
        : strides{g.stride_h, g.stride_w},
          dilates{g.dil_h - 1, g.dil_w - 1},
          pad_l{g.pad_top, g.pad_left},
          pad_r{g.pad_bottom, g.pad_right} {}
};

// One primitive argument: which kernel input or output feeds it, its plain layout, the layout
// the graph holds it in (user: as it arrives, or the primitive's for a free output) and the
// one the primitive runs on (inner). Where user and inner differ, compile() converts (the
// kernel asks for it through KernelContext); the kernel itself never reorders.
struct ArgSpec {
    int arg;
    bool output;
    int index;
    md plain, user, inner;
};

struct Plan {
    // Creating the primitive JIT-compiles it: done only for the plan choose_plan() keeps.
    std::function<dnnl::primitive()> make_primitive;
    md scratchpad;
    std::vector<ArgSpec> args;
    std::string impl;
    bool reorders() const {
        for (const auto& a : args)
            if (a.user != a.inner) return true;
        return false;
    }
};

using fwd = dnnl::convolution_forward;

fwd::primitive_desc forward_pd(const Context& ctx, const ConvGeometry& g, dnnl::prop_kind prop, const md& src,
                               const md& dst, bool any, bool bias, const dnnl::primitive_attr& attr) {
    const Window win(g);
    auto d = bias ? fwd::desc(prop, dnnl::algorithm::convolution_direct, src, w_md(g, any), b_md(g), dst, win.strides,
                              win.dilates, win.pad_l, win.pad_r)
                  : fwd::desc(prop, dnnl::algorithm::convolution_direct, src, w_md(g, any), dst, win.strides,
                              win.dilates, win.pad_l, win.pad_r);
    return fwd::primitive_desc(d, attr, ctx.engine());
}

// src is x_md(g, any) or an incoming opaque layout the primitive is pinned to.
fwd::primitive_desc forward_pd(const Context& ctx, const ConvGeometry& g, dnnl::prop_kind prop, const md& src,
                               bool any, bool bias, const dnnl::primitive_attr& attr) {
    if (any && prop == dnnl::prop_kind::forward_inference) {
        // Inference takes the activation layouts the training primitive picks (the weights
        // stay free). Left free it picks channels-last here: reordering NCHW to and from it
        // costs twice as much as nChw16c (2.1 + 1.4 vs 1.0 + 1.0 ms for the 25.7 MB benchmark
        // activation) for a convolution that is no faster, and a depthwise convolution after
        // it runs 100x slower (MobileNet inference: 186 ms vs 1.5 ms).
        auto train = forward_pd(ctx, g, dnnl::prop_kind::forward_training, src, true, bias, attr);
        return forward_pd(ctx, g, prop, train.src_desc(), train.dst_desc(), true, bias, attr);
    }
    return forward_pd(ctx, g, prop, src, y_md(g, any), any, bias, attr);
}

// How the graph holds the kernel's tensors: inputs in an opaque oneDNN layout (a producer
// upstream chose it), whether output 0 may take the primitive's layout without a conversion
// (not fetched, and every consumer reads opaque layouts), and whether it must be plain (a bias
// the kernel adds with plain loops after the primitive).
struct ConvIO {
    std::array<std::optional<md>, 3> in;  // by kernel input index; nullopt = plain
    bool output_free = false;
    bool output_plain = false;
    bool any_opaque() const { return in[0] || in[1] || in[2]; }
};

// The primitive of one pass with every tensor plain (any = false) or left to oneDNN (any =
// true; activation inputs already in an opaque layout are pinned to it when `pin`, so they
// need no reorder). User descriptors follow `io`. Throws dnnl::error when no
// implementation exists.
Plan plan_pass(const Context& ctx, const ConvGeometry& g, ConvPass pass, bool training, bool any, const ConvIO& io,
               bool pin) {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // the planner places it in the arena
    const Window win(g);
    auto act = [&](int index, const md& plain_any) { return pin && any && io.in[index] ? *io.in[index] : plain_any; };
    Plan p;
    switch (pass) {
        case ConvPass::Forward: {
            auto prop = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
            auto pd = forward_pd(ctx, g, prop, act(0, x_md(g, any)), any, g.bias, attr);
            p.make_primitive = [pd] { return dnnl::primitive(fwd(pd)); };
            p.scratchpad = pd.scratchpad_desc();
            p.impl = pd.impl_info_str();
            p.args = {{DNNL_ARG_SRC, false, 0, x_md(g, false), {}, pd.src_desc()},
                      {DNNL_ARG_WEIGHTS, false, 1, w_md(g, false), {}, pd.weights_desc()},
                      {DNNL_ARG_DST, true, 0, y_md(g, false), {}, pd.dst_desc()}};
            if (g.bias) p.args.push_back({DNNL_ARG_BIAS, false, 2, b_md(g), {}, pd.bias_desc()});
            break;
        }
        case ConvPass::BackwardData: {
            // Backward primitives take a forward_training descriptor as a hint (oneDNN 2.x).
            auto hint = forward_pd(ctx, g, dnnl::prop_kind::forward_training, x_md(g, any), any, false,
                                   dnnl::primitive_attr());
            using bwd = dnnl::convolution_backward_data;
            // A bias added after the primitive (conv_transpose2d) is added by plain loops.
            bwd::desc d(dnnl::algorithm::convolution_direct, x_md(g, any && !io.output_plain), w_md(g, any),
                        act(0, y_md(g, any)), win.strides, win.dilates, win.pad_l, win.pad_r);
            bwd::primitive_desc pd(d, attr, ctx.engine(), hint);
            p.make_primitive = [pd] { return dnnl::primitive(bwd(pd)); };
            p.scratchpad = pd.scratchpad_desc();
            p.impl = pd.impl_info_str();
            p.args = {{DNNL_ARG_DIFF_DST, false, 0, y_md(g, false), {}, pd.diff_dst_desc()},
                      {DNNL_ARG_WEIGHTS, false, 1, w_md(g, false), {}, pd.weights_desc()},
                      {DNNL_ARG_DIFF_SRC, true, 0, x_md(g, false), {}, pd.diff_src_desc()}};
            break;
        }
        case ConvPass::BackwardWeights: {
            auto hint = forward_pd(ctx, g, dnnl::prop_kind::forward_training, x_md(g, any), any, false,
                                   dnnl::primitive_attr());
            using bwd = dnnl::convolution_backward_weights;
            bwd::desc d(dnnl::algorithm::convolution_direct, act(0, x_md(g, any)), w_md(g, any), act(1, y_md(g, any)),
                        win.strides, win.dilates, win.pad_l, win.pad_r);
            bwd::primitive_desc pd(d, attr, ctx.engine(), hint);
            p.make_primitive = [pd] { return dnnl::primitive(bwd(pd)); };
            p.scratchpad = pd.scratchpad_desc();
            p.impl = pd.impl_info_str();
            p.args = {{DNNL_ARG_SRC, false, 0, x_md(g, false), {}, pd.src_desc()},
                      {DNNL_ARG_DIFF_DST, false, 1, y_md(g, false), {}, pd.diff_dst_desc()},
                      {DNNL_ARG_DIFF_WEIGHTS, true, 0, w_md(g, false), {}, pd.diff_weights_desc()}};
            break;
        }
    }
    // The graph's side: opaque inputs as they arrive; output 0 in the primitive's layout when
    // the graph lets it choose (then nothing is reordered on that side).
    for (ArgSpec& a : p.args) {
        a.user = a.plain;
        if (!a.output && io.in[static_cast<std::size_t>(a.index)]) a.user = *io.in[static_cast<std::size_t>(a.index)];
        if (a.output && a.index == 0 && io.output_free) a.user = a.inner;
    }
    return p;
}

const char* arg_name(int arg) {
    switch (arg) {
        case DNNL_ARG_SRC: return "src";
        case DNNL_ARG_WEIGHTS: return "weights";
        case DNNL_ARG_DST: return "dst";
        case DNNL_ARG_BIAS: return "bias";
        case DNNL_ARG_DIFF_SRC: return "diff_src";
        case DNNL_ARG_DIFF_DST: return "diff_dst";
        case DNNL_ARG_DIFF_WEIGHTS: return "diff_weights";
        default: return "?";
    }
}

std::optional<Plan> try_plan(const Context& ctx, const ConvGeometry& g, ConvPass pass, bool training, bool any,
                             const ConvIO& io) {
    if (any && io.any_opaque()) {
        try {
            return plan_pass(ctx, g, pass, training, true, io, true);
        } catch (const dnnl::error&) {
            // no implementation on the incoming layout: let oneDNN choose and reorder to it
        }
    }
    try {
        return plan_pass(ctx, g, pass, training, any, io, false);
    } catch (const dnnl::error&) {
        return std::nullopt;  // unimplemented combination: the other layout or the reference runs
    }
}

std::optional<Plan> choose_plan(const Context& ctx, const ConvGeometry& g, ConvPass pass, bool training,
                                ConvLayout layout, const ConvIO& io = {}) {
    if (g.n == 0 || g.c == 0 || g.o == 0 || g.oh <= 0 || g.ow <= 0) return std::nullopt;
    // oneDNN's reference implementation (layouts it has no JIT code for, e.g. some depthwise
    // cases) is one to two orders of magnitude slower than any reorder: a blocked plan that
    // would run it never wins on its layout alone (5x5 depthwise backward weights on blocked
    // inputs: ref:any, 145 ms at N32 in EfficientNet-B0, where plain gemm:jit takes a few; a
    // blocked input pinned against conv_transpose2d's plain biased output: U-Net's 2x2
    // up-convolutions, 9.5 s of a 9.8 s step).
    auto is_ref = [](const std::optional<Plan>& p) { return p && p->impl.rfind("ref", 0) == 0; };
    std::optional<Plan> blocked = layout == ConvLayout::Plain ? std::nullopt : try_plan(ctx, g, pass, training, true, io);
    if (layout == ConvLayout::Blocked) return blocked;
    const bool blocked_fast = blocked && !is_ref(blocked);
    if (blocked_fast && !blocked->reorders()) return blocked;
    if (layout == ConvLayout::Auto && blocked_fast && conv_prefers_blocked(g, pass)) return blocked;
    // An input already blocked tips a plain-preferring convolution (1x1) to blocked: the plain
    // kernel would need the reorder the graph avoided upstream.
    if (layout == ConvLayout::Auto && blocked_fast && io.any_opaque() && !(pass == ConvPass::BackwardData && g.c <= 4))
        return blocked;
    std::optional<Plan> plain = try_plan(ctx, g, pass, training, false, io);
    if (layout == ConvLayout::Auto && blocked && (!plain || (is_ref(plain) && !is_ref(blocked)))) return blocked;
    return plain ? plain : blocked;
}

// Large windows oneDNN only has im2col + GEMM for run on the width-unfolding kernel
// (conv_rows.h); an explicit layout policy keeps oneDNN, for measurements.
bool use_rows(const ConvGeometry& g, const std::optional<Plan>& plan, ConvLayout layout) {
    return layout == ConvLayout::Auto && rows_conv_preferred(g, plan ? plan->impl : std::string());
}

// The primitive with every argument bound to the step's buffers, in the primitive's own
// layouts (compile() converted the inputs and converts the output where needed).
class ConvKernel final : public Kernel {
public:
    // bias_input >= 0: add that input per channel of output 0 after the primitive
    // (conv_transpose2d's bias; a convolution backward-data primitive has none).
    ConvKernel(Context& ctx, const Plan& plan, int bias_input, int64_t planes, int64_t channels, int64_t plane_size)
        : ctx_(ctx),
          prim_(plan.make_primitive()),
          impl_(plan.impl),
          bias_input_(bias_input),
          planes_(planes),
          channels_(channels),
          plane_size_(plane_size) {
        const dnnl::engine& eng = ctx.engine();
        if (plan.scratchpad.get_size() > 0) {
            scratchpad_ = dnnl::memory(plan.scratchpad, eng, DNNL_MEMORY_NONE);
            args_.emplace(DNNL_ARG_SCRATCHPAD, scratchpad_);
        }
        for (const ArgSpec& a : plan.args) {
            bindings_.push_back({a.output, a.index, dnnl::memory(a.inner, eng, DNNL_MEMORY_NONE)});
            args_.emplace(a.arg, bindings_.back().memory);  // handles: set_data_handle() shows through
        }
        scratch_bytes_ = plan.scratchpad.get_size();
    }

    void run(const KernelArgs& a) override {
        if (scratchpad_) scratchpad_.set_data_handle(a.scratch);
        // oneDNN takes non-const handles; it never writes inputs.
        for (Binding& b : bindings_)
            b.memory.set_data_handle(b.output ? a.outputs[b.index] : const_cast<void*>(a.inputs[b.index]));
        dnnl::stream& s = ctx_.stream();
        prim_.execute(s, args_);
        s.wait();
        if (bias_input_ >= 0)
            add_channel_bias(static_cast<const float*>(a.inputs[bias_input_]), static_cast<float*>(a.outputs[0]),
                             planes_, channels_, plane_size_);
    }

    std::size_t scratch_bytes() const override { return scratch_bytes_; }
    std::string describe() const override { return impl_; }

private:
    struct Binding {
        bool output;
        int index;
        dnnl::memory memory;
    };

    Context& ctx_;
    dnnl::primitive prim_;
    std::string impl_;
    dnnl::memory scratchpad_;
    std::vector<Binding> bindings_;
    std::unordered_map<int, dnnl::memory> args_;
    std::size_t scratch_bytes_ = 0;
    int bias_input_;
    int64_t planes_, channels_, plane_size_;
};

// The graph layout of a oneDNN descriptor: null for plain memory.
LayoutPtr graph_layout(const md& desc, const md& plain) {
    return desc == plain ? nullptr : std::make_shared<DnnLayout>(desc, plain);
}

// Tells compile() the layouts the plan runs on: inputs arriving in another layout are
// converted before the step, an opaque output is converted where a reader needs plain.
void negotiate_layouts(const KernelContext& c, const Plan& plan) {
    for (const ArgSpec& a : plan.args) {
        const auto i = static_cast<std::size_t>(a.index);
        if (a.output) {
            if (a.inner != a.plain) c.set_output_layout(i, graph_layout(a.inner, a.plain));
        } else if (a.inner != a.user) {
            c.require_input_layout(i, graph_layout(a.inner, a.plain));
        }
    }
}

ConvLayout conv_layout(LayoutPolicy policy) {
    switch (policy) {
        case LayoutPolicy::Plain: return ConvLayout::Plain;
        case LayoutPolicy::Opaque: return ConvLayout::Blocked;
        case LayoutPolicy::Auto: return ConvLayout::Auto;
    }
    return ConvLayout::Auto;
}

}  // namespace

void add_channel_bias(const float* b, float* y, int64_t planes, int64_t channels, int64_t plane) {
    parallel_range(planes, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
            const float v = b[p % channels];
            float* row = y + p * plane;
            for (int64_t i = 0; i < plane; ++i) row[i] += v;
        }
    }, grain_for(plane));
}

// Measured with graphgrad's own kernels (1 thread, CPU time per run, min of 8; the blocked
// column includes its reorders; fwd / backward data / backward weights, ms):
//   shape (N C->O HxW k)           plain (gemm:jit)        blocked + reorders
//   32  64->64  56x56 3x3          57.1 / 73.0 / 95.7      39.8 / 40.2 / 43.5   blocked
//   128 16->16  28x28 3x3           7.7 / 11.1 / 12.3       3.0 /  3.0 /  3.3   blocked
//   128  6->16  14x14 5x5 (LeNet)   1.17 / 1.74 / 1.31      0.34 / 0.95 / 1.01  blocked
//   128  8->16  28x28 3x3           3.7 /  5.6 /  7.9       1.5 /  3.1 /  3.0   blocked
//   128  3->16  28x28 3x3           1.40 / 2.36 / 3.12      0.67 / 3.08 / 0.71  bwd data plain
//   128  1->6   28x28 5x5 (LeNet)   1.05 / 1.61 / 1.74      0.66 / 6.65 / 0.59  bwd data plain
//   128 32->32  28x28 3x3 dw        12.2 / 21.1 / 21.7      2.6 /  3.0 /  2.5   blocked
//   128 32->64  28x28 1x1           2.18 / 2.45 / 4.40      4.98 / 5.40 / 5.17  plain
//   128 64->128 14x14 1x1           2.13 / 2.23 / 4.52      3.52 / 4.05 / 3.94  plain
//   128 256->256 7x7 1x1            5.64 / 5.68 / 6.77      4.70 / 4.64 / 5.15  blocked
//   128 16->32  28x28 1x1 stride 2  0.49 / 0.64 / 0.59      0.52 / 0.74 / 0.77  plain
// On plain layouts oneDNN runs every convolution as im2col + GEMM. A k×k window makes that
// expensive (im2col copies each pixel k² times), so blocked wins by 1.5–8× despite the
// reorders, except backward data into very few channels, which the blocked kernel pads to a
// block of 16. A 1x1 convolution is a GEMM without im2col: plain wins unless the channel
// counts are large enough for the blocked kernel's extra flops per reordered byte to pay
// (harmonic mean of C and O ≥ 128 here).
bool conv_prefers_blocked(const ConvGeometry& g, ConvPass pass) {
    if (g.groups == 1 && g.kh * g.kw == 1) return 2 * g.c * g.o >= 128 * (g.c + g.o);
    if (pass == ConvPass::BackwardData && g.c <= 4) return false;
    return true;
}

std::unique_ptr<Kernel> make_conv_kernel(const KernelContext& c, const ConvGeometry& g, ConvPass pass) {
    Context& ctx = c.resources.get<Context>();
    const ConvLayout layout = conv_layout(c.layout_policy());
    ConvIO io;
    for (std::size_t i = 0; i < io.in.size(); ++i)
        if (const DnnLayout* d = as_dnn(c.input_layout(i))) io.in[i] = d->desc();
    io.output_plain = pass == ConvPass::BackwardData && g.bias;  // the bias is added by plain loops after
    io.output_free = !io.output_plain && c.output_conversion_free(0);
    std::optional<Plan> plan = choose_plan(ctx, g, pass, c.training, layout, io);
    if (!io.any_opaque() && use_rows(g, plan, layout)) return make_rows_conv_kernel(g, pass);
    if (!plan) return nullptr;
    if (plan->reorders() && !c.may_choose_layouts()) return nullptr;  // the reference loops run
    negotiate_layouts(c, *plan);
    return std::make_unique<ConvKernel>(ctx, *plan, io.output_plain ? 2 : -1, g.n * g.c, g.c, g.h * g.w);
}

std::string describe_conv_kernel(const ConvGeometry& g, ConvPass pass, bool training, ConvLayout layout) {
    Context ctx;
    ConvIO io;
    io.output_plain = pass == ConvPass::BackwardData && g.bias;
    std::optional<Plan> plan = choose_plan(ctx, g, pass, training, layout, io);
    if (use_rows(g, plan, layout)) return "rows:sgemm (plain)";
    if (!plan) return {};
    std::string reordered;
    for (const ArgSpec& a : plan->args)
        if (a.user != a.inner) reordered += fmt::format("{}{}", reordered.empty() ? "" : " ", arg_name(a.arg));
    return fmt::format("{}{}", plan->impl, reordered.empty() ? " (plain)" : " (blocked; reorders " + reordered + ")");
}

}  // namespace gg::dnn
