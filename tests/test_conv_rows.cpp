// The width-unfolding convolution kernel (ops/dnn/conv_rows.h) against the reference loops:
// all three passes, with padding larger than the image, asymmetric padding, horizontal stride
// and dilation, bias, and fewer images than threads; and a compiled graph that picks it for
// the lambda convolution's 23x23 window.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "graphgrad/graph/op_def.h"
#include "graphgrad/ops/dnn/conv.h"
#include "graphgrad/ops/dnn/conv_rows.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/ops/reference/conv.h"
#include "test_support.h"

using namespace gg;

namespace {

using testing::relative_difference;
using testing::uniform_tensor;

ConvGeometry geometry(int64_t n, int64_t c, int64_t o, int64_t h, int64_t w, int64_t kh, int64_t kw,
                      std::array<int64_t, 4> pad, int64_t sw = 1, int64_t dw = 1, bool bias = false) {
    ConvGeometry g;
    g.n = n, g.c = c, g.o = o, g.h = h, g.w = w, g.kh = kh, g.kw = kw;
    g.pad_top = pad[0], g.pad_bottom = pad[1], g.pad_left = pad[2], g.pad_right = pad[3];
    g.stride_w = sw, g.dil_w = dw, g.bias = bias;
    g.oh = h + pad[0] + pad[1] - kh + 1;
    g.ow = (w + pad[2] + pad[3] - dw * (kw - 1) - 1) / sw + 1;
    return g;
}

// Runs the rows kernel of `pass` on `in` into a tensor shaped `out`.
Tensor run_rows(const ConvGeometry& g, dnn::ConvPass pass, const std::vector<const Tensor*>& in, const Shape& out) {
    auto k = dnn::make_rows_conv_kernel(g, pass);
    REQUIRE(k);
    Tensor y = Tensor::full(out, 123.0);  // garbage the kernel must overwrite
    Tensor scratch(TensorDesc{{static_cast<int64_t>(k->scratch_bytes() / sizeof(float)) + 1}, DType::F32});
    std::vector<const void*> inputs;
    for (const Tensor* t : in) inputs.push_back(t->data<float>());
    void* outputs[] = {y.data<float>()};
    k->run({inputs.data(), outputs, scratch.data<float>(), 0});
    return y;
}

// The reference loops' result of `pass` (f32 inputs, exact double accumulation).
Tensor reference_pass(const ConvGeometry& g, dnn::ConvPass pass, const Tensor& a, const Tensor& b, const Tensor& bias,
                      const Shape& out) {
    Tensor y = Tensor::zeros(out);
    const float* pb = g.bias ? bias.data<float>() : nullptr;
    switch (pass) {
        case dnn::ConvPass::Forward: reference::conv2d_forward(g, a.data<float>(), b.data<float>(), pb, y.data<float>()); break;
        case dnn::ConvPass::BackwardData:
            reference::conv2d_backward_data(g, a.data<float>(), b.data<float>(), pb, y.data<float>());
            break;
        case dnn::ConvPass::BackwardWeights:
            reference::conv2d_backward_weights(g, a.data<float>(), b.data<float>(), y.data<float>());
            break;
    }
    return y;
}

void check_all_passes(const ConvGeometry& g) {
    const Tensor x = uniform_tensor(g.x_shape(), 1), w = uniform_tensor(g.w_shape(), 2), dy = uniform_tensor(g.y_shape(), 3);
    const Tensor b = uniform_tensor({std::max(g.o, g.c)}, 4);
    using P = dnn::ConvPass;
    CHECK(relative_difference(run_rows(g, P::Forward, {&x, &w, &b}, g.y_shape()),
                                  reference_pass(g, P::Forward, x, w, b, g.y_shape())) < 1e-5);
    CHECK(relative_difference(run_rows(g, P::BackwardData, {&dy, &w, &b}, g.x_shape()),
                                  reference_pass(g, P::BackwardData, dy, w, b, g.x_shape())) < 1e-5);
    CHECK(relative_difference(run_rows(g, P::BackwardWeights, {&x, &dy}, g.w_shape()),
                                  reference_pass(g, P::BackwardWeights, x, dy, b, g.w_shape())) < 1e-5);
}

}  // namespace

TEST_CASE("rows convolution kernel equals the reference loops", "[conv][rows]") {
    gg::testing::ScopedThreads threads(2);
    REQUIRE(threads.is_parallel());
    SECTION("lambda convolution window, padding wider than the image") {
        check_all_passes(geometry(6, 4, 16, 8, 8, 23, 23, {11, 11, 11, 11}));
    }
    SECTION("the same window on a larger image") { check_all_passes(geometry(3, 4, 16, 16, 16, 23, 23, {11, 11, 11, 11})); }
    SECTION("asymmetric padding, rectangular window and image") {
        check_all_passes(geometry(4, 3, 5, 9, 13, 7, 9, {2, 5, 0, 6}));
    }
    SECTION("horizontal stride and dilation, with bias") {
        check_all_passes(geometry(5, 2, 6, 10, 17, 7, 7, {3, 3, 4, 1}, 2, 2, true));
    }
    SECTION("a single image (sgemm threads itself)") { check_all_passes(geometry(1, 4, 8, 12, 12, 9, 9, {4, 4, 4, 4})); }
}

TEST_CASE("rows convolution is chosen only where oneDNN has no direct kernel for a large window", "[conv][rows]") {
    const ConvGeometry lambda = geometry(128, 4, 16, 16, 16, 23, 23, {11, 11, 11, 11});
    CHECK(dnn::rows_conv_preferred(lambda, "x64:gemm:jit"));
    CHECK_FALSE(dnn::rows_conv_preferred(lambda, "jit:avx512_core"));
    CHECK_FALSE(dnn::rows_conv_preferred(geometry(8, 16, 16, 16, 16, 3, 3, {1, 1, 1, 1}), "x64:gemm:jit"));
    ConvGeometry strided = lambda;
    strided.stride_h = 2;
    CHECK_FALSE(dnn::rows_conv_supported(strided));
    ConvGeometry grouped = lambda;
    grouped.groups = 4;
    CHECK_FALSE(dnn::rows_conv_supported(grouped));
    // oneDNN 2.6 runs both backward passes of this window as im2col + GEMM.
    CHECK(dnn::describe_conv_kernel(lambda, dnn::ConvPass::BackwardWeights, true, dnn::ConvLayout::Auto) ==
          "rows:sgemm (plain)");
}

TEST_CASE("a compiled 23x23 convolution runs on the rows kernel and matches the reference", "[conv][rows]") {
    gg::testing::ScopedThreads threads(2);
    REQUIRE(threads.is_parallel());
    Graph g;
    Value x = g.input("x", {4, 4, 10, 10});
    Value w = g.input("w", {16, 4, 23, 23});
    Conv2dOptions o;
    o.padding = pad_all(11);
    Value y = conv2d(x, w, std::nullopt, o);
    Value loss = mean(y * y);
    auto grads = grad(loss, {x, w});
    std::vector<Value> fetches{y, grads[0], grads[1]};
    CompiledGraph fast = compile(g, fetches);
    CompileOptions ref_options;
    ref_options.reference_kernels = true;
    CompiledGraph ref = compile(g, fetches, ref_options);
    Feeds feeds{{x, uniform_tensor(x.shape(), 5)}, {w, uniform_tensor(w.shape(), 6)}};
    auto a = fast.run(feeds), b = ref.run(feeds);
    for (std::size_t i = 0; i < fetches.size(); ++i) {
        INFO("fetch " << i);
        CHECK(relative_difference(a[i], b[i]) < 1e-4);
    }
    // ... and it did run on the rows kernel: the forward and both backward convolutions.
    int rows_steps = 0;
    for (const StepInfo& s : fast.steps()) {
        const std::string& op = g.node(s.node).op->name;
        if (op.rfind("conv2d", 0) != 0) continue;
        INFO(op << ": " << s.kernel);
        CHECK(s.kernel.rfind("rows:", 0) == 0);
        ++rows_steps;
    }
    CHECK(rows_steps == 3);
}
