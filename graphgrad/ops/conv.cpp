// conv2d, its backward ops and conv_transpose2d: shape rules, kernels (oneDNN f32 in
// ops/dnn/conv, plain loops in ops/reference/conv.h), gradient rules and registration. The
// samples live in ops/conv_samples.cpp.
//
// One convolution identity carries every rule. With y = conv(x, w), dx = Bd(dy, w) (backward
// data) and dw = Bw(x, dy) (backward weights), all three are bilinear and
//   <conv(x, w), dy> = <x, Bd(dy, w)> = <w, Bw(x, dy)>,
// so the gradient of any one of them in either argument is another one of them.
// conv_transpose2d(x, w) is Bd(x, w) of the convolution that maps its output back to x.
#include "graphgrad/ops/conv.h"

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/internal/conv_internal.h"
#include "graphgrad/ops/dnn/conv.h"
#include "graphgrad/ops/reduction.h"
#include "graphgrad/ops/reference/conv.h"
#include "graphgrad/ops/internal/register_ops.h"

namespace gg {

int64_t conv_output_size(int64_t in, int64_t k, int64_t stride, int64_t pad_lo, int64_t pad_hi, int64_t dilation) {
    return (in + pad_lo + pad_hi - dilation * (k - 1) - 1) / stride + 1;
}

namespace {

void check_options(const Conv2dOptions& o) {
    if (o.stride[0] < 1 || o.stride[1] < 1) throw_shape("stride must be >= 1, got {}x{}", o.stride[0], o.stride[1]);
    if (o.dilation[0] < 1 || o.dilation[1] < 1)
        throw_shape("dilation must be >= 1 (1 = dense), got {}x{}", o.dilation[0], o.dilation[1]);
    for (int64_t p : o.padding)
        if (p < 0)
            throw_shape("padding must be >= 0, got {{{}, {}, {}, {}}}", o.padding[0], o.padding[1], o.padding[2],
                        o.padding[3]);
    if (o.groups < 1) throw_shape("groups must be >= 1, got {}", o.groups);
}

void check_dtypes(const InferContext& c) {
    const TensorDesc& x = c.input(0);
    if (!is_floating(x.dtype)) throw_shape("inputs must be floating point (f32 or f64), got {}", x);
    for (std::size_t i = 1; i < c.inputs.size(); ++i)
        if (c.input(i).dtype != x.dtype) throw_shape("dtypes differ: {} vs {}", x, c.input(i));
}

void check_bias(const InferContext& c, int64_t channels) {
    if (c.inputs.size() == 3 && c.input(2).shape != Shape{channels})
        throw_shape("bias must be [{}] (one per output channel), got {}", channels, shape_str(c.input(2).shape));
}

}  // namespace

ConvGeometry conv_geometry(const Shape& x, const Shape& w, const Conv2dOptions& o) {
    check_options(o);
    if (x.size() != 4) throw_shape("input must be 4-D [N, C, H, W], got {}", shape_str(x));
    if (w.size() != 4) throw_shape("weight must be 4-D [O, C/groups, kh, kw], got {}", shape_str(w));
    for (std::size_t i = 1; i < 4; ++i)
        if (x[i] < 1 || w[i] < 1 || w[0] < 1)
            throw_shape("channel, spatial and kernel sizes must be >= 1: input {}, weight {}", shape_str(x), shape_str(w));
    ConvGeometry g;
    g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
    g.o = w[0], g.kh = w[2], g.kw = w[3];
    g.groups = o.groups;
    if (g.c % g.groups != 0) throw_shape("input channels {} are not divisible by groups {}", g.c, g.groups);
    if (g.o % g.groups != 0) throw_shape("output channels {} are not divisible by groups {}", g.o, g.groups);
    if (w[1] * g.groups != g.c)
        throw_shape("weight {} takes {}·{} = {} input channels (C/groups · groups), the input has {}", shape_str(w), w[1],
                    g.groups, w[1] * g.groups, g.c);
    g.stride_h = o.stride[0], g.stride_w = o.stride[1];
    g.pad_top = o.padding[0], g.pad_bottom = o.padding[1], g.pad_left = o.padding[2], g.pad_right = o.padding[3];
    g.dil_h = o.dilation[0], g.dil_w = o.dilation[1];
    const int64_t eh = g.dil_h * (g.kh - 1) + 1, ew = g.dil_w * (g.kw - 1) + 1;
    const int64_t ph = g.h + g.pad_top + g.pad_bottom, pw = g.w + g.pad_left + g.pad_right;
    if (eh > ph || ew > pw)
        throw_shape("kernel {}x{} (dilated extent {}x{}) is larger than the padded input {}x{}", g.kh, g.kw, eh, ew, ph, pw);
    g.oh = conv_output_size(g.h, g.kh, g.stride_h, g.pad_top, g.pad_bottom, g.dil_h);
    g.ow = conv_output_size(g.w, g.kw, g.stride_w, g.pad_left, g.pad_right, g.dil_w);
    return g;
}

ConvGeometry conv_transpose_geometry(const Shape& x, const Shape& w, const Conv2dOptions& o) {
    check_options(o);
    if (x.size() != 4) throw_shape("input must be 4-D [N, C_in, H, W], got {}", shape_str(x));
    if (w.size() != 4) throw_shape("weight must be 4-D [C_in, C_out/groups, kh, kw], got {}", shape_str(w));
    if (w[0] != x[1]) throw_shape("weight {} is for {} input channels, the input has {}", shape_str(w), w[0], x[1]);
    for (int a = 0; a < 2; ++a) {
        const int64_t op = o.output_padding[static_cast<std::size_t>(a)], s = o.stride[static_cast<std::size_t>(a)];
        // PyTorch also allows output_padding < dilation; as the backward data of a convolution
        // (what runs here) only the rows a stride leaves over exist.
        if (op < 0 || op >= s) throw_shape("output_padding must be >= 0 and smaller than the stride, got {} with stride {}", op, s);
    }
    // The output size of a transposed convolution inverts conv_output_size; output_padding
    // picks among the sizes a strided convolution maps to the same input size.
    auto out = [&](int a) {
        const auto u = static_cast<std::size_t>(a);
        return (x[2 + u] - 1) * o.stride[u] - o.padding[2 * u] - o.padding[2 * u + 1] + o.dilation[u] * (w[2 + u] - 1) +
               o.output_padding[u] + 1;
    };
    const int64_t oh = out(0), ow = out(1);
    if (oh < 1 || ow < 1) throw_shape("output size {}x{} is not positive (padding too large for the input)", oh, ow);
    Conv2dOptions conv = o;
    conv.output_padding = {0, 0};
    // The convolution from the output [N, C_out, oh, ow] back to x, whose weight is w as given.
    return conv_geometry({x[0], w[1] * o.groups, oh, ow}, w, conv);
}

namespace {

// ---- shape rules --------------------------------------------------------------------------
std::vector<TensorDesc> infer_conv2d(const InferContext& c) {
    const auto& o = c.attrs_as<Conv2dOptions>();
    check_dtypes(c);
    if (o.output_padding[0] != 0 || o.output_padding[1] != 0)
        throw_shape("output_padding is only for conv_transpose2d, got {}x{}", o.output_padding[0], o.output_padding[1]);
    const ConvGeometry g = conv_geometry(c.input(0).shape, c.input(1).shape, o);
    check_bias(c, g.o);
    return {TensorDesc{g.y_shape(), c.input(0).dtype}};
}

void check_grad_output(const TensorDesc& dy, const ConvGeometry& g) {
    if (dy.shape != g.y_shape())
        throw_shape("grad_output {} does not match the convolution output {}", shape_str(dy.shape), shape_str(g.y_shape()));
}

// (dy, w) → dx with dx's shape in the attributes: strided convolutions map several input sizes
// to one output size.
std::vector<TensorDesc> infer_backward_data(const InferContext& c) {
    const auto& a = c.attrs_as<ConvBackwardAttrs>();
    check_dtypes(c);
    const ConvGeometry g = conv_geometry(a.shape, c.input(1).shape, a.options);
    check_grad_output(c.input(0), g);
    return {TensorDesc{a.shape, c.input(0).dtype}};
}

// (x, dy) → dw with dw's shape in the attributes (the kernel size is not in x or dy).
std::vector<TensorDesc> infer_backward_weights(const InferContext& c) {
    const auto& a = c.attrs_as<ConvBackwardAttrs>();
    check_dtypes(c);
    const ConvGeometry g = conv_geometry(c.input(0).shape, a.shape, a.options);
    check_grad_output(c.input(1), g);
    return {TensorDesc{a.shape, c.input(0).dtype}};
}

std::vector<TensorDesc> infer_conv_transpose2d(const InferContext& c) {
    const auto& o = c.attrs_as<Conv2dOptions>();
    check_dtypes(c);
    const ConvGeometry g = conv_transpose_geometry(c.input(0).shape, c.input(1).shape, o);
    check_bias(c, g.c);
    return {TensorDesc{g.x_shape(), c.input(0).dtype}};
}

// ---- kernels --------------------------------------------------------------------------------
using dnn::ConvPass;
using GeometryOf = ConvGeometry (*)(const KernelContext&);

ConvGeometry conv2d_geometry_of(const KernelContext& c) {
    ConvGeometry g = conv_geometry(c.inputs[0].shape, c.inputs[1].shape, c.attrs_as<Conv2dOptions>());
    g.bias = c.inputs.size() == 3;
    return g;
}
ConvGeometry backward_data_geometry_of(const KernelContext& c) {
    const auto& a = c.attrs_as<ConvBackwardAttrs>();
    return conv_geometry(a.shape, c.inputs[1].shape, a.options);
}
ConvGeometry backward_weights_geometry_of(const KernelContext& c) {
    const auto& a = c.attrs_as<ConvBackwardAttrs>();
    return conv_geometry(c.inputs[0].shape, a.shape, a.options);
}
ConvGeometry conv_transpose_geometry_of(const KernelContext& c) {
    ConvGeometry g = conv_transpose_geometry(c.inputs[0].shape, c.inputs[1].shape, c.attrs_as<Conv2dOptions>());
    g.bias = c.inputs.size() == 3;  // per output channel of the transposed conv: dx's channels
    return g;
}

KernelFactory onednn_kernel(ConvPass pass, GeometryOf geometry_of) {
    return [pass, geometry_of](const KernelContext& c) -> std::unique_ptr<Kernel> {
        if (c.inputs[0].dtype != DType::F32) return nullptr;  // no f64 in oneDNN: reference runs
        return dnn::make_conv_kernel(c, geometry_of(c), pass);
    };
}

KernelFactory reference_kernel(ConvPass pass, GeometryOf geometry_of) {
    return [pass, geometry_of](const KernelContext& c) {
        const ConvGeometry g = geometry_of(c);
        return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
            using T = decltype(zero);
            return make_kernel([g, pass](const KernelArgs& a) {
                auto in = [&](int i) { return static_cast<const T*>(a.inputs[i]); };
                T* out = static_cast<T*>(a.outputs[0]);
                switch (pass) {
                    case ConvPass::Forward: reference::conv2d_forward(g, in(0), in(1), g.bias ? in(2) : nullptr, out); break;
                    case ConvPass::BackwardData:
                        reference::conv2d_backward_data(g, in(0), in(1), g.bias ? in(2) : nullptr, out);
                        break;
                    case ConvPass::BackwardWeights: reference::conv2d_backward_weights(g, in(0), in(1), out); break;
                }
            });
        });
    };
}

// ---- gradient rules ---------------------------------------------------------------------------
Value backward_data(Value dy, Value w, const Conv2dOptions& o, const Shape& x_shape) {
    return dy.graph->add_node1(op_def("conv2d_backward_data"), {dy, w}, ConvBackwardAttrs{o, x_shape});
}
Value backward_weights(Value x, Value dy, const Conv2dOptions& o, const Shape& w_shape) {
    return x.graph->add_node1(op_def("conv2d_backward_weights"), {x, dy}, ConvBackwardAttrs{o, w_shape});
}
Value bias_grad(Value dy) { return sum(dy, {0, 2, 3}); }  // db[o] = Σ_{n,i,j} dy[n,o,i,j]

// dx = Bd(dy, w), dw = Bw(x, dy), db = Σ_{n,h,w} dy
InputGrads conv2d_gradient(GradContext& g) {
    const auto& o = g.attrs<Conv2dOptions>();
    Value x = g.input(0), w = g.input(1), dy = g.grad_output(0);
    InputGrads out{g.needs_input_grad(0) ? InputGrad(backward_data(dy, w, o, x.shape())) : std::nullopt,
                   g.needs_input_grad(1) ? InputGrad(backward_weights(x, dy, o, w.shape())) : std::nullopt};
    if (g.num_inputs() == 3) out.push_back(g.needs_input_grad(2) ? InputGrad(bias_grad(dy)) : std::nullopt);
    return out;
}

// z = Bd(dy, w): d(dy) = conv(dz, w), d(w) = Bw(dz, dy) — dz plays the convolution's input.
InputGrads backward_data_gradient(GradContext& g) {
    const auto& a = g.attrs<ConvBackwardAttrs>();
    Value dy = g.input(0), w = g.input(1), dz = g.grad_output(0);
    return {g.needs_input_grad(0) ? InputGrad(conv2d(dz, w, std::nullopt, a.options)) : std::nullopt,
            g.needs_input_grad(1) ? InputGrad(backward_weights(dz, dy, a.options, w.shape())) : std::nullopt};
}

// z = Bw(x, dy): d(x) = Bd(dy, dz), d(dy) = conv(x, dz) — dz plays the weight.
InputGrads backward_weights_gradient(GradContext& g) {
    const auto& a = g.attrs<ConvBackwardAttrs>();
    Value x = g.input(0), dy = g.input(1), dz = g.grad_output(0);
    return {g.needs_input_grad(0) ? InputGrad(backward_data(dy, dz, a.options, x.shape())) : std::nullopt,
            g.needs_input_grad(1) ? InputGrad(conv2d(x, dz, std::nullopt, a.options)) : std::nullopt};
}

// z = Bd(x, w) + b (the convolution maps z back to x): dx = conv(dz, w), dw = Bw(dz, x), db = Σ dz
InputGrads conv_transpose2d_gradient(GradContext& g) {
    Conv2dOptions o = g.attrs<Conv2dOptions>();
    o.output_padding = {0, 0};
    Value x = g.input(0), w = g.input(1), dz = g.grad_output(0);
    InputGrads out{g.needs_input_grad(0) ? InputGrad(conv2d(dz, w, std::nullopt, o)) : std::nullopt,
                   g.needs_input_grad(1) ? InputGrad(backward_weights(dz, x, o, w.shape())) : std::nullopt};
    if (g.num_inputs() == 3) out.push_back(g.needs_input_grad(2) ? InputGrad(bias_grad(dz)) : std::nullopt);
    return out;
}

std::vector<Value> operands(Value x, Value w, const std::optional<Value>& b) {
    std::vector<Value> in{x, w};
    if (b) in.push_back(*b);
    return in;
}

}  // namespace

Value conv2d(Value x, Value weight, std::optional<Value> bias, Conv2dOptions o, const std::string& name) {
    auto in = operands(x, weight, bias);
    return common_graph("conv2d", in).add_node1(op_def("conv2d"), in, o, name);
}

Value conv_transpose2d(Value x, Value weight, std::optional<Value> bias, Conv2dOptions o, const std::string& name) {
    auto in = operands(x, weight, bias);
    return common_graph("conv_transpose2d", in).add_node1(op_def("conv_transpose2d"), in, o, name);
}

namespace {

// ---- cost ---------------------------------------------------------------------------------
// The three passes of one convolution do the same products: every element of its output y
// (dy in the backward ops) takes (C/g)·kh·kw multiply-adds, counted densely (taps over the
// padding too), as model tables count them. A transposed convolution is the backward data of
// the convolution mapping its output back to x, so x plays dy. A bias adds one flop per output.
OpCost conv_cost(const RuleContext& c, const TensorDesc& y, const Shape& w) {
    const bool bias = c.inputs.size() == 3;
    return OpCost{.macs = y.numel() * w[1] * w[2] * w[3],
                  .flops = bias ? c.output(0).numel() : 0,
                  .bytes_read = c.input_bytes(),
                  .bytes_written = c.output_bytes()};
}

// ---- receptive field ------------------------------------------------------------------------
// conv2d's windows: output o reads input o·stride − pad_top + t·dilation, t in [0, k).
SpatialReach conv_reach(const Conv2dOptions& o, const Shape& w, bool transposed) {
    SpatialReach r;
    for (std::size_t a = 0; a < 2; ++a)
        r.axes[a] = AxisReach{.kernel = w[2 + a], .stride = o.stride[a], .dilation = o.dilation[a],
                              .padding = o.padding[2 * a], .transposed = transposed};
    return r;
}

// dw[·, ·, i, j] = Σ over y, x of dy[y, x]·in[y·s − p + i·d, x·s − p + j·d]: tap i reads input
// rows i·d − p + y·s for every output row y — a window whose stride is the dilation, whose
// dilation is the stride and whose kernel is dy's extent.
SpatialReach weights_reach(const Conv2dOptions& o, const Shape& dy) {
    SpatialReach r;
    for (std::size_t a = 0; a < 2; ++a)
        r.axes[a] = AxisReach{.kernel = dy[2 + a], .stride = o.dilation[a], .dilation = o.stride[a], .padding = o.padding[2 * a]};
    return r;
}

}  // namespace

void register_conv_ops(OpRegistry& r) {
    r.define("conv2d")
        .layout(LayoutUse::Native)  // oneDNN: reads and may choose blocked layouts
        .arity(2, 3)
        .describe("x[N,C,H,W] ⋆ w[O,C/g,kh,kw] (+ b[O]): stride, padding, dilation, groups (oneDNN f32)")
        .infer_shape(infer_conv2d)
        .attributes<Conv2dOptions>()
        .fast_kernel(onednn_kernel(ConvPass::Forward, conv2d_geometry_of))
        .reference(reference_kernel(ConvPass::Forward, conv2d_geometry_of))
        .cost([](const RuleContext& c) { return conv_cost(c, c.output(0), c.input(1).shape); })
        .receptive_field([](const RuleContext& c) {
            return std::optional(conv_reach(c.attrs_as<Conv2dOptions>(), c.input(1).shape, false));
        })
        .gradient(conv2d_gradient)  // dx = Bd(dy, w), dw = Bw(x, dy), db = Σ_{n,h,w} dy
        .samples(conv2d_samples)
        .error_samples(conv2d_error_samples);

    r.define("conv2d_backward_data")
        .layout(LayoutUse::Native)  // oneDNN: reads and may choose blocked layouts
        .arity(2)
        .describe("conv2d's input gradient (dy, w) → dx; emitted by conv2d's gradient rule (oneDNN f32)")
        .infer_shape(infer_backward_data)
        .attributes<ConvBackwardAttrs>()
        .fast_kernel(onednn_kernel(ConvPass::BackwardData, backward_data_geometry_of))
        .reference(reference_kernel(ConvPass::BackwardData, backward_data_geometry_of))
        .cost([](const RuleContext& c) { return conv_cost(c, c.input(0), c.input(1).shape); })
        .receptive_field([](const RuleContext& c) {  // dy's element feeds the window it was computed from
            return std::optional(conv_reach(c.attrs_as<ConvBackwardAttrs>().options, c.input(1).shape, true));
        })
        .gradient(backward_data_gradient)  // d(dy) = conv(dz, w), d(w) = Bw(dz, dy)
        .samples(backward_data_samples)
        .error_samples(backward_data_error_samples);

    r.define("conv2d_backward_weights")
        .layout(LayoutUse::Native)  // oneDNN: reads and may choose blocked layouts
        .arity(2)
        .describe("conv2d's weight gradient (x, dy) → dw; emitted by conv2d's gradient rule (oneDNN f32)")
        .infer_shape(infer_backward_weights)
        .attributes<ConvBackwardAttrs>()
        .fast_kernel(onednn_kernel(ConvPass::BackwardWeights, backward_weights_geometry_of))
        .reference(reference_kernel(ConvPass::BackwardWeights, backward_weights_geometry_of))
        .cost([](const RuleContext& c) { return conv_cost(c, c.input(1), c.output(0).shape); })
        .receptive_field([](const RuleContext& c) {
            return std::optional(weights_reach(c.attrs_as<ConvBackwardAttrs>().options, c.input(1).shape));
        })
        .gradient(backward_weights_gradient)  // d(x) = Bd(dy, dz), d(dy) = conv(x, dz)
        .samples(backward_weights_samples)
        .error_samples(backward_weights_error_samples);

    r.define("conv_transpose2d")
        .layout(LayoutUse::Native)  // oneDNN: reads and may choose blocked layouts
        .arity(2, 3)
        .describe("transposed convolution x[N,C,H,W], w[C,O/g,kh,kw] (+ b[O]), PyTorch semantics (oneDNN f32)")
        .infer_shape(infer_conv_transpose2d)
        .attributes<Conv2dOptions>()
        .fast_kernel(onednn_kernel(ConvPass::BackwardData, conv_transpose_geometry_of))
        .reference(reference_kernel(ConvPass::BackwardData, conv_transpose_geometry_of))
        .cost([](const RuleContext& c) { return conv_cost(c, c.input(0), c.input(1).shape); })
        .receptive_field([](const RuleContext& c) {  // x's element scatters into a kh×kw window
            return std::optional(conv_reach(c.attrs_as<Conv2dOptions>(), c.input(1).shape, true));
        })
        .gradient(conv_transpose2d_gradient)  // dx = conv(dz, w), dw = Bw(dz, x), db = Σ dz
        .samples(conv_transpose2d_samples)
        .error_samples(conv_transpose2d_error_samples);
}

}  // namespace gg
