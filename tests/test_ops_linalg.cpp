// matmul: hand-computed values, the oneDNN kernel against the reference loops (transposes,
// broadcast batches, x·W folding), shape errors with their messages, and gradients.
#include <catch2/catch.hpp>

#include <cmath>

#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/ops/ops.h"

namespace {

gg::Tensor random_tensor(const gg::Shape& s, gg::DType dt, uint64_t seed) {
    gg::Tensor t(gg::TensorDesc{s, dt});
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, 2.0 * gg::uniform01(seed, 3, static_cast<uint64_t>(i)) - 1.0);
    return t;
}

struct MatmulRun {
    gg::Tensor y;
    bool fast = false;  // whether the oneDNN kernel ran
};

MatmulRun run_matmul(const gg::Tensor& a, const gg::Tensor& b, bool ta, bool tb, bool reference) {
    gg::Graph g;
    auto va = g.input("a", a.shape(), a.dtype());
    auto vb = g.input("b", b.shape(), b.dtype());
    auto y = gg::matmul(va, vb, ta, tb, "mm");
    gg::CompileOptions o;
    o.reference_kernels = reference;
    auto prog = gg::compile(g, {y}, o);
    MatmulRun r{prog.run({{va, a}, {vb, b}})[0].clone(), false};
    for (const auto& s : prog.steps()) r.fast = r.fast || s.fast_kernel;
    return r;
}

// Compares the oneDNN kernel with the reference loops on the same f32 data.
void check_against_reference(const gg::Shape& as, const gg::Shape& bs, bool ta, bool tb, bool expect_fast = true) {
    auto a = random_tensor(as, gg::DType::F32, 11);
    auto b = random_tensor(bs, gg::DType::F32, 12);
    auto fast = run_matmul(a, b, ta, tb, false);
    auto ref = run_matmul(a, b, ta, tb, true);
    INFO(gg::shape_str(as) << " x " << gg::shape_str(bs) << " ta=" << ta << " tb=" << tb);
    CHECK(fast.fast == expect_fast);
    CHECK_FALSE(ref.fast);
    REQUIRE(fast.y.shape() == ref.y.shape());
    double worst = 0;
    for (int64_t i = 0; i < ref.y.numel(); ++i) worst = std::max(worst, std::abs(fast.y.get(i) - ref.y.get(i)));
    CHECK(worst < 1e-4);
}

}  // namespace

TEST_CASE("matmul matches hand-computed products", "[ops][linalg]") {
    // [[1,2,3],[4,5,6]] · [[7,8],[9,10],[11,12]] = [[58,64],[139,154]]
    const std::vector<double> expected{58, 64, 139, 154};
    for (gg::DType dt : {gg::DType::F32, gg::DType::F64}) {
        auto a = gg::Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}).cast(dt);
        auto b = gg::Tensor::from_vector<double>({7, 8, 9, 10, 11, 12}, {3, 2}).cast(dt);
        auto at = gg::Tensor::from_vector<double>({1, 4, 2, 5, 3, 6}, {3, 2}).cast(dt);      // aᵀ stored
        auto bt = gg::Tensor::from_vector<double>({7, 9, 11, 8, 10, 12}, {2, 3}).cast(dt);   // bᵀ stored
        for (bool reference : {false, true}) {
            INFO("dtype " << gg::dtype_name(dt) << " reference " << reference);
            auto plain = run_matmul(a, b, false, false, reference);
            CHECK(plain.fast == (dt == gg::DType::F32 && !reference));
            CHECK(plain.y.to_doubles() == expected);
            CHECK(run_matmul(at, b, true, false, reference).y.to_doubles() == expected);
            CHECK(run_matmul(a, bt, false, true, reference).y.to_doubles() == expected);
            CHECK(run_matmul(at, bt, true, true, reference).y.to_doubles() == expected);
        }
    }
}

TEST_CASE("matmul batches: equal, broadcast and a shared 2-D operand", "[ops][linalg]") {
    // Batch item i of [2,2,2] x [2,2] uses the same b: [[1,0],[0,2]] scales column 1 by 2.
    auto a = gg::Tensor::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
    auto b = gg::Tensor::from_vector<double>({1, 0, 0, 2}, {2, 2});
    auto y = run_matmul(a, b, false, false, true).y;
    CHECK(y.shape() == gg::Shape{2, 2, 2});
    CHECK(y.to_doubles() == std::vector<double>{1, 4, 3, 8, 5, 12, 7, 16});

    gg::Graph g;
    auto x = g.input("x", {2, 1, 5, 3});
    auto w = g.input("w", {4, 3, 6});
    CHECK(gg::matmul(x, w).shape() == gg::Shape{2, 4, 5, 6});
    CHECK(gg::matmul(w, x, true, true).shape() == gg::Shape{2, 4, 6, 5});
}

TEST_CASE("matmul oneDNN kernel equals the reference on 64x96x80 f32", "[ops][linalg]") {
    const int64_t m = 64, k = 96, n = 80;
    for (bool ta : {false, true})
        for (bool tb : {false, true}) {
            gg::Shape as = ta ? gg::Shape{k, m} : gg::Shape{m, k};
            gg::Shape bs = tb ? gg::Shape{n, k} : gg::Shape{k, n};
            check_against_reference(as, bs, ta, tb);
        }
}

TEST_CASE("matmul oneDNN kernel equals the reference on batched and broadcast shapes", "[ops][linalg]") {
    check_against_reference({3, 17, 33}, {3, 33, 9}, false, false);
    check_against_reference({4, 17, 33}, {33, 9}, false, false);          // x·W folded into one GEMM
    check_against_reference({2, 3, 17, 33}, {9, 33}, false, true);         // folded, W read transposed
    check_against_reference({4, 33, 17}, {33, 9}, true, false);            // shared W, a transposed
    check_against_reference({17, 33}, {4, 33, 9}, false, false);           // shared 2-D a
    check_against_reference({2, 1, 17, 33}, {3, 33, 9}, false, false);     // broadcast both ways
    check_against_reference({2, 1, 33, 17}, {1, 3, 9, 33}, true, true);
    check_against_reference({2, 3, 5, 7}, {2, 3, 7, 11}, false, false);
}

TEST_CASE("matmul shape errors name the op, the node and both shapes", "[ops][linalg]") {
    gg::Graph g;
    auto x = g.input("x", {64, 784});
    auto w = g.input("w", {512, 256});
    try {
        gg::matmul(x, w, "fc1");
        FAIL("expected a shape error");
    } catch (const gg::GraphError& e) {
        CHECK_THAT(e.what(), Catch::Contains("matmul \"fc1\": inner dimensions differ: [64,784] x [512,256]"));
    }
    auto v = g.input("v", {784});
    CHECK_THROWS_WITH(gg::matmul(v, w), Catch::Contains("rank >= 2"));
    auto b1 = g.input("b1", {2, 3, 4});
    auto b2 = g.input("b2", {3, 4, 5});
    CHECK_THROWS_WITH(gg::matmul(b1, b2), Catch::Contains("batch dimensions do not broadcast: [2,3,4] x [3,4,5]"));
    auto d = g.input("d", {784, 10}, gg::DType::F64);
    CHECK_THROWS_WITH(gg::matmul(x, d), Catch::Contains("f32[64,784] x f64[784,10]"));
}

TEST_CASE("matmul gradient of x·W with a shared W sums over the batch", "[ops][linalg][grad]") {
    gg::Graph g;
    auto x = g.input("x", {2, 3, 4}, gg::DType::F64);
    auto w = g.input("w", {4, 5}, gg::DType::F64);
    auto grads = gg::grad(gg::sum(gg::matmul(x, w)), {x, w});
    CHECK(grads[1].shape() == gg::Shape{4, 5});
    auto xv = random_tensor({2, 3, 4}, gg::DType::F64, 5);
    auto wv = random_tensor({4, 5}, gg::DType::F64, 6);
    auto out = gg::compile(g, grads).run({{x, xv}, {w, wv}});
    // d sum(x·W)/dW[k][n] = Σ_{b,m} x[b][m][k]; d/dx[b][m][k] = Σ_n W[k][n]
    for (int64_t kk = 0; kk < 4; ++kk) {
        double col = 0, row = 0;
        for (int64_t bm = 0; bm < 6; ++bm) col += xv.get(bm * 4 + kk);
        for (int64_t nn = 0; nn < 5; ++nn) row += wv.get(kk * 5 + nn);
        for (int64_t nn = 0; nn < 5; ++nn) CHECK(out[1].get(kk * 5 + nn) == Approx(col));
        for (int64_t bm = 0; bm < 6; ++bm) CHECK(out[0].get(bm * 4 + kk) == Approx(row));
    }
}
