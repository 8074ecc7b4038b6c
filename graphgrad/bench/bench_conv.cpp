#include "graphgrad/bench/bench_conv.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "graphgrad/bench/timing.h"
#include "graphgrad/train/report_format.h"
#include "graphgrad/graph/init.h"
#include "graphgrad/ops/conv.h"
#include "graphgrad/ops/dnn/conv.h"
#include "graphgrad/ops/ops.h"

namespace gg {

namespace {

using md = dnnl::memory::desc;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

Tensor random_tensor(const Shape& s, uint64_t seed) {  // U(-1, 1): benchmark data, seeded
    Tensor t(TensorDesc{s, DType::F32});
    init::uniform(-1.0, 1.0)(t, seed);
    return t;
}

// Bare oneDNN: forward (inference and training), backward data and backward weights, each
// primitive on format_tag::any with its tensors already in the layout it chose (filled once,
// untimed). This is the best a hand-written oneDNN program can do; graphgrad's ratio against
// it includes graphgrad's own overhead and its layout conversions.
struct BareConv {
    dnnl::engine eng{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{eng};
    dnnl::primitive fwd_inference, fwd_training, bwd_data, bwd_weights;
    std::unordered_map<int, dnnl::memory> inference_args, training_args, data_args, weights_args;
    md x_plain, w_plain, y_plain;
    nlohmann::json impl;

    dnnl::memory filled(const md& want, const md& plain, const Tensor& t) {
        dnnl::memory m(want, eng), user(plain, eng, t.raw());
        dnnl::reorder(user, m).execute(stream, user, m);
        stream.wait();
        return m;
    }

    BareConv(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* b, const Tensor& dy) {
        x_plain = md({g.n, g.c, g.h, g.w}, dt::f32, tag::nchw);
        y_plain = md({g.n, g.o, g.oh, g.ow}, dt::f32, tag::nchw);
        w_plain = g.groups > 1 ? md({g.groups, g.og(), g.cg(), g.kh, g.kw}, dt::f32, tag::goihw)
                               : md({g.o, g.c, g.kh, g.kw}, dt::f32, tag::oihw);
        const md xa(x_plain.dims(), dt::f32, tag::any), ya(y_plain.dims(), dt::f32, tag::any),
            wa(w_plain.dims(), dt::f32, tag::any), ba({g.o}, dt::f32, tag::x);
        const dnnl::memory::dims st{g.stride_h, g.stride_w}, dil{g.dil_h - 1, g.dil_w - 1},
            pl{g.pad_top, g.pad_left}, pr{g.pad_bottom, g.pad_right};
        using fwd = dnnl::convolution_forward;
        auto fwd_pd = [&](dnnl::prop_kind prop) {
            auto d = b ? fwd::desc(prop, dnnl::algorithm::convolution_direct, xa, wa, ba, ya, st, dil, pl, pr)
                       : fwd::desc(prop, dnnl::algorithm::convolution_direct, xa, wa, ya, st, dil, pl, pr);
            return fwd::primitive_desc(d, eng);
        };
        auto forward_args = [&](const fwd::primitive_desc& pd) {
            std::unordered_map<int, dnnl::memory> a{{DNNL_ARG_SRC, filled(pd.src_desc(), x_plain, x)},
                                                    {DNNL_ARG_WEIGHTS, filled(pd.weights_desc(), w_plain, w)},
                                                    {DNNL_ARG_DST, dnnl::memory(pd.dst_desc(), eng)}};
            if (b) a.emplace(DNNL_ARG_BIAS, filled(pd.bias_desc(), ba, *b));
            return a;
        };
        auto inf = fwd_pd(dnnl::prop_kind::forward_inference), train = fwd_pd(dnnl::prop_kind::forward_training);
        fwd_inference = fwd(inf);
        fwd_training = fwd(train);
        inference_args = forward_args(inf);
        training_args = forward_args(train);

        using bwd_d = dnnl::convolution_backward_data;
        bwd_d::primitive_desc dpd(bwd_d::desc(dnnl::algorithm::convolution_direct, xa, wa, ya, st, dil, pl, pr), eng, train);
        bwd_data = bwd_d(dpd);
        data_args = {{DNNL_ARG_DIFF_DST, filled(dpd.diff_dst_desc(), y_plain, dy)},
                     {DNNL_ARG_WEIGHTS, filled(dpd.weights_desc(), w_plain, w)},
                     {DNNL_ARG_DIFF_SRC, dnnl::memory(dpd.diff_src_desc(), eng)}};

        using bwd_w = dnnl::convolution_backward_weights;
        auto wd = b ? bwd_w::desc(dnnl::algorithm::convolution_direct, xa, wa, ba, ya, st, dil, pl, pr)
                    : bwd_w::desc(dnnl::algorithm::convolution_direct, xa, wa, ya, st, dil, pl, pr);
        bwd_w::primitive_desc wpd(wd, eng, train);
        bwd_weights = bwd_w(wpd);
        weights_args = {{DNNL_ARG_SRC, filled(wpd.src_desc(), x_plain, x)},
                        {DNNL_ARG_DIFF_DST, filled(wpd.diff_dst_desc(), y_plain, dy)},
                        {DNNL_ARG_DIFF_WEIGHTS, dnnl::memory(wpd.diff_weights_desc(), eng)}};
        if (b) weights_args.emplace(DNNL_ARG_DIFF_BIAS, dnnl::memory(wpd.diff_bias_desc(), eng));
        impl = {{"forward", train.impl_info_str()}, {"backward_data", dpd.impl_info_str()},
                {"backward_weights", wpd.impl_info_str()}};
    }

    void forward() {
        fwd_inference.execute(stream, inference_args);
        stream.wait();
    }
    void training() {
        fwd_training.execute(stream, training_args);
        bwd_data.execute(stream, data_args);
        bwd_weights.execute(stream, weights_args);
        stream.wait();
    }
    // A result of the training step in plain layout (for the correctness check).
    Tensor plain(const std::unordered_map<int, dnnl::memory>& args, int arg, const md& plain_md, const Shape& s) {
        Tensor t(TensorDesc{s, DType::F32});
        dnnl::memory src = args.at(arg), dst(plain_md, eng, t.raw());
        dnnl::reorder(src, dst).execute(stream, src, dst);
        stream.wait();
        return t;
    }
};

double max_abs_diff(const Tensor& x, const Tensor& y) {
    double d = 0;
    const float *a = x.data<float>(), *b = y.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) d = std::max(d, static_cast<double>(std::abs(a[i] - b[i])));
    return d;
}

nlohmann::json compare(double flops, const std::vector<double>& gg_ns, const std::vector<double>& dnn_ns) {
    const double g = bench::median(gg_ns), d = bench::median(dnn_ns);
    const double gmin = *std::min_element(gg_ns.begin(), gg_ns.end()), dmin = *std::min_element(dnn_ns.begin(), dnn_ns.end());
    // Minima too: on a shared 2-core machine the median can carry other processes' load.
    return {{"graphgrad_ms", g * 1e-6},         {"onednn_ms", d * 1e-6},
            {"graphgrad_min_ms", gmin * 1e-6},  {"onednn_min_ms", dmin * 1e-6},
            {"graphgrad_gflops", flops / g},    {"onednn_gflops", flops / d},
            {"ratio", d / g},                   {"ratio_of_minima", dmin / gmin}};
}


// The convolution inside a network: x → conv0 (3x3, C→C, blocked output) → conv (the measured
// one) → relu → fetched, differentiated for both weights. The measured convolution then reads
// and writes blocked layouts as it does between other oneDNN and elementwise ops in a real
// model, and the profiler times its three steps (forward, backward data, backward weights)
// alone, against the same bare primitives in the same loop.
struct InNetwork {
    std::vector<double> fwd_ns, step_ns, dnn_ns, dnn_fwd_ns;
    std::string layouts;  // output layouts of the measured steps, for the report
};

InNetwork time_in_network(const ConvBenchShape& s, const Conv2dOptions& opts, const Shape& ws, BareConv& bare,
                          int repeats, const CompileOptions& compile_options) {
    Graph g;
    Value x = g.input("x", {s.n, s.c, s.h, s.w});
    Value w0 = g.input("w0", {s.c, s.c, 3, 3}), w = g.input("w", ws);
    Conv2dOptions same;
    same.padding = pad_all(1);
    Value h = conv2d(x, w0, std::nullopt, same, "conv0");
    Value y = conv2d(h, w, std::nullopt, opts, "conv");
    Value z = relu(y);
    Value dz = g.input("dz", z.shape());
    std::vector<Value> grads = grad({z}, {w0, w}, {dz});
    CompiledGraph prog = compile(g, {z, grads[0], grads[1]}, compile_options);
    // The steps by the graph's structure: w's gradient is the backward-weights node (h, dy); the
    // backward-data node is the other reader of dy, the one that also reads w.
    const Node& bw = grads[1].producer();
    const Value dy = bw.inputs.at(1);
    auto reads = [](const Node& n, const Value& v) { return std::find(n.inputs.begin(), n.inputs.end(), v) != n.inputs.end(); };
    int fwd = -1, data = -1, weights = -1;
    for (std::size_t i = 0; i < prog.steps().size(); ++i) {
        const StepInfo& st = prog.steps()[i];
        if (st.conversion) continue;
        const Node& n = g.node(st.node);
        if (n.id == y.node) fwd = static_cast<int>(i);
        if (n.id == bw.id && reads(n, h)) weights = static_cast<int>(i);
        if (n.id != bw.id && reads(n, dy) && reads(n, w)) data = static_cast<int>(i);
    }
    if (fwd < 0 || data < 0 || weights < 0) throw std::runtime_error("bench conv: measured steps not found");
    InNetwork r;
    for (int i : {fwd, data, weights}) {
        const std::string_view l = prog.steps()[static_cast<std::size_t>(i)].output_layout;
        r.layouts += (r.layouts.empty() ? "" : ", ") + std::string(l.empty() ? "plain" : l);
    }
    Feeds feeds{{x, random_tensor(x.shape(), 5)},
                {w0, random_tensor(w0.shape(), 6)},
                {w, random_tensor(ws, 2)},
                {dz, random_tensor(z.shape(), 3)}};
    for (int i = 0; i < 3; ++i) prog.run(feeds);
    for (int rep = 0; rep < repeats; ++rep) {
        auto gg_run = [&] {
            prog.set_profiling(true);
            prog.run(feeds);
            const auto& ns = prog.step_nanoseconds();
            r.fwd_ns.push_back(ns[static_cast<std::size_t>(fwd)]);
            r.step_ns.push_back(ns[static_cast<std::size_t>(fwd)] + ns[static_cast<std::size_t>(data)] +
                                ns[static_cast<std::size_t>(weights)]);
        };
        auto dnn_run = [&] {
            r.dnn_fwd_ns.push_back(bench::time_ns([&] {
                bare.fwd_training.execute(bare.stream, bare.training_args);
                bare.stream.wait();
            }));
            r.dnn_ns.push_back(r.dnn_fwd_ns.back() + bench::time_ns([&] {
                bare.bwd_data.execute(bare.stream, bare.data_args);
                bare.bwd_weights.execute(bare.stream, bare.weights_args);
                bare.stream.wait();
            }));
        };
        if (rep % 2 == 0) gg_run(), dnn_run();
        else dnn_run(), gg_run();
    }
    prog.set_profiling(false);
    return r;
}

// "auto", "plain" or "blocked" (ConvBenchShape::layout) as compile options.
CompileOptions layout_options(const std::string& layout) {
    CompileOptions o;
    if (layout == "plain") o.layout_policy = LayoutPolicy::Plain;
    else if (layout == "blocked") o.layout_policy = LayoutPolicy::Opaque;
    else if (layout != "auto") throw OptionError(fmt::format("bench conv: unknown layout \"{}\" (auto, plain, blocked)", layout));
    return o;
}

dnn::ConvLayout conv_layout(const std::string& layout) {
    return layout == "plain" ? dnn::ConvLayout::Plain : layout == "blocked" ? dnn::ConvLayout::Blocked : dnn::ConvLayout::Auto;
}

ConvGeometry bench_geometry(const ConvBenchShape& s, const Value& y) {
    ConvGeometry r;
    r.n = s.n, r.c = s.c, r.h = s.h, r.w = s.w, r.o = s.o, r.kh = r.kw = s.k, r.groups = s.groups;
    r.stride_h = r.stride_w = s.stride;
    r.pad_top = r.pad_bottom = r.pad_left = r.pad_right = s.pad;
    r.oh = y.dim(2), r.ow = y.dim(3), r.bias = s.bias;
    return r;
}

// Both sides timed in one loop, so drift (frequency, other load) hits them alike; the order
// flips every repeat so neither side always finds the shared inputs in cache.
struct WholeProgram {
    std::vector<double> gg_f, dnn_f, gg_t, dnn_t;
};
WholeProgram time_whole_program(CompiledGraph& forward, const Feeds& fwd_feeds, CompiledGraph& training,
                                const Feeds& train_feeds, BareConv& bare, int repeats) {
    WholeProgram t;
    auto time_gg_f = [&] { t.gg_f.push_back(bench::time_ns([&] { forward.run(fwd_feeds); })); };
    auto time_gg_t = [&] { t.gg_t.push_back(bench::time_ns([&] { training.run(train_feeds); })); };
    auto time_dnn_f = [&] { t.dnn_f.push_back(bench::time_ns([&] { bare.forward(); })); };
    auto time_dnn_t = [&] { t.dnn_t.push_back(bench::time_ns([&] { bare.training(); })); };
    for (int r = 0; r < repeats; ++r) {
        if (r % 2 == 0) {
            time_gg_f(), time_dnn_f(), time_gg_t(), time_dnn_t();
        } else {
            time_dnn_f(), time_gg_f(), time_dnn_t(), time_gg_t();
        }
    }
    return t;
}

nlohmann::json kernels_json(const ConvGeometry& geo, dnn::ConvLayout layout) {
    return {{"forward_inference", dnn::describe_conv_kernel(geo, dnn::ConvPass::Forward, false, layout)},
            {"forward_training", dnn::describe_conv_kernel(geo, dnn::ConvPass::Forward, true, layout)},
            {"backward_data", dnn::describe_conv_kernel(geo, dnn::ConvPass::BackwardData, true, layout)},
            {"backward_weights", dnn::describe_conv_kernel(geo, dnn::ConvPass::BackwardWeights, true, layout)}};
}

}  // namespace

nlohmann::json bench_conv(const ConvBenchShape& s, int repeats) {
    const CompileOptions compile_options = layout_options(s.layout);
    const Conv2dOptions opts{.stride = {s.stride, s.stride}, .padding = pad_all(s.pad), .groups = s.groups};
    const Shape xs{s.n, s.c, s.h, s.w}, ws{s.o, s.c / std::max<int64_t>(1, s.groups), s.k, s.k};

    Graph g;
    Value x = g.input("x", xs), w = g.input("w", ws);
    std::optional<Value> b;
    if (s.bias) b = g.input("b", {s.o});
    Value y = conv2d(x, w, b, opts, "conv");  // validates the shape with graphgrad's messages
    Value dy = g.input("dy", y.shape());
    std::vector<Value> wrt{x, w};
    if (b) wrt.push_back(*b);
    // Seeding the vector-Jacobian product with an input makes dY arbitrary data and the
    // backward pass exactly backward data + backward weights (+ the bias sum).
    std::vector<Value> grads = grad({y}, wrt, {dy});
    std::vector<Value> fetches{y};
    fetches.insert(fetches.end(), grads.begin(), grads.end());
    CompiledGraph forward = compile(g, {y}, compile_options);
    CompiledGraph training = compile(g, fetches, compile_options);

    const ConvGeometry geo = bench_geometry(s, y);
    Tensor xv = random_tensor(xs, 1), wv = random_tensor(ws, 2), dyv = random_tensor(y.shape(), 3), bv = random_tensor({s.o}, 4);
    Feeds fwd_feeds{{x, xv}, {w, wv}}, train_feeds{{x, xv}, {w, wv}, {dy, dyv}};
    if (b) {
        fwd_feeds.emplace_back(*b, bv);
        train_feeds.emplace_back(*b, bv);
    }
    BareConv bare(geo, xv, wv, b ? &bv : nullptr, dyv);

    // Warm up (JIT, page faults, caches), then check both sides compute the same numbers.
    for (int i = 0; i < 3; ++i) {
        forward.run(fwd_feeds);
        training.run(train_feeds);
        bare.forward();
        bare.training();
    }
    std::vector<Tensor> out = training.run(train_feeds);
    const double diff =
        std::max({max_abs_diff(out[0], bare.plain(bare.training_args, DNNL_ARG_DST, bare.y_plain, y.shape())),
                  max_abs_diff(out[1], bare.plain(bare.data_args, DNNL_ARG_DIFF_SRC, bare.x_plain, xs)),
                  max_abs_diff(out[2], bare.plain(bare.weights_args, DNNL_ARG_DIFF_WEIGHTS, bare.w_plain, ws))});

    const std::string load_before = bench::loadavg();
    const WholeProgram whole = time_whole_program(forward, fwd_feeds, training, train_feeds, bare, repeats);

    // The measured convolution between blocked neighbours (no bias: the bare primitive would
    // fold its gradient into backward weights, graphgrad sums it in a separate op).
    nlohmann::json in_network;
    if (!s.bias) {
        InNetwork net = time_in_network(s, opts, ws, bare, repeats, compile_options);
        in_network = {{"forward", compare(geo.flops(), net.fwd_ns, net.dnn_fwd_ns)},
                      {"forward_backward", compare(3 * geo.flops(), net.step_ns, net.dnn_ns)},
                      {"output_layouts", net.layouts}};
    }

    bool all_fast = true;  // every convolution step ran on oneDNN (a bias sum is a plain loop)
    for (const auto& st : training.steps())
        if (g.node(st.node).op_name().rfind("conv", 0) == 0) all_fast = all_fast && st.fast_kernel;
    return {{"shape", {{"n", s.n}, {"c", s.c}, {"o", s.o}, {"h", s.h}, {"w", s.w}, {"k", s.k}, {"stride", s.stride},
                       {"pad", s.pad}, {"groups", s.groups}, {"bias", s.bias}}},
            {"layout_policy", s.layout},
            {"repeats", repeats},
            {"threads", omp_get_max_threads()},
            {"loadavg_before", load_before},
            {"loadavg_after", bench::loadavg()},
            {"graphgrad_kernels", kernels_json(geo, conv_layout(s.layout))},
            {"onednn_kernels", bare.impl},
            {"graphgrad_steps_forward_backward", training.num_steps()},
            {"graphgrad_arena_bytes_forward_backward", training.peak_bytes()},
            {"all_conv_steps_onednn", all_fast},
            {"max_abs_diff", diff},
            {"forward", compare(geo.flops(), whole.gg_f, whole.dnn_f)},
            {"forward_backward", compare(3 * geo.flops(), whole.gg_t, whole.dnn_t)},
            {"in_network", in_network}};
}

}  // namespace gg
