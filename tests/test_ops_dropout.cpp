// Behaviour tests for dropout: what the registry tests cannot see because they run it in
// evaluation mode (identity) or with a pinned run counter (gradcheck). Keep rate, scaling,
// preserved mean, reproducibility keyed on (seed, node, step), identity in evaluation
// programs, and the backward pass reusing the forward mask.
#include <catch2/catch.hpp>

#include <cmath>

#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/ops/random.h"

using namespace gg;

TEST_CASE("dropout keeps 1 − p of the elements, scaled by 1/(1 − p), preserving the mean", "[ops][dropout]") {
    for (DType dt : {DType::F32, DType::F64})
        for (double p : {0.1, 0.5, 0.8}) {
            INFO(dtype_name(dt) << " p " << p);
            const int64_t n = 100000;
            Graph g;
            auto x = g.input("x", {n}, dt);
            auto y = dropout(x, p);
            auto prog = compile(g, {y}, CompileOptions{.training = true});
            Tensor ones = Tensor::full({n}, 1.0, dt);
            Tensor yv = prog.run({{x, ones}})[0];
            int64_t kept = 0;
            double total = 0;
            for (int64_t i = 0; i < n; ++i) {
                const double v = yv.get(i);
                if (v != 0) {
                    ++kept;
                    REQUIRE(v == Approx(1.0 / (1.0 - p)));
                }
                total += v;
            }
            // Binomial: the standard deviation of the keep rate is √(p(1−p)/n) ≤ 0.0016.
            CHECK(static_cast<double>(kept) / n == Approx(1.0 - p).margin(0.01));
            CHECK(total / n == Approx(1.0).margin(0.03));
        }
}

TEST_CASE("dropout masks are a pure function of (seed, node, step)", "[ops][dropout]") {
    auto masks = [](uint64_t seed, int runs) {
        Graph g(seed);
        auto x = g.input("x", {1000});
        auto y = dropout(x, 0.5);
        auto prog = compile(g, {y}, CompileOptions{.training = true});
        std::vector<std::vector<double>> out;
        for (int r = 0; r < runs; ++r) out.push_back(prog.run({{x, Tensor::full({1000}, 1.0)}})[0].to_doubles());
        return out;
    };
    auto a = masks(1, 3), b = masks(1, 3), c = masks(2, 1);
    CHECK(a == b);              // reproducible: same seed, same node, same steps
    CHECK(a[0] != a[1]);        // a new mask every run
    CHECK(a[1] != a[2]);
    CHECK(a[0] != c[0]);        // the graph seed matters

    // Two dropout nodes in one graph draw different masks.
    Graph g;
    auto x = g.input("x", {1000});
    auto y1 = dropout(x, 0.5), y2 = dropout(x, 0.5);
    auto r = compile(g, {y1, y2}, CompileOptions{.training = true}).run({{x, Tensor::full({1000}, 1.0)}});
    CHECK(r[0].to_doubles() != r[1].to_doubles());
}

TEST_CASE("dropout is the identity in evaluation programs", "[ops][dropout]") {
    Graph g;
    auto x = g.input("x", {4, 5});
    auto y = dropout(x, 0.5);
    auto prog = compile(g, {y});
    REQUIRE_FALSE(prog.training());
    Tensor xv = Tensor::full({4, 5}, 3.0);
    CHECK(prog.run({{x, xv}})[0].to_doubles() == xv.to_doubles());
}

TEST_CASE("dropout's backward reuses the forward mask of the same run", "[ops][dropout]") {
    Graph g;
    auto x = g.input("x", {500}, DType::F64);
    auto y = dropout(x, 0.3);
    auto dx = grad(sum(y), {x})[0];
    auto prog = compile(g, {y, dx});
    REQUIRE(prog.training());
    for (int run = 0; run < 3; ++run) {
        auto r = prog.run({{x, Tensor::full({500}, 2.0, DType::F64)}});
        for (int64_t i = 0; i < 500; ++i) REQUIRE(r[1].get(i) == Approx(r[0].get(i) / 2.0));
    }
    CHECK_THROWS_WITH(dropout(x, 1.5), Catch::Contains("drop probability p = 1.5 is outside [0, 1]"));
}

TEST_CASE("dropout keeps element i of run s exactly when uniform01(seed, node, s·n + i) >= p", "[ops][dropout]") {
    const int64_t n = 4096;
    const double p = 0.37;
    Graph g(42);
    auto x = g.input("x", {n}, DType::F64);
    auto y = dropout(x, p);
    auto prog = compile(g, {y}, CompileOptions{.training = true});
    for (uint64_t step = 0; step < 3; ++step) {
        Tensor yv = prog.run({{x, Tensor::full({n}, 1.0, DType::F64)}})[0];
        for (int64_t i = 0; i < n; ++i) {
            const bool keep = uniform01(42, static_cast<uint64_t>(y.node), step * n + static_cast<uint64_t>(i)) >= p;
            REQUIRE(yv.get(i) == (keep ? 1.0 / (1.0 - p) : 0.0));
        }
    }
}
