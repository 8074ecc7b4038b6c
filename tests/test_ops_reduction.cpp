// Behaviour tests for sum / mean / max: values against hand-computed results, the kernel's
// fast paths (rows, columns, split, strided fallback) against a naive loop on larger inputs,
// and hand-derived gradients (max ties share). The registry tests cover shapes and gradcheck.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <numeric>

#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/ops/ops.h"
#include "test_support.h"

using namespace gg;
using gg::testing::iota;

namespace {

Tensor eval(Graph& g, Value y, const Feeds& feeds) { return compile(g, {y}).run(feeds)[0].clone(); }

void check_values(const Tensor& t, const Shape& shape, const std::vector<double>& expected, double tol = 1e-9) {
    REQUIRE(t.shape() == shape);
    REQUIRE(t.numel() == static_cast<int64_t>(expected.size()));
    for (int64_t i = 0; i < t.numel(); ++i) {
        INFO("index " << i);
        CHECK(t.get(i) == Approx(expected[static_cast<std::size_t>(i)]).margin(tol));
    }
}

// Naive reduction over `axes` of a row-major tensor: the meaning the fast paths must match.
std::vector<double> naive_reduce(const Tensor& x, const std::vector<int>& axes, bool is_max) {
    const Shape& s = x.shape();
    const auto st = strides_of(s);
    Shape out_shape;
    for (int k = 0; k < static_cast<int>(s.size()); ++k)
        if (std::find(axes.begin(), axes.end(), k) == axes.end()) out_shape.push_back(s[static_cast<std::size_t>(k)]);
    std::vector<double> out(static_cast<std::size_t>(numel(out_shape)), is_max ? -INFINITY : 0.0);
    for (int64_t i = 0; i < x.numel(); ++i) {
        int64_t o = 0;
        for (std::size_t k = 0; k < s.size(); ++k)
            if (std::find(axes.begin(), axes.end(), static_cast<int>(k)) == axes.end()) o = o * s[k] + (i / st[k]) % s[k];
        double& acc = out[static_cast<std::size_t>(o)];
        acc = is_max ? std::max(acc, x.get(i)) : acc + x.get(i);
    }
    return out;
}

}  // namespace

TEST_CASE("sum over axis sets, with and without keepdims", "[ops][reduction]") {
    for (DType dt : {DType::F32, DType::F64}) {
        Graph g;
        auto x = g.input("x", {2, 3}, dt);
        Tensor xv = iota({2, 3}, dt);  // [[1,2,3],[4,5,6]]
        check_values(eval(g, sum(x), {{x, xv}}), {}, {21});
        check_values(eval(g, sum(x, {0}), {{x, xv}}), {3}, {5, 7, 9});
        check_values(eval(g, sum(x, {-1}, true), {{x, xv}}), {2, 1}, {6, 15});
        check_values(eval(g, sum(x, {0, 1}, true), {{x, xv}}), {1, 1}, {21});
    }
    Graph g;
    auto x = g.input("x", {2, 3, 2}, DType::F64);
    Tensor xv = iota({2, 3, 2});  // x[i,j,k] = 1 + 6i + 2j + k
    // Non-adjacent axes {0,2}: per j, Σ_i,k = (1+2j)+(2+2j)+(7+2j)+(8+2j)
    check_values(eval(g, sum(x, {0, 2}), {{x, xv}}), {3}, {18, 26, 34});
    check_values(eval(g, sum(x, {2, 0}, true), {{x, xv}}), {1, 3, 1}, {18, 26, 34});
    check_values(eval(g, sum(x, {1}), {{x, xv}}), {2, 2}, {9, 12, 27, 30});
}

TEST_CASE("mean and max values", "[ops][reduction]") {
    Graph g;
    auto x = g.input("x", {2, 3}, DType::F64);
    Tensor xv = Tensor::from_vector<double>({3, -1, 2, 0, 5, -4}, {2, 3});
    check_values(eval(g, mean(x), {{x, xv}}), {}, {5.0 / 6.0});
    check_values(eval(g, mean(x, {1}), {{x, xv}}), {2}, {4.0 / 3.0, 1.0 / 3.0});
    check_values(eval(g, mean(x, {0}, true), {{x, xv}}), {1, 3}, {1.5, 2, -1});
    check_values(eval(g, max(x), {{x, xv}}), {}, {5});
    check_values(eval(g, max(x, {1}, true), {{x, xv}}), {2, 1}, {3, 5});
    check_values(eval(g, max(x, {-2}), {{x, xv}}), {3}, {3, 5, 2});
}

TEST_CASE("f32 sums accumulate in double", "[ops][reduction]") {
    const int64_t n = 1 << 22;
    Graph g;
    auto x = g.input("x", {n});
    Tensor xv = Tensor::full({n}, 0.1);
    const double got = eval(g, mean(x), {{x, xv}}).get(0);
    CHECK(std::abs(got - static_cast<double>(0.1f)) < 1e-7);  // a float running sum drifts ~1e-2
}

TEST_CASE("every kernel path matches a naive reduction", "[ops][reduction]") {
    struct Case { Shape shape; std::vector<int64_t> axes; std::vector<int> naive_axes; };
    const std::vector<Case> cases = {
        {{3, 70001}, {1}, {1}},            // long rows
        {{200003, 3}, {0}, {0}},           // one output row, long reduced range: split
        {{5, 601, 70}, {1}, {1}},          // columns, chunked
        {{3, 2, 300}, {-1, 0}, {0, 2}},    // non-adjacent: strided fallback
        {{4, 1, 300, 50}, {0, 2}, {0, 2}}, // size-1 dim dropped, still non-adjacent
        {{7, 5, 3}, {}, {0, 1, 2}},        // everything, small
        {{300, 301}, {}, {0, 1}},          // everything, split into pieces of the run
        {{3, 1000, 5}, {1}, {1}},          // narrow columns, several outputs rows
        {{2, 2, 40, 3, 90}, {1, 3}, {1, 3}},  // two reduced groups before kept columns
    };
    for (const auto& c : cases)
        for (DType dt : {DType::F32, DType::F64}) {
            INFO("shape " << shape_str(c.shape) << " " << dtype_name(dt));
            Tensor xv(TensorDesc{c.shape, dt});
            // Small integers: exact in f32 sums of this size, distinct enough for max.
            for (int64_t i = 0; i < xv.numel(); ++i) xv.set(i, static_cast<double>((i * 7919) % 1001) - 500.0);
            Graph g;
            auto x = g.input("x", c.shape, dt);
            auto prog = compile(g, {sum(x, c.axes), max(x, c.axes)});
            auto out = prog.run({{x, xv}});
            auto want_sum = naive_reduce(xv, c.naive_axes, false), want_max = naive_reduce(xv, c.naive_axes, true);
            REQUIRE(out[0].numel() == static_cast<int64_t>(want_sum.size()));
            // Integer sums are exact in the double accumulator; f32 then rounds once on store.
            auto stored = [dt](double v) { return dt == DType::F32 ? static_cast<double>(static_cast<float>(v)) : v; };
            for (int64_t i = 0; i < out[0].numel(); ++i) {
                REQUIRE(out[0].get(i) == stored(want_sum[static_cast<std::size_t>(i)]));
                REQUIRE(out[1].get(i) == want_max[static_cast<std::size_t>(i)]);
            }
        }
}

TEST_CASE("max propagates NaN on every path", "[ops][reduction]") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (const Shape& shape : {Shape{4, 100}, Shape{100, 4}, Shape{100, 100}, Shape{300, 301}})
        for (int64_t axis : {0, 1}) {
            INFO(shape_str(shape) << " axis " << axis);
            Graph g;
            auto x = g.input("x", shape, DType::F64);
            Tensor xv = iota(shape);
            xv.set(xv.numel() / 2 + 1, nan);
            xv.set(1, std::numeric_limits<double>::infinity());  // an infinity alone is no NaN
            Tensor y = eval(g, max(x, {axis}), {{x, xv}});
            int nans = 0;
            for (int64_t i = 0; i < y.numel(); ++i) nans += std::isnan(y.get(i));
            CHECK(nans == 1);
            CHECK(std::isnan(eval(g, max(x), {{x, xv}}).get(0)));
        }
}

TEST_CASE("sum and max run on i64", "[ops][reduction]") {
    Graph g;
    auto x = g.input("x", {2, 3}, DType::I64);
    Tensor xv = Tensor::from_vector<int64_t>({4, -2, 7, 1, 1, 9}, {2, 3});
    auto out = compile(g, {sum(x, {1}), max(x, {0})}).run({{x, xv}});
    check_values(out[0], {2}, {9, 11});
    check_values(out[1], {3}, {4, 1, 9});
}

TEST_CASE("reduction gradients by hand", "[ops][reduction]") {
    Graph g;
    auto x = g.input("x", {2, 3}, DType::F64);
    auto w = g.input("w", {2}, DType::F64);
    Tensor xv = Tensor::from_vector<double>({1, 3, 3, 2, 0, -1}, {2, 3});
    Tensor wv = Tensor::from_vector<double>({2, -1}, {2});
    Feeds feeds{{x, xv}, {w, wv}};

    SECTION("sum: each element gets its row's weight") {
        auto dx = grad(sum(sum(x, {1}) * w), {x})[0];
        check_values(eval(g, dx, feeds), {2, 3}, {2, 2, 2, -1, -1, -1});
    }
    SECTION("mean: weight / 3") {
        auto dx = grad(sum(mean(x, {-1}, true) * reshape(w, {2, 1})), {x})[0];
        check_values(eval(g, dx, feeds), {2, 3}, {2.0 / 3, 2.0 / 3, 2.0 / 3, -1.0 / 3, -1.0 / 3, -1.0 / 3});
    }
    SECTION("max: ties share, others get nothing") {
        auto dx = grad(sum(max(x, {1}) * w), {x})[0];
        check_values(eval(g, dx, feeds), {2, 3}, {0, 1, 1, -1, 0, 0});
    }
    SECTION("max over everything") {
        auto dx = grad(max(x), {x})[0];
        check_values(eval(g, dx, feeds), {2, 3}, {0, 0.5, 0.5, 0, 0, 0});
    }
}

TEST_CASE("reduction errors name the axes", "[ops][reduction]") {
    Graph g;
    auto x = g.input("x", {2, 3});
    CHECK_THROWS_WITH(sum(x, {2}), Catch::Contains("axis 2 is out of range for rank 2"));
    CHECK_THROWS_WITH(max(x, {0, -2}), Catch::Contains("duplicate reduction axis in [0,-2]"));
    CHECK_THROWS_WITH(mean(x, {-3}), Catch::Contains("mean \"mean_"));
}

