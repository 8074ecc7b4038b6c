// Behaviour tests for pooling and upsampling beyond the registry tests: hand values (argmax,
// padding that never wins a max, include/exclude-pad divisors), the gradient routing of max
// pooling through a compiled program, the fast max-pooling loops and oneDNN average pooling
// against the reference loops on realistic sizes, global average pooling, nearest upsampling and its block-sum gradient.
#include <catch2/catch.hpp>

#include <cmath>

#include "graphgrad/graph/rng.h"
#include "op_test_util.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/ops/pooling.h"
#include "graphgrad/ops/kernels/pooling_kernels.h"
#include "test_support.h"

using namespace gg;
using gg::testing::iota;

namespace {

Tensor random_tensor(const Shape& s, DType dt, uint64_t seed) {
    Tensor t(TensorDesc{s, dt});
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, 4.0 * uniform01(seed, 3, static_cast<uint64_t>(i)) - 2.0);
    return t;
}

std::vector<double> run1(Graph& g, Value y, const Feeds& feeds, const CompileOptions& o = {}) {
    return compile(g, {y}, o).run(feeds)[0].to_doubles();
}

}  // namespace

TEST_CASE("max_pool2d values and argmax", "[ops][pooling]") {
    Graph g;
    auto x = g.input("x", {1, 1, 4, 4}, DType::F64);
    auto outs = g.add_node(op_def("max_pool2d"), {x}, Pool2dOptions{{2, 2}, {2, 2}, {0, 0, 0, 0}, true});
    auto r = compile(g, {outs[0], outs[1]}).run({{x, iota({1, 1, 4, 4})}});
    CHECK(r[0].to_doubles() == std::vector<double>{6, 8, 14, 16});
    CHECK(r[1].to_doubles() == std::vector<double>{5, 7, 13, 15});  // iy·W + ix in the plane
    CHECK(r[1].dtype() == DType::I64);

    // Padding never wins: an all-negative input pooled with padding keeps its own values.
    Graph h;
    auto xn = h.input("x", {1, 1, 2, 2}, DType::F64);
    auto y = max_pool2d(xn, {.kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 1, 1, 1}});
    CHECK(y.shape() == Shape{1, 1, 3, 3});
    Tensor xv = Tensor::from_vector<double>({-1, -2, -3, -4}, {1, 1, 2, 2});
    CHECK(run1(h, y, {{xn, xv}}) == std::vector<double>{-1, -1, -2, -1, -1, -2, -3, -3, -4});
}

TEST_CASE("max_pool2d routes each output's gradient to its argmax (summed when windows overlap)", "[ops][pooling]") {
    for (bool reference : {false, true}) {
        Graph g;
        auto x = g.input("x", {1, 1, 3, 3}, DType::F32);
        auto y = max_pool2d(x, {.kernel = {2, 2}, .stride = {1, 1}});
        auto dx = grad(sum(y), {x})[0];
        CompileOptions o;
        o.reference_kernels = reference;
        // The centre (9) is the max of all four 2x2 windows.
        Tensor xv = Tensor::from_vector<float>({1, 2, 3, 4, 9, 5, 6, 7, 8}, {1, 1, 3, 3});
        CHECK(run1(g, dx, {{x, xv}}, o) == std::vector<double>{0, 0, 0, 0, 4, 0, 0, 0, 0});
    }
}

TEST_CASE("max_pool2d_backward rejects an argmax outside the plane at run time", "[ops][pooling][errors]") {
    // The backward node's attributes come from a real max_pool2d gradient; a second node with
    // the same attributes reads a fed (bad) argmax.
    Graph g;
    auto x = g.input("x", {1, 1, 2, 2}, DType::F64);
    auto dy = g.input("dy", {1, 1, 1, 1}, DType::F64);
    auto idx = g.input("idx", {1, 1, 1, 1}, DType::I64);
    auto dx = grad({max_pool2d(x)}, {x}, {dy})[0];
    const Node& bwd = g.node(dx.node);
    REQUIRE(bwd.op_name() == "max_pool2d_backward");
    auto bad = g.add_node1(*bwd.op, {dy, idx}, bwd.attrs, "pool_bwd");
    Tensor iv = Tensor::full({1, 1, 1, 1}, 4.0, DType::I64);
    CHECK_THROWS_WITH(compile(g, {bad}).run({{dy, Tensor::full({1, 1, 1, 1}, 1.0, DType::F64)}, {idx, iv}}),
                      Catch::Contains("max_pool2d_backward \"pool_bwd\"") && Catch::Contains("outside its 2x2 plane"));
}

TEST_CASE("ceil_mode and dilation give PyTorch's sizes, values and argmax", "[ops][pooling]") {
    for (bool reference : {false, true}) {
        INFO((reference ? "reference" : "fast") << " kernels");
        CompileOptions o;
        o.reference_kernels = reference;
        // F.max_pool2d / F.avg_pool2d(torch.arange(1., 26.).view(1, 1, 5, 5), 2, 2, ceil_mode=True):
        // a third, partial window per axis; avg divides by its elements inside the input.
        Graph g;
        auto x = g.input("x", {1, 1, 5, 5}, DType::F32);
        auto m = max_pool2d(x, {.kernel = {2, 2}, .ceil_mode = true});
        auto a = avg_pool2d(x, {.kernel = {2, 2}, .ceil_mode = true});
        auto a_floor = avg_pool2d(x, {.kernel = {2, 2}});
        CHECK(m.shape() == Shape{1, 1, 3, 3});
        CHECK(a_floor.shape() == Shape{1, 1, 2, 2});
        auto da = grad(sum(a), {x})[0];
        auto r = compile(g, {m, a, da}, o).run({{x, iota({1, 1, 5, 5}, DType::F32)}});
        CHECK(r[0].to_doubles() == std::vector<double>{7, 9, 10, 17, 19, 20, 22, 24, 25});
        CHECK(r[1].to_doubles() == std::vector<double>{4, 6, 7.5, 14, 16, 17.5, 21.5, 23.5, 25});
        // Each input element gets 1/divisor of its window: 1/4 inside, 1/2 on the last row and
        // column, 1 in the corner.
        std::vector<double> want_da(25, 0.25);
        for (int i = 0; i < 5; ++i) want_da[static_cast<std::size_t>(i * 5 + 4)] = want_da[static_cast<std::size_t>(20 + i)] = 0.5;
        want_da[24] = 1;
        CHECK(r[2].to_doubles() == want_da);

        // F.max_pool2d(torch.arange(1., 17.).view(1, 1, 4, 4), 2, 1, dilation=2, return_indices=True).
        Graph h;
        auto xd = h.input("x", {1, 1, 4, 4}, DType::F32);
        auto outs = h.add_node(op_def("max_pool2d"), {xd},
                               Pool2dOptions{.kernel = {2, 2}, .stride = {1, 1}, .dilation = {2, 2}});
        auto dx = grad(sum(outs[0]), {xd})[0];
        auto rd = compile(h, {outs[0], outs[1], dx}, o).run({{xd, iota({1, 1, 4, 4}, DType::F32)}});
        CHECK(rd[0].to_doubles() == std::vector<double>{11, 12, 15, 16});
        CHECK(rd[1].to_doubles() == std::vector<double>{10, 11, 14, 15});
        CHECK(rd[2].to_doubles() == std::vector<double>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1});
    }
    Graph g;
    auto x = g.input("x", {1, 1, 5, 5});
    CHECK_THROWS_WITH(avg_pool2d(x, {.kernel = {2, 2}, .dilation = {2, 2}}), Catch::Contains("average pooling has none"));
    CHECK_THROWS_WITH(max_pool2d(x, {.kernel = {3, 3}, .dilation = {3, 3}}),
                      Catch::Contains("kernel 3x3 dilated to 7x7 is larger than the padded input 5x5"));
}

TEST_CASE("avg_pool2d divisors: count_include_pad or not", "[ops][pooling]") {
    Graph g;
    auto x = g.input("x", {1, 1, 3, 3}, DType::F64);
    Tensor ones = Tensor::full({1, 1, 3, 3}, 1.0, DType::F64);
    auto inc = avg_pool2d(x, {.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1, 1, 1}});
    auto exc = avg_pool2d(x, {.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1, 1, 1}, .count_include_pad = false});
    auto r = compile(g, {inc, exc}).run({{x, ones}});
    CHECK(r[0].get(0) == Approx(4.0 / 9.0));  // corner window: 4 real elements of 9
    CHECK(r[0].get(1) == Approx(6.0 / 9.0));
    CHECK(r[0].get(4) == Approx(1.0));
    for (int64_t i = 0; i < 9; ++i) CHECK(r[1].get(i) == Approx(1.0));
}

TEST_CASE("oneDNN average pooling matches the reference loops on realistic sizes", "[ops][pooling][kernels]") {
    struct Case {
        Shape x;
        Pool2dOptions o;
    };
    for (const Case& c : {Case{{8, 16, 28, 28}, {.kernel = {2, 2}}},
                          Case{{4, 8, 15, 17}, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1, 1, 1}}},
                          Case{{4, 8, 15, 17}, {.kernel = {3, 2}, .stride = {2, 1}, .padding = {0, 2, 1, 0}, .count_include_pad = false}}}) {
        INFO(shape_str(c.x));
        std::vector<std::vector<double>> res;
        for (bool reference : {false, true}) {
            Graph g;
            auto x = g.input("x", c.x);
            auto y = avg_pool2d(x, c.o);
            auto dx = grad({y}, {x}, {g.constant(random_tensor(y.shape(), DType::F32, 2))})[0];
            CompileOptions o;
            o.reference_kernels = reference;
            auto prog = compile(g, {y, dx}, o);
            int fast = 0;
            for (const auto& s : prog.steps()) fast += s.fast_kernel ? 1 : 0;
            CHECK(fast == (reference ? 0 : 2));
            auto out = prog.run({{x, random_tensor(c.x, DType::F32, 1)}});
            std::vector<double> v = out[0].to_doubles(), d = out[1].to_doubles();
            v.insert(v.end(), d.begin(), d.end());
            res.push_back(v);
        }
        REQUIRE(res[0].size() == res[1].size());
        for (std::size_t i = 0; i < res[0].size(); ++i) REQUIRE(res[0][i] == Approx(res[1][i]).margin(1e-5));
    }
}

TEST_CASE("the fast max-pooling loop matches the reference exactly (values, argmax, ties, NaN)",
          "[ops][pooling][kernels]") {
    struct Case {
        Shape x;
        Pool2dOptions o;
    };
    const std::vector<Case> cases{
        {{64, 6, 28, 28}, {.kernel = {2, 2}}},                                               // LeNet
        {{64, 16, 10, 10}, {.kernel = {2, 2}}},                                              // LeNet
        {{3, 5, 15, 17}, {.kernel = {2, 2}}},                                                // odd sizes floor
        {{2, 8, 16, 16}, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1, 1, 1}}},     // ResNet stem
        {{2, 4, 13, 11}, {.kernel = {3, 3}, .stride = {2, 2}}},                              // no padding
        {{2, 4, 9, 10}, {.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1, 1, 1}}},      // overlapping
        {{2, 3, 8, 9}, {.kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 0, 0, 1}}},       // 2x2 stride 1
        {{2, 3, 11, 12}, {.kernel = {3, 2}, .stride = {2, 3}, .padding = {2, 0, 1, 1}}},     // generic window
        {{1, 2, 7, 7}, {.kernel = {7, 7}}},                                                  // global
        {{1, 1, 1, 1}, {.kernel = {1, 1}}},
        {{3, 5, 15, 17}, {.kernel = {2, 2}, .ceil_mode = true}},                             // ceil: partial last
        {{2, 8, 15, 15}, {.kernel = {3, 3}, .stride = {2, 2}, .ceil_mode = true}},
        {{2, 3, 10, 11}, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1, 1, 1}, .ceil_mode = true}},
        {{2, 4, 16, 17}, {.kernel = {3, 3}, .stride = {1, 1}, .dilation = {2, 2}}},           // dilated
        {{2, 3, 13, 12}, {.kernel = {2, 3}, .stride = {2, 1}, .padding = {1, 1, 2, 0}, .ceil_mode = true, .dilation = {3, 2}}},
    };
    for (const Case& c : cases)
        for (int values = 0; values < 3; ++values) {  // random; few distinct values (ties); with NaNs
                const DType dt = DType::F32;                 // the fast loop is f32 only
                INFO(shape_str(c.x) << " " << dtype_name(dt) << " values " << values);
                Tensor x = random_tensor(c.x, dt, 11);
                for (int64_t i = 0; i < x.numel(); ++i) {
                    if (values == 1) x.set(i, std::floor(x.get(i)));
                    if (values == 2 && i % 7 == 3) x.set(i, std::nan(""));
                }
                Pool2dOptions o = c.o;
                for (std::size_t i = 0; i < 2; ++i)
                    if (o.stride[i] == 0) o.stride[i] = o.kernel[i];
                const Pool2dGeometry geo = pool2d_geometry(c.x, o.kernel, o.stride, o.padding, o.dilation, o.ceil_mode);
                const Shape ys{geo.n, geo.c, geo.oh, geo.ow};
                Tensor y1(TensorDesc{ys, dt}), y2(TensorDesc{ys, dt});
                Tensor a1(TensorDesc{ys, DType::I64}), a2(TensorDesc{ys, DType::I64});
                reference::max_pool2d<float>(geo, x.data<float>(), y2.data<float>(), a2.data<int64_t>());
                auto k = fast::make_max_pool2d_kernel(geo);
                REQUIRE(k);
                const void* in[] = {x.raw()};
                void* out[] = {y1.raw(), a1.raw()};
                k->run(KernelArgs{in, out, nullptr, 0});
                int64_t diff = 0;
                for (int64_t i = 0; i < y1.numel(); ++i) {
                    const double u = y1.get(i), v = y2.get(i);
                    diff += (std::isnan(u) != std::isnan(v)) || (!std::isnan(u) && u != v);
                    diff += a1.get(i) != a2.get(i);
                }
                CHECK(diff == 0);
            }

    // An index outside the plane is reported (and skipped), not written.
    const Pool2dGeometry geo = pool2d_geometry({1, 2, 2, 2}, {2, 2}, {2, 2}, {0, 0, 0, 0});
    std::vector<float> dy{1, 2}, dx(8, -1);
    std::vector<int64_t> bad{3, 4};
    CHECK_FALSE(reference::max_pool2d_backward<float>(geo, dy.data(), bad.data(), dx.data()));
    CHECK(dx == std::vector<float>{0, 0, 0, 1, 0, 0, 0, 0});
}

// max_pool2d has a fast loop and its reference; max_pool2d_backward has one loop (reported as
// the reference: fast_kernel is false for it in both programs).
TEST_CASE("max_pool2d registers the fast loop, the reference on request", "[ops][pooling][kernels]") {
    for (bool reference : {false, true}) {
        Graph g;
        auto x = g.input("x", {4, 3, 8, 8});
        auto y = max_pool2d(x, {.kernel = {2, 2}});
        auto dx = grad(sum(y * y), {x})[0];
        CompileOptions o;
        o.reference_kernels = reference;
        auto prog = compile(g, {y, dx}, o);
        int fast = 0, pools = 0;
        for (const auto& s : prog.steps()) {
            const std::string& op = g.node(s.node).op_name();
            if (op != "max_pool2d" && op != "max_pool2d_backward") continue;
            ++pools;
            fast += s.fast_kernel ? 1 : 0;
        }
        CHECK(pools == 2);
        CHECK(fast == (reference ? 0 : 1));
    }
}

TEST_CASE("global_avg_pool2d and upsample_nearest2d", "[ops][pooling]") {
    Graph g;
    auto x = g.input("x", {2, 3, 2, 2}, DType::F64);
    auto gp = global_avg_pool2d(x);
    CHECK(gp.shape() == Shape{2, 3, 1, 1});
    auto up = upsample_nearest2d(x, 2);
    CHECK(up.shape() == Shape{2, 3, 4, 4});
    auto dx = grad(sum(up * g.constant(iota({2, 3, 4, 4}))), {x})[0];
    auto r = compile(g, {gp, up, dx}).run({{x, iota({2, 3, 2, 2})}});
    CHECK(r[0].get(0) == Approx(2.5));
    CHECK(r[0].get(5) == Approx(22.5));
    // Plane 0 is [[1,2],[3,4]]: every element repeated in a 2x2 block.
    const std::vector<double> up_values = r[1].to_doubles();
    const std::vector<double> plane0(up_values.begin(), up_values.begin() + 16);
    CHECK(plane0 == std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
    // dx = sums of the upstream weights over each 2x2 block: (1+2+5+6), (3+4+7+8), ...
    CHECK(r[2].get(0) == 14);
    CHECK(r[2].get(1) == 22);
    CHECK(r[2].get(2) == 46);
    CHECK_THROWS_WITH(global_avg_pool2d(g.input("v", {2, 3})), Catch::Contains("expects [N, C, H, W]"));
}

TEST_CASE("max_pool2d's fast paths agree with a naive loop, ties, NaN and -inf included", "[ops][pooling][kernels]") {
    // Naive meaning: scan each clipped window row-major; the first maximal element wins and a
    // NaN beats any number.
    auto naive = [](const Tensor& x, const Pool2dOptions& o, const Shape& ys, std::vector<double>& y, std::vector<int64_t>& a) {
        const int64_t h = x.shape()[2], w = x.shape()[3];
        for (int64_t p = 0; p < ys[0] * ys[1]; ++p)
            for (int64_t oy = 0; oy < ys[2]; ++oy)
                for (int64_t ox = 0; ox < ys[3]; ++ox) {
                    double best = 0;
                    int64_t arg = -1;
                    for (int64_t ky = 0; ky < o.kernel[0]; ++ky)
                        for (int64_t kx = 0; kx < o.kernel[1]; ++kx) {
                            const int64_t iy = oy * o.stride[0] - o.padding[0] + ky, ix = ox * o.stride[1] - o.padding[2] + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            const double v = x.get(p * h * w + iy * w + ix);
                            if (arg < 0 || v > best || (std::isnan(v) && !std::isnan(best))) {
                                best = v;
                                arg = iy * w + ix;
                            }
                        }
                    y.push_back(best);
                    a.push_back(arg);
                }
    };
    const Shape xs{2, 3, 11, 13};
    Tensor xv(TensorDesc{xs, DType::F32});
    for (int64_t i = 0; i < xv.numel(); ++i) xv.set(i, std::round(4 * uniform01(5, 1, static_cast<uint64_t>(i))));  // many ties
    xv.set(17, std::nan(""));
    for (int64_t i = 300; i < 330; ++i) xv.set(i, -INFINITY);
    for (const Pool2dOptions& o : {Pool2dOptions{{2, 2}, {2, 2}}, Pool2dOptions{{3, 3}, {2, 2}, {1, 1, 1, 1}},
                                   Pool2dOptions{{3, 3}, {1, 1}, {2, 0, 1, 2}}, Pool2dOptions{{2, 3}, {1, 2}, {1, 0, 0, 2}}}) {
        INFO("kernel " << o.kernel[0] << "x" << o.kernel[1] << " stride " << o.stride[0] << "x" << o.stride[1]);
        Graph g;
        auto x = g.input("x", xs);
        auto outs = g.add_node(op_def("max_pool2d"), {x}, o);
        auto r = compile(g, {outs[0], outs[1]}).run({{x, xv}});
        std::vector<double> ey;
        std::vector<int64_t> ea;
        naive(xv, o, outs[0].shape(), ey, ea);
        REQUIRE(static_cast<int64_t>(ey.size()) == r[0].numel());
        for (int64_t i = 0; i < r[0].numel(); ++i) {
            INFO("output " << i);
            const double v = r[0].get(i), e = ey[static_cast<std::size_t>(i)];
            CHECK((v == e || (std::isnan(v) && std::isnan(e))));
            CHECK(static_cast<int64_t>(r[1].get(i)) == ea[static_cast<std::size_t>(i)]);
        }
    }
}

