// softmax / log_softmax (normalisation, stability, every axis), cross_entropy (hand values with
// and without smoothing, bad labels at run time, its gradient), mse and stop_gradient.
#include <catch2/catch.hpp>

#include <cmath>

#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/ops/ops.h"

namespace {

gg::Tensor random_tensor(const gg::Shape& s, gg::DType dt, uint64_t seed, double scale = 3.0) {
    gg::Tensor t(gg::TensorDesc{s, dt});
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, scale * (2.0 * gg::uniform01(seed, 9, static_cast<uint64_t>(i)) - 1.0));
    return t;
}

// Row-major index of (o, a, i) in a tensor viewed as [outer, n, inner].
double at3(const gg::Tensor& t, int64_t n, int64_t inner, int64_t o, int64_t a, int64_t i) {
    return t.get((o * n + a) * inner + i);
}

}  // namespace

TEST_CASE("softmax sums to 1 along its axis and matches exp(log_softmax)", "[ops][softmax]") {
    struct Case {
        gg::Shape shape;
        int64_t axis;
        int64_t outer, n, inner;
    };
    // [3,5,100] axis 1 crosses the 64-column blocks of the strided kernel.
    for (const Case& c : {Case{{8, 10}, -1, 8, 10, 1}, Case{{8, 10}, 0, 1, 8, 10}, Case{{2, 3, 4, 5}, 1, 2, 3, 20},
                          Case{{3, 5, 100}, 1, 3, 5, 100}, Case{{7}, 0, 1, 7, 1}})
        for (gg::DType dt : {gg::DType::F32, gg::DType::F64}) {
            INFO(gg::shape_str(c.shape) << " axis " << c.axis << " " << gg::dtype_name(dt));
            gg::Graph g;
            auto x = g.input("x", c.shape, dt);
            auto p = gg::softmax(x, c.axis);
            auto lp = gg::log_softmax(x, c.axis);
            auto out = gg::compile(g, {p, lp}).run({{x, random_tensor(c.shape, dt, 1)}});
            for (int64_t o = 0; o < c.outer; ++o)
                for (int64_t i = 0; i < c.inner; ++i) {
                    double s = 0;
                    for (int64_t a = 0; a < c.n; ++a) {
                        const double pv = at3(out[0], c.n, c.inner, o, a, i);
                        CHECK(pv > 0);
                        CHECK(std::exp(at3(out[1], c.n, c.inner, o, a, i)) == Approx(pv).epsilon(1e-5));
                        s += pv;
                    }
                    CHECK(s == Approx(1.0).epsilon(1e-5));
                }
        }
}

TEST_CASE("softmax of large logits stays finite and exact", "[ops][softmax]") {
    gg::Graph g;
    auto x = g.input("x", {2, 2});
    auto out = gg::compile(g, {gg::softmax(x), gg::log_softmax(x)})
                   .run({{x, gg::Tensor::from_vector<float>({1000.f, 0.f, -1000.f, -1000.f}, {2, 2})}});
    CHECK(out[0].to_doubles() == std::vector<double>{1.0, 0.0, 0.5, 0.5});
    CHECK(out[1].get(0) == 0.0);
    CHECK(out[1].get(1) == -1000.0);
    CHECK(out[1].get(2) == Approx(-std::log(2.0)));
}

TEST_CASE("f32 kernels (vectorised exp) agree with the f64 ones", "[ops][softmax][loss]") {
    // Widths not multiple of 8 exercise the vector tails; ±20 logits the range reduction.
    struct Case {
        gg::Shape shape;
        int64_t axis;
    };
    for (const Case& c : {Case{{7, 37}, -1}, Case{{3, 37, 11}, 1}, Case{{5, 3}, 0}, Case{{2, 70, 3}, 0}}) {
        INFO(gg::shape_str(c.shape) << " axis " << c.axis);
        auto data = random_tensor(c.shape, gg::DType::F64, 4, 20.0);
        std::vector<std::vector<double>> out;
        for (gg::DType dt : {gg::DType::F32, gg::DType::F64}) {
            gg::Graph g;
            auto x = g.input("x", c.shape, dt);
            auto r = gg::compile(g, {gg::softmax(x, c.axis), gg::log_softmax(x, c.axis)}).run({{x, data.cast(dt)}});
            auto p = r[0].to_doubles(), lp = r[1].to_doubles();
            p.insert(p.end(), lp.begin(), lp.end());
            out.push_back(p);
        }
        for (std::size_t i = 0; i < out[0].size(); ++i) CHECK(out[0][i] == Approx(out[1][i]).epsilon(1e-5).margin(1e-6));
    }
    std::vector<double> ce;
    for (gg::DType dt : {gg::DType::F32, gg::DType::F64}) {
        gg::Graph g;
        auto x = g.input("x", {6, 37}, dt);
        auto t = g.input("t", {6}, gg::DType::I64);
        auto r = gg::compile(g, {gg::cross_entropy(x, t, 0.1)})
                     .run({{x, random_tensor({6, 37}, gg::DType::F64, 5, 20.0).cast(dt)},
                           {t, gg::Tensor::from_vector<int64_t>({0, 36, 5, 17, 8, 1}, {6})}});
        ce.push_back(r[0].get(0));
    }
    CHECK(ce[0] == Approx(ce[1]).epsilon(1e-5));
}

TEST_CASE("softmax rejects bad axes and integer inputs", "[ops][softmax]") {
    gg::Graph g;
    auto x = g.input("x", {3, 4});
    CHECK_THROWS_WITH(gg::softmax(x, 2), Catch::Contains("softmax") && Catch::Contains("axis 2 is out of range for rank 2"));
    auto i = g.input("i", {3, 4}, gg::DType::I64);
    CHECK_THROWS_WITH(gg::log_softmax(i), Catch::Contains("must be floating point"));
}

TEST_CASE("cross_entropy equals the hand-computed mean, with and without smoothing", "[ops][loss]") {
    // logits [[1,2,3],[1,1,1]], labels [2,0]. Per row: lse − (1−ε)·x_label − ε/C·Σx.
    const double lse0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)), lse1 = 1.0 + std::log(3.0);
    for (double eps : {0.0, 0.1}) {
        const double row0 = lse0 - (1 - eps) * 3.0 - eps / 3.0 * 6.0;
        const double row1 = lse1 - (1 - eps) * 1.0 - eps / 3.0 * 3.0;
        for (gg::DType dt : {gg::DType::F32, gg::DType::F64}) {
            INFO("eps " << eps << " " << gg::dtype_name(dt));
            gg::Graph g;
            auto x = g.input("x", {2, 3}, dt);
            auto t = g.input("t", {2}, gg::DType::I64);
            auto loss = gg::cross_entropy(x, t, eps);
            CHECK(loss.shape().empty());
            auto xv = gg::Tensor::from_vector<double>({1, 2, 3, 1, 1, 1}, {2, 3}).cast(dt);
            auto out = gg::compile(g, {loss}).run({{x, xv}, {t, gg::Tensor::from_vector<int64_t>({2, 0}, {2})}});
            CHECK(out[0].get(0) == Approx((row0 + row1) / 2).epsilon(1e-6));
        }
    }
}

TEST_CASE("cross_entropy with a label outside 0..C-1 fails at run time naming node and label", "[ops][loss]") {
    gg::Graph g;
    auto x = g.input("x", {2, 3});
    auto t = g.input("t", {2}, gg::DType::I64);
    auto loss = gg::cross_entropy(x, t);
    auto prog = gg::compile(g, {loss});
    auto xv = random_tensor({2, 3}, gg::DType::F32, 2);
    CHECK_NOTHROW(prog.run({{x, xv}, {t, gg::Tensor::from_vector<int64_t>({0, 2}, {2})}}));
    CHECK_THROWS_AS(prog.run({{x, xv}, {t, gg::Tensor::from_vector<int64_t>({0, 3}, {2})}}), gg::RuntimeError);
    CHECK_THROWS_WITH(prog.run({{x, xv}, {t, gg::Tensor::from_vector<int64_t>({-1, 0}, {2})}}),
                      Catch::Contains(loss.name()) && Catch::Contains("label -1"));
}

TEST_CASE("cross_entropy rejects bad inputs when the graph is built", "[ops][loss]") {
    gg::Graph g;
    auto x = g.input("x", {4, 5});
    CHECK_THROWS_WITH(gg::cross_entropy(x, g.input("f", {4})), Catch::Contains("labels must be i64"));
    CHECK_THROWS_WITH(gg::cross_entropy(x, g.input("n", {3}, gg::DType::I64)),
                      Catch::Contains("labels [3] do not match logits [4,5]"));
    CHECK_THROWS_WITH(gg::cross_entropy(g.input("r", {4, 5, 6}), g.input("t", {4}, gg::DType::I64)),
                      Catch::Contains("labels [4] do not match logits [4,5,6]: expected [4,6]"));
    CHECK_THROWS_WITH(gg::cross_entropy(g.input("v", {4}), g.input("u", {4}, gg::DType::I64)),
                      Catch::Contains("logits must be [N, C] or [N, C, d1, ...]"));
}

TEST_CASE("cross_entropy over [N, C, L] with ignore_index: the mean over kept positions, their gradient only",
          "[ops][loss][grad]") {
    // logits [2, 3, 2]: position (i, l) has classes x[i][0..2][l]. Labels [[2, -100], [0, 1]]:
    // three positions count, the mean divides by 3 (PyTorch's reduction="mean").
    const std::vector<double> xv = {1, 5, 2, 0, 3, -1, /* i = 1 */ 0.5, 2, 0.5, 2, 0.5, 2};
    const std::vector<int64_t> tv = {2, -100, 0, 1};
    auto at = [&](int64_t i, int64_t j, int64_t l) { return xv[static_cast<std::size_t>((i * 3 + j) * 2 + l)]; };
    for (double eps : {0.0, 0.2}) {
        double want = 0;
        std::vector<double> dwant(12, 0.0);
        for (int64_t i = 0; i < 2; ++i)
            for (int64_t l = 0; l < 2; ++l) {
                const int64_t label = tv[static_cast<std::size_t>(i * 2 + l)];
                if (label == -100) continue;
                double se = 0;
                for (int64_t j = 0; j < 3; ++j) se += std::exp(at(i, j, l));
                for (int64_t j = 0; j < 3; ++j) {
                    const double q = (j == label ? 1 - eps : 0.0) + eps / 3, logp = at(i, j, l) - std::log(se);
                    want -= q * logp / 3;
                    dwant[static_cast<std::size_t>((i * 3 + j) * 2 + l)] = (std::exp(logp) - q) / 3;
                }
            }
        for (gg::DType dt : {gg::DType::F32, gg::DType::F64}) {
            INFO("eps " << eps << " " << gg::dtype_name(dt));
            gg::Graph g;
            auto x = g.input("x", {2, 3, 2}, dt);
            auto t = g.input("t", {2, 2}, gg::DType::I64);
            auto loss = gg::cross_entropy(x, t, eps);
            auto dx = gg::grad(loss, {x})[0];
            auto out = gg::compile(g, {loss, dx}).run({{x, gg::Tensor::from_vector<double>(xv, {2, 3, 2}).cast(dt)},
                                                        {t, gg::Tensor::from_vector<int64_t>(tv, {2, 2})}});
            CHECK(out[0].get(0) == Approx(want).epsilon(1e-6));
            for (std::size_t k = 0; k < dwant.size(); ++k) CHECK(out[1].get(static_cast<int64_t>(k)) == Approx(dwant[k]).margin(1e-6));
        }
    }
}

TEST_CASE("cross_entropy: a custom ignore_index, labels outside the classes, and all positions ignored",
          "[ops][loss]") {
    gg::Graph g;
    auto x = g.input("x", {3, 2}, gg::DType::F64);
    auto t = g.input("t", {3}, gg::DType::I64);
    auto loss = gg::cross_entropy(x, t, 0.0, 1);  // class 1 is ignored, as PyTorch allows
    auto dx = gg::grad(loss, {x})[0];
    auto prog = gg::compile(g, {loss, dx});
    auto xv = gg::Tensor::from_vector<double>({0, 1, 2, 2, -1, 3}, {3, 2});
    auto out = prog.run({{x, xv}, {t, gg::Tensor::from_vector<int64_t>({0, 1, 0}, {3})}});
    const double row0 = std::log(1 + std::exp(1.0)), row2 = std::log(std::exp(-1.0) + std::exp(3.0)) + 1;
    CHECK(out[0].get(0) == Approx((row0 + row2) / 2).epsilon(1e-12));
    CHECK(out[1].get(2) == 0.0);  // the ignored row has no gradient
    CHECK(out[1].get(3) == 0.0);
    CHECK_THROWS_WITH(prog.run({{x, xv}, {t, gg::Tensor::from_vector<int64_t>({0, -100, 0}, {3})}}),
                      Catch::Contains("label -100 at index 1 is outside [0, 2) and is not ignore_index 1"));
    out = prog.run({{x, xv}, {t, gg::Tensor::from_vector<int64_t>({1, 1, 1}, {3})}});
    CHECK(std::isnan(out[0].get(0)));  // the mean of nothing, as PyTorch
    for (int64_t k = 0; k < 6; ++k) CHECK(out[1].get(k) == 0.0);
}

TEST_CASE("cross_entropy gradient is (softmax − q)/N", "[ops][loss][grad]") {
    const int64_t n = 4, c = 5;
    const std::vector<int64_t> labels{2, 0, 4, 4};
    for (double eps : {0.0, 0.1}) {
        gg::Graph g;
        auto x = g.input("x", {n, c}, gg::DType::F64);
        auto t = g.input("t", {n}, gg::DType::I64);
        auto dx = gg::grad(gg::cross_entropy(x, t, eps), {x})[0];
        auto xv = random_tensor({n, c}, gg::DType::F64, 3);
        auto out = gg::compile(g, {dx, gg::softmax(x)}).run({{x, xv}, {t, gg::Tensor::from_vector<int64_t>(labels, {n})}});
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < c; ++j) {
                const double q = (j == labels[static_cast<std::size_t>(i)] ? 1 - eps : 0.0) + eps / c;
                CHECK(out[0].get(i * c + j) == Approx((out[1].get(i * c + j) - q) / n).margin(1e-12));
            }
    }
}

TEST_CASE("mse is the mean squared difference and refuses to broadcast", "[ops][loss]") {
    gg::Graph g;
    auto p = g.input("p", {2, 2}, gg::DType::F64);
    auto t = g.input("t", {2, 2}, gg::DType::F64);
    auto loss = gg::mse(p, t);
    auto dp = gg::grad(loss, {p})[0];
    auto out = gg::compile(g, {loss, dp})
                   .run({{p, gg::Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2})},
                         {t, gg::Tensor::from_vector<double>({1, 0, 0, 8}, {2, 2})}});
    CHECK(out[0].get(0) == Approx((0 + 4 + 9 + 16) / 4.0));
    CHECK(out[1].to_doubles() == std::vector<double>{0, 1, 1.5, -2});  // 2·(p − t)/4
    auto col = g.input("col", {2, 1}, gg::DType::F64);
    CHECK_THROWS_WITH(gg::mse(p, col), Catch::Contains("[2,2]") && Catch::Contains("[2,1]"));
}

TEST_CASE("stop_gradient is the identity forward and blocks the gradient", "[ops][loss][grad]") {
    gg::Graph g;
    auto x = g.input("x", {3}, gg::DType::F64);
    auto y = gg::sum(x * x + gg::stop_gradient(x * x));  // d/dx = 2x, not 4x
    auto dx = gg::grad(y, {x})[0];
    auto out = gg::compile(g, {y, dx}).run({{x, gg::Tensor::from_vector<double>({1, 2, 3}, {3})}});
    CHECK(out[0].get(0) == Approx(28.0));
    CHECK(out[1].to_doubles() == std::vector<double>{2, 4, 6});
}
