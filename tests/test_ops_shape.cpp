// Behaviour tests for reshape, permute/transpose, slice, concat and pad: values against
// hand-computed results, the tiled transpose against a naive loop, i64 data movement, and
// hand-derived gradients (slice with steps, reflect/replicate adjoints, concat split).
#include <catch2/catch.hpp>

#include <algorithm>

#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/ops/ops.h"
#include "test_support.h"

using namespace gg;
using gg::testing::iota;

namespace {

Tensor vec(std::vector<double> v, Shape s) { return Tensor::from_vector<double>(v, std::move(s)); }

Tensor eval(Graph& g, Value y, const Feeds& feeds) { return compile(g, {y}).run(feeds)[0].clone(); }

void check_values(const Tensor& t, const Shape& shape, const std::vector<double>& expected) {
    REQUIRE(t.shape() == shape);
    REQUIRE(t.numel() == static_cast<int64_t>(expected.size()));
    for (int64_t i = 0; i < t.numel(); ++i) {
        INFO("index " << i);
        CHECK(t.get(i) == Approx(expected[static_cast<std::size_t>(i)]).margin(1e-12));
    }
}

// dL/dx for L = Σ f(x) · w, with w = 1, 2, 3, ... (so positions are distinguishable).
Tensor weighted_grad(Graph& g, Value x, Value y, const Tensor& xv) {
    Value w = g.constant(iota(y.shape()));
    return eval(g, grad(sum(y * w), {x})[0], {{x, xv}});
}

}  // namespace

TEST_CASE("reshape keeps the elements and resolves -1", "[ops][shape]") {
    Graph g;
    auto x = g.input("x", {2, 3, 4}, DType::F64);
    auto y = reshape(x, {4, -1});
    CHECK(y.shape() == Shape{4, 6});
    Tensor xv = iota({2, 3, 4});
    check_values(eval(g, y, {{x, xv}}), {4, 6}, xv.to_doubles());
    CHECK_THROWS_WITH(reshape(x, {5, -1}), Catch::Contains("cannot resolve -1 in [5,-1] for 24 elements"));
    CHECK_THROWS_WITH(reshape(x, {5, 5}), Catch::Contains("reshape \"reshape_"));
}

TEST_CASE("reshape of a dying value takes its buffer and copies nothing", "[ops][shape]") {
    Graph g;
    auto x = g.input("x", {2, 3}, DType::F64);
    auto y = reshape(transpose(x), {6});  // the transpose dies at the reshape
    auto prog = compile(g, {y});
    const auto& reused = prog.memory_plan().reused_inplace;
    CHECK(std::count(reused.begin(), reused.end(), 1) == 1);
    check_values(prog.run({{x, iota({2, 3})}})[0], {6}, {1, 4, 2, 5, 3, 6});
}

TEST_CASE("permute and transpose move values", "[ops][shape]") {
    Graph g;
    auto x = g.input("x", {2, 3, 4}, DType::F64);
    Tensor xv = iota({2, 3, 4}, DType::F64, 0.0);  // x[i,j,k] = 12i + 4j + k
    Tensor y = eval(g, permute(x, {2, 0, 1}), {{x, xv}});
    REQUIRE(y.shape() == Shape{4, 2, 3});
    for (int k = 0; k < 4; ++k)
        for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 3; ++j) CHECK(y.get(k * 6 + i * 3 + j) == 12 * i + 4 * j + k);
    Tensor t = eval(g, transpose(x), {{x, xv}});  // default: the last two axes
    REQUIRE(t.shape() == Shape{2, 4, 3});
    CHECK(t.get(1 * 12 + 2 * 3 + 1) == 12 + 4 + 2);
    CHECK_THROWS_WITH(permute(x, {0, 0, 1}), Catch::Contains("perm [0,0,1] is not a permutation of the 3 axes"));
}

TEST_CASE("tiled and row-copy permutes match a naive loop", "[ops][shape]") {
    gg::testing::ScopedThreads threads(2);
    REQUIRE(threads.is_parallel());
    struct Case { Shape shape; std::vector<int64_t> perm; };
    const std::vector<Case> cases = {
        {{67, 45}, {1, 0}},           // 2-D transpose, ragged tiles
        {{3, 50, 70}, {0, 2, 1}},     // batched last-two transpose
        {{2, 40, 9, 33}, {0, 2, 3, 1}},  // NCHW → NHWC: tiled between C and HW
        {{4, 5, 6, 7}, {1, 0, 2, 3}},  // inner rows stay contiguous
        {{300, 1, 200}, {2, 1, 0}},    // size-1 dim dropped
        {{3, 16, 37, 16}, {0, 2, 1, 3}},  // short contiguous rows in runs (lambda's λp)
        {{4, 3, 100}, {1, 0, 2}},       // long contiguous rows (memcpy)
        {{7, 5, 3}, {2, 1, 0}},         // strided rows, no partner wide enough to tile
        {{5, 3, 67, 100}, {0, 1, 3, 2}},  // many tiles, ragged register blocks, in parallel
        {{2, 17, 130, 9}, {3, 0, 2, 1}},  // tiles with outer dims on both sides
        {{61, 3, 8, 12}, {3, 1, 2, 0}},   // rows split across threads mid-run
    };
    for (const auto& c : cases)
        for (DType dt : {DType::F32, DType::F64, DType::I64}) {
            INFO(shape_str(c.shape) << " " << dtype_name(dt));
            Graph g;
            auto x = g.input("x", c.shape, dt);
            Tensor xv = iota(c.shape, dt, 0.0);
            Tensor y = eval(g, permute(x, c.perm), {{x, xv}});
            const auto xst = strides_of(c.shape);
            const auto yst = strides_of(y.shape());
            for (int64_t o = 0; o < y.numel(); ++o) {
                int64_t src = 0;
                for (std::size_t k = 0; k < c.perm.size(); ++k)
                    src += (o / yst[k]) % y.shape()[k] * xst[static_cast<std::size_t>(c.perm[k])];
                REQUIRE(y.get(o) == static_cast<double>(src));
            }
        }
}

TEST_CASE("slice with steps, negative starts and clamped ends", "[ops][shape]") {
    Graph g;
    auto x = g.input("x", {5, 6}, DType::F64);
    Tensor xv = iota({5, 6}, DType::F64, 0.0);  // x[i,j] = 6i + j
    check_values(eval(g, slice(x, {0, 1}, {5, 6}, {2, 2}), {{x, xv}}), {3, 3}, {1, 3, 5, 13, 15, 17, 25, 27, 29});
    check_values(eval(g, slice(x, {-2, -3}, {100, -1}), {{x, xv}}), {2, 2}, {21, 22, 27, 28});
    check_values(eval(g, slice_axis(x, -1, 4, 6), {{x, xv}}), {5, 2}, {4, 5, 10, 11, 16, 17, 22, 23, 28, 29});
    check_values(eval(g, slice_axis(x, 0, 1, 5, 3), {{x, xv}}), {2, 6}, {6, 7, 8, 9, 10, 11, 24, 25, 26, 27, 28, 29});
    CHECK_THROWS_WITH(slice_axis(x, 1, 4, 2), Catch::Contains("slice start 4 is beyond end 2 on axis 1"));
}

TEST_CASE("concat along first, middle and last axes", "[ops][shape]") {
    Graph g;
    auto a = g.input("a", {2, 2}, DType::F64);
    auto b = g.input("b", {2, 1}, DType::F64);
    auto c = g.input("c", {1, 2}, DType::F64);
    Feeds f{{a, vec({1, 2, 3, 4}, {2, 2})}, {b, vec({5, 6}, {2, 1})}, {c, vec({7, 8}, {1, 2})}};
    check_values(eval(g, concat({a, b}, -1), f), {2, 3}, {1, 2, 5, 3, 4, 6});
    check_values(eval(g, concat({c, a, c}, 0), f), {4, 2}, {7, 8, 1, 2, 3, 4, 7, 8});
    auto p = g.input("p", {2, 1, 2}, DType::I64);
    auto q = g.input("q", {2, 2, 2}, DType::I64);
    Tensor pv = Tensor::from_vector<int64_t>({1, 2, 3, 4}, {2, 1, 2});
    Tensor qv = Tensor::from_vector<int64_t>({5, 6, 7, 8, 9, 10, 11, 12}, {2, 2, 2});
    check_values(eval(g, concat({p, q}, 1), {{p, pv}, {q, qv}}), {2, 3, 2}, {1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12});
    CHECK_THROWS_WITH(concat({a, c}, 1), Catch::Contains("input 1 [1,2] does not match input 0 [2,2] outside axis 1"));
}

TEST_CASE("pad in each mode", "[ops][shape]") {
    Graph g;
    auto x = g.input("x", {3}, DType::F64);
    Feeds f{{x, vec({1, 2, 3}, {3})}};
    check_values(eval(g, pad(x, {{2, 2}}, PadMode::Reflect), f), {7}, {3, 2, 1, 2, 3, 2, 1});
    check_values(eval(g, pad(x, {{2, 1}}, PadMode::Replicate), f), {6}, {1, 1, 1, 2, 3, 3});
    check_values(eval(g, pad(x, {{1, 2}}, PadMode::Constant, 9.0), f), {6}, {9, 1, 2, 3, 9, 9});
    CHECK_THROWS_WITH(pad(x, {{0, 3}}, PadMode::Reflect), Catch::Contains("reflect padding {0, 3} on axis 0 needs pads < size 3"));

    auto m = g.input("m", {2, 3}, DType::F64);
    Feeds fm{{m, vec({1, 2, 3, 4, 5, 6}, {2, 3})}};
    // Reflect rows by {1,0}, columns by {0,2}: row order 1,0,1; columns 0,1,2,1,0.
    check_values(eval(g, pad(m, {{1, 0}, {0, 2}}, PadMode::Reflect), fm), {3, 5},
                 {4, 5, 6, 5, 4, 1, 2, 3, 2, 1, 4, 5, 6, 5, 4});
    check_values(eval(g, pad(m, {{0, 1}, {1, 0}}, PadMode::Replicate), fm), {3, 4}, {1, 1, 2, 3, 4, 4, 5, 6, 4, 4, 5, 6});
    check_values(eval(g, pad(m, {{0, 0}, {1, 1}}, PadMode::Constant, -1.0), fm), {2, 5}, {-1, 1, 2, 3, -1, -1, 4, 5, 6, -1});
}

TEST_CASE("shape op gradients by hand", "[ops][shape]") {
    Graph g;
    auto x = g.input("x", {6}, DType::F64);
    Tensor xv = iota({6});
    // Weights w = 1, 2, ... on the outputs; dx gathers them back to where each output read.
    check_values(weighted_grad(g, x, slice(x, {0}, {6}, {2}), xv), {6}, {1, 0, 2, 0, 3, 0});
    check_values(weighted_grad(g, x, slice(x, {-4}, {5}), xv), {6}, {0, 0, 1, 2, 3, 0});

    auto s = g.input("s", {3}, DType::F64);
    Tensor sv = iota({3});
    // Reflect by 2: outputs read 2,1,0,1,2,1,0 → dx0 = w3+w7, dx1 = w2+w4+w6, dx2 = w1+w5.
    check_values(weighted_grad(g, s, pad(s, {{2, 2}}, PadMode::Reflect), sv), {3}, {10, 12, 6});
    // Replicate {2,1}: outputs read 0,0,0,1,2,2 → dx = w1+w2+w3, w4, w5+w6.
    check_values(weighted_grad(g, s, pad(s, {{2, 1}}, PadMode::Replicate), sv), {3}, {6, 4, 11});
    check_values(weighted_grad(g, s, pad(s, {{1, 1}}, PadMode::Constant, 5.0), sv), {3}, {2, 3, 4});

    auto a = g.input("a", {2, 1}, DType::F64);
    auto b = g.input("b", {2, 2}, DType::F64);
    auto y = concat({a, b}, 1);  // w = [[1,2,3],[4,5,6]]
    Value w = g.constant(iota({2, 3}));
    auto grads = grad(sum(y * w), {a, b});
    auto out = compile(g, grads).run({{a, iota({2, 1})}, {b, iota({2, 2})}});
    check_values(out[0], {2, 1}, {1, 4});
    check_values(out[1], {2, 2}, {2, 3, 5, 6});

    auto m = g.input("m", {2, 3}, DType::F64);
    // permute's gradient is the inverse permutation: dx[i,j] = w[j,i] = 1 + 2j + i.
    check_values(weighted_grad(g, m, transpose(m), iota({2, 3})), {2, 3}, {1, 3, 5, 2, 4, 6});
}

