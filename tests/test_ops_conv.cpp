// conv2d, its backward ops and conv_transpose2d: hand-computed values (checked against PyTorch
// 1.13's F.conv2d / F.conv_transpose2d), the oneDNN kernels against the reference loops on
// bigger random cases in every layout policy (plain, blocked with reorders, auto), depthwise,
// PyTorch's transposed-convolution semantics and weight layout, and gradients of composed
// convolutions against central differences.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>

#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/graph/gradcheck_op.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/ops/conv.h"
#include "graphgrad/ops/dnn/conv.h"
#include "graphgrad/ops/ops.h"
#include "test_support.h"

using namespace gg;

namespace {

using testing::uniform_tensor;

Tensor values(std::vector<double> v, Shape s, DType dt = DType::F64) { return Tensor::from_vector<double>(v, s).cast(dt); }

void check_close(const Tensor& a, const Tensor& b, double tol) {
    REQUIRE(a.shape() == b.shape());
    double worst = 0;
    int64_t at = -1;
    for (int64_t i = 0; i < a.numel(); ++i) {
        const double d = std::abs(a.get(i) - b.get(i)) / (1.0 + std::abs(b.get(i)));
        if (d > worst) worst = d, at = i;
    }
    INFO("worst relative difference " << worst << " at " << at);
    CHECK(worst <= tol);
}

// y = conv2d(x, w, b) (or conv_transpose2d) run in every (dtype, kernel kind); checks the
// expected values. `fast` expects oneDNN to run for f32 unless reference kernels are forced.
void check_forward(bool transpose, const Tensor& x, const Tensor& w, std::optional<Tensor> b, const Conv2dOptions& o,
                   const std::vector<double>& expected, const Shape& shape) {
    for (DType dt : {DType::F32, DType::F64})
        for (bool reference : {false, true}) {
            INFO("dtype " << dtype_name(dt) << " reference " << reference);
            Graph g;
            Value xv = g.input("x", x.shape(), dt), wv = g.input("w", w.shape(), dt);
            std::optional<Value> bv;
            Feeds feeds{{xv, x.cast(dt)}, {wv, w.cast(dt)}};
            if (b) {
                bv = g.input("b", b->shape(), dt);
                feeds.emplace_back(*bv, b->cast(dt));
            }
            Value y = transpose ? conv_transpose2d(xv, wv, bv, o) : conv2d(xv, wv, bv, o);
            CHECK(y.shape() == shape);
            CompileOptions co;
            co.reference_kernels = reference;
            CompiledGraph prog = compile(g, {y}, co);
            for (const StepInfo& st : prog.steps())  // conversions (to oneDNN's layouts) aside
                if (!st.conversion) CHECK(st.fast_kernel == (dt == DType::F32 && !reference));
            check_close(prog.run(feeds)[0], values(expected, shape), 1e-6);
        }
}

struct Case {
    const char* label;
    Shape x, w;
    Conv2dOptions o;
    bool bias;
    bool transpose = false;
};

// Forward and every gradient of one convolution, in f32, with the oneDNN kernels (under the
// given layout policy) and with the reference loops; they must agree.
void check_fast_against_reference(const Case& c, LayoutPolicy policy) {
    Graph g;
    Value x = g.input("x", c.x), w = g.input("w", c.w);
    std::optional<Value> b;
    const int64_t out_channels = c.transpose ? c.w[1] * c.o.groups : c.w[0];
    if (c.bias) b = g.input("b", {out_channels});
    Value y = c.transpose ? conv_transpose2d(x, w, b, c.o) : conv2d(x, w, b, c.o);
    Value dy = g.input("dy", y.shape());
    std::vector<Value> wrt{x, w};
    if (b) wrt.push_back(*b);
    std::vector<Value> fetches{y};
    for (Value v : grad({y}, wrt, {dy})) fetches.push_back(v);

    Feeds feeds{{x, uniform_tensor(c.x, 1, DType::F32)}, {w, uniform_tensor(c.w, 2, DType::F32)},
                {dy, uniform_tensor(y.shape(), 3, DType::F32)}};
    if (b) feeds.emplace_back(*b, uniform_tensor({out_channels}, 4, DType::F32));
    CompileOptions fast_options, ref_options;
    fast_options.layout_policy = policy;
    ref_options.reference_kernels = true;
    CompiledGraph fast = compile(g, fetches, fast_options), ref = compile(g, fetches, ref_options);
    for (const StepInfo& s : fast.steps()) {
        const std::string& op = g.node(s.node).op_name();
        INFO("step " << op);
        if (op.rfind("conv", 0) == 0 && !s.conversion) CHECK(s.fast_kernel);
    }
    auto fast_out = fast.run(feeds), ref_out = ref.run(feeds);
    for (std::size_t i = 0; i < fetches.size(); ++i) {
        INFO("fetch " << i << " (0: y, then dx, dw, db)");
        check_close(fast_out[i], ref_out[i], 2e-5);
    }
}

}  // namespace

TEST_CASE("conv2d on a 1-channel 3x3 image matches hand-computed values", "[ops][conv]") {
    Tensor x = values({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
    Tensor ones = Tensor::full({1, 1, 3, 3}, 1.0, DType::F64);
    SECTION("2x2 kernel, valid") {
        check_forward(false, x, values({1, 2, 3, 4}, {1, 1, 2, 2}), std::nullopt, {}, {37, 47, 67, 77}, {1, 1, 2, 2});
    }
    SECTION("3x3 box filter, padding 1, bias 0.5") {
        check_forward(false, x, ones, values({0.5}, {1}), {.padding = pad_all(1)},
                      {12.5, 21.5, 16.5, 27.5, 45.5, 33.5, 24.5, 39.5, 28.5}, {1, 1, 3, 3});
    }
    SECTION("stride 2 keeps every other window") {
        check_forward(false, x, ones, std::nullopt, {.stride = {2, 2}, .padding = pad_all(1)}, {12, 16, 24, 28}, {1, 1, 2, 2});
    }
    SECTION("dilation 2 reads every other pixel") {
        check_forward(false, x, ones, std::nullopt, {.padding = pad_all(2), .dilation = {2, 2}},
                      {20, 10, 20, 10, 5, 10, 20, 10, 20}, {1, 1, 3, 3});
    }
    SECTION("asymmetric padding: one row on top, one column on the right") {
        // Windows start at row -1 and column 0; output 2x2 with a 2x2 kernel of ones.
        check_forward(false, x, Tensor::full({1, 1, 2, 2}, 1.0, DType::F64), std::nullopt, {.padding = {1, 0, 0, 1}},
                      {3, 5, 3, 12, 16, 9, 24, 28, 15}, {1, 1, 3, 3});
    }
}

TEST_CASE("depthwise conv2d convolves each channel with its own kernel", "[ops][conv]") {
    // Channel 0 doubled, channel 1 negated; a depth multiplier of 2 (groups = C, O = 2C) gives
    // channel c two outputs.
    Tensor x = values({1, 2, 3, 4, 10, 20, 30, 40}, {1, 2, 2, 2});
    check_forward(false, x, values({2, -1}, {2, 1, 1, 1}), std::nullopt, {.groups = 2},
                  {2, 4, 6, 8, -10, -20, -30, -40}, {1, 2, 2, 2});
    check_forward(false, x, values({1, 2, 3, 4}, {4, 1, 1, 1}), values({0, 0, 0, 1}, {4}), {.groups = 2},
                  {1, 2, 3, 4, 2, 4, 6, 8, 30, 60, 90, 120, 41, 81, 121, 161}, {1, 4, 2, 2});
}

TEST_CASE("conv_transpose2d follows PyTorch's semantics and weight layout", "[ops][conv]") {
    Tensor x = values({1, 2, 3, 4}, {1, 1, 2, 2}), w = values({1, 2, 3, 4}, {1, 1, 2, 2});
    SECTION("stride 1: every input pixel stamps the kernel") {
        check_forward(true, x, w, std::nullopt, {}, {1, 4, 4, 6, 20, 16, 9, 24, 16}, {1, 1, 3, 3});
    }
    SECTION("stride 2 with bias: non-overlapping stamps") {
        check_forward(true, x, w, values({10}, {1}), {.stride = {2, 2}},
                      {11, 12, 12, 14, 13, 14, 16, 18, 13, 16, 14, 18, 19, 22, 22, 26}, {1, 1, 4, 4});
    }
    SECTION("padding crops, output_padding adds the row and column a stride leaves") {
        check_forward(true, x, w, std::nullopt, {.stride = {2, 2}, .padding = pad_all(1), .output_padding = {1, 1}},
                      {4, 6, 8, 6, 4, 8, 12, 12, 16}, {1, 1, 3, 3});
    }
    SECTION("weight [C_in, C_out, kh, kw]: out[o] = sum_c x[c] w[c, o]") {
        check_forward(true, values({1, 2}, {1, 2, 1, 1}), values({1, 2, 3, 4, 5, 6}, {2, 3, 1, 1}), std::nullopt, {},
                      {9, 12, 15}, {1, 3, 1, 1});
    }
    SECTION("groups: weight [C_in, C_out/groups, kh, kw]") {
        check_forward(true, values({1, 2}, {1, 2, 1, 1}), values({1, 2, 3, 4}, {2, 2, 1, 1}), std::nullopt,
                      {.groups = 2}, {1, 2, 6, 8}, {1, 4, 1, 1});
    }
}

TEST_CASE("conv_output_size is the PyTorch formula", "[ops][conv]") {
    CHECK(conv_output_size(56, 3, 1, 1, 1, 1) == 56);
    CHECK(conv_output_size(28, 5, 1, 0, 0, 1) == 24);
    CHECK(conv_output_size(7, 3, 2, 1, 1, 1) == 4);
    CHECK(conv_output_size(7, 3, 2, 0, 0, 1) == 3);  // the last row does not fit: floor
    CHECK(conv_output_size(7, 3, 1, 2, 2, 2) == 7);
}

TEST_CASE("oneDNN convolutions match the reference loops in every layout policy", "[ops][conv]") {
    const std::vector<Case> cases = {
        {"3x3 pad 1 bias", {2, 16, 14, 14}, {32, 16, 3, 3}, {.padding = pad_all(1)}, true},
        {"stride 2 asymmetric padding", {2, 16, 14, 14}, {32, 16, 3, 3}, {.stride = {2, 2}, .padding = {1, 0, 1, 0}}, false},
        {"dilation 2", {2, 16, 14, 14}, {32, 16, 3, 3}, {.padding = pad_all(2), .dilation = {2, 2}}, true},
        {"groups 4, 5x5", {2, 16, 14, 14}, {32, 4, 5, 5}, {.padding = pad_all(2), .groups = 4}, true},
        {"depthwise stride 2", {2, 16, 14, 14}, {16, 1, 3, 3}, {.stride = {2, 2}, .padding = pad_all(1), .groups = 16}, true},
        {"1x1", {2, 16, 14, 14}, {32, 16, 1, 1}, {}, false},
        {"3 input channels, 5x5", {2, 3, 14, 14}, {8, 3, 5, 5}, {.padding = pad_all(2)}, true},
        {"transposed, stride 2", {2, 32, 7, 7}, {32, 16, 3, 3}, {.stride = {2, 2}, .padding = pad_all(1), .output_padding = {1, 1}},
         true, true},
        {"transposed, groups 2", {2, 16, 7, 7}, {16, 8, 3, 3}, {.groups = 2}, false, true},
    };
    for (LayoutPolicy policy : {LayoutPolicy::Plain, LayoutPolicy::Opaque, LayoutPolicy::Auto}) {
        for (const Case& c : cases) {
            INFO("layout " << layout_policy_name(policy) << ", case " << c.label);
            check_fast_against_reference(c, policy);
        }
    }
}

TEST_CASE("the layout policy reorders only where oneDNN prefers another layout", "[ops][conv]") {
    ConvGeometry g;
    g.n = 32, g.c = 64, g.h = 56, g.w = 56, g.o = 64, g.kh = 3, g.kw = 3, g.oh = 56, g.ow = 56;
    g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = 1;
    const std::string plain = dnn::describe_conv_kernel(g, dnn::ConvPass::Forward, false, dnn::ConvLayout::Plain);
    const std::string blocked = dnn::describe_conv_kernel(g, dnn::ConvPass::Forward, false, dnn::ConvLayout::Blocked);
    INFO("plain: " << plain << "; blocked: " << blocked);
    CHECK(plain.find("(plain)") != std::string::npos);
    CHECK(blocked.find("reorders") != std::string::npos);
    // The benchmark shape: blocked with reorders measured faster (ops/dnn/conv.cpp).
    CHECK(dnn::conv_prefers_blocked(g, dnn::ConvPass::Forward));
}

TEST_CASE("conv2d's gradient is built from its backward ops", "[ops][conv]") {
    Graph g;
    Value x = g.input("x", {2, 3, 6, 6}), w = g.input("w", {4, 3, 3, 3}), b = g.input("b", {4});
    Value y = conv2d(x, w, b, {.stride = {2, 2}, .padding = pad_all(1)});
    auto grads = grad(sum(y), {x, w, b});
    CHECK(grads[0].producer().op_name() == "conv2d_backward_data");
    CHECK(grads[1].producer().op_name() == "conv2d_backward_weights");
    CHECK(grads[0].shape() == x.shape());  // 6x6, though 5x5 maps to the same 3x3 output
    CHECK(grads[1].shape() == w.shape());
    // d Σy / db[o] counts the output pixels of channel o: N·oh·ow = 2·3·3.
    auto out = compile(g, {grads[2]}).run({{x, Tensor::zeros({2, 3, 6, 6})}, {w, Tensor::zeros({4, 3, 3, 3})},
                                            {b, Tensor::zeros({4})}});
    CHECK(out[0].to_doubles() == std::vector<double>(4, 18.0));
}

TEST_CASE("gradients through stacked convolutions match central differences", "[ops][conv][grad]") {
    // An encoder-decoder in miniature: strided conv, tanh, transposed conv back to the input
    // size, grouped conv; first and second order.
    auto f = [](Graph&, const std::vector<Value>& in) {
        Value h = tanh(conv2d(in[0], in[1], in[2], {.stride = {2, 2}, .padding = pad_all(1)}));
        Value u = conv_transpose2d(h, in[3], std::nullopt, {.stride = {2, 2}, .padding = pad_all(1), .output_padding = {1, 1}});
        return std::vector<Value>{conv2d(u, in[4], std::nullopt, {.padding = {0, 1, 1, 0}, .groups = 2})};
    };
    std::vector<Tensor> inputs{uniform_tensor({1, 2, 6, 6}, 11, DType::F64), uniform_tensor({4, 2, 3, 3}, 12, DType::F64),
                               uniform_tensor({4}, 13, DType::F64), uniform_tensor({4, 2, 3, 3}, 14, DType::F64),
                               uniform_tensor({4, 1, 2, 2}, 15, DType::F64)};
    const auto results = gradcheck_function("conv stack", "encoder-decoder", f, inputs, {});
    CHECK(results.size() >= 2);  // first and second order
    for (const GradcheckResult& r : results) {
        INFO(r.describe());
        CHECK(r.passed);
    }
}

