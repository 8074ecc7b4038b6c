// compile() and run(): feeds and fetches, errors, arena reuse across runs, numerics checks.
#include <catch2/catch.hpp>

#include <cmath>

#include "graphgrad/ops/ops.h"

using namespace gg;
using Catch::Matchers::Contains;

TEST_CASE("a compiled graph runs many times with different feeds", "[executor]") {
    Graph g;
    auto x = g.input("x", {2, 2});
    auto w = g.parameter("w", {2, 2}, init::constant(1.0));
    auto y = matmul(x, w) + 1.0;
    auto prog = compile(g, {y});
    auto a = prog.run({{x, Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2})}});
    CHECK(a[0].to_doubles() == std::vector<double>{4, 4, 8, 8});
    auto b = prog.run({{x, Tensor::from_vector<float>({0, 0, 1, 0}, {2, 2})}});
    CHECK(b[0].to_doubles() == std::vector<double>{1, 1, 2, 2});
    CHECK(prog.runs() == 2);
}

TEST_CASE("results live in the arena that is kept across runs", "[executor]") {
    Graph g;
    auto x = g.input("x", {8});
    auto y = tanh(exp(x));
    auto prog = compile(g, {y});
    Tensor xv = Tensor::zeros({8});
    const void* first = prog.run({{x, xv}})[0].raw();
    const void* second = prog.run({{x, xv}})[0].raw();
    CHECK(first == second);  // no allocation per run
}

TEST_CASE("parameters are shared: updating the store changes the next run", "[executor]") {
    Graph g;
    auto w = g.parameter("w", {3}, init::constant(2.0));
    auto y = w * 3.0;
    auto prog = compile(g, {y});
    CHECK(prog.run()[0].to_doubles() == std::vector<double>{6, 6, 6});
    g.store().get("w").fill(1.0);
    CHECK(prog.run()[0].to_doubles() == std::vector<double>{3, 3, 3});
}

TEST_CASE("feed errors are clear", "[executor]") {
    Graph g, other;
    auto x = g.input("x", {2, 3});
    auto w = g.parameter("w", {3});
    auto y = sum(x * w);
    auto prog = compile(g, {y});
    CHECK_THROWS_WITH(prog.run(), Contains("missing feed") && Contains("\"x\"") && Contains("f32[2,3]"));
    CHECK_THROWS_WITH(prog.run({{x, Tensor::zeros({3, 2})}}), Contains("\"x\"") && Contains("f32[3,2]") && Contains("f32[2,3]"));
    CHECK_THROWS_WITH(prog.run({{x, Tensor::zeros({2, 3}, DType::F64)}}), Contains("f64[2,3]"));
    CHECK_THROWS_WITH(prog.run({{x, Tensor::zeros({2, 3})}, {w, Tensor::zeros({3})}}), Contains("only inputs can be fed"));
    auto z = other.input("z", {2, 3});
    CHECK_THROWS_WITH(prog.run({{z, Tensor::zeros({2, 3})}}), Contains("another graph"));
    CHECK_THROWS_WITH(compile(g, {z}), Contains("another graph"));
}

TEST_CASE("check_numerics names the first node that produces NaN or Inf", "[executor]") {
    Graph g;
    auto x = g.input("x", {3});
    auto y = sqrt(x);
    auto z = y * 2.0;
    CompileOptions opts;
    opts.check_numerics = true;
    auto prog = compile(g, {z}, opts);
    CHECK_NOTHROW(prog.run({{x, Tensor::from_vector<float>({1, 4, 9}, {3})}}));
    CHECK_THROWS_WITH(prog.run({{x, Tensor::from_vector<float>({1, -4, 9}, {3})}}),
                      Contains("sqrt") && Contains(y.name()) && Contains("index 1"));
}

TEST_CASE("fetching inputs, parameters and constants returns their values", "[executor]") {
    Graph g;
    auto x = g.input("x", {2});
    auto w = g.parameter("w", {2}, init::constant(5.0));
    auto c = g.constant(Tensor::from_vector<float>({7, 8}, {2}));
    auto prog = compile(g, {x, w, c, x + c});
    auto out = prog.run({{x, Tensor::from_vector<float>({1, 2}, {2})}});
    CHECK(out[0].to_doubles() == std::vector<double>{1, 2});
    CHECK(out[1].to_doubles() == std::vector<double>{5, 5});
    CHECK(out[2].to_doubles() == std::vector<double>{7, 8});
    CHECK(out[3].to_doubles() == std::vector<double>{8, 10});
}

TEST_CASE("the planned arena of a long chain is far below the sum of its values", "[executor][planner]") {
    Graph g;
    auto x = g.input("x", {1024});
    Value h = x;
    for (int i = 0; i < 50; ++i) h = tanh(h * 1.01);
    auto prog = compile(g, {h});
    const auto& plan = prog.memory_plan();
    CHECK(plan.arena_bytes < plan.total_bytes / 10);
    CHECK(prog.peak_bytes() == plan.arena_bytes);
    // And the result is still right after all that reuse.
    auto out = prog.run({{x, Tensor::full({1024}, 0.5)}});
    double ref = 0.5;
    for (int i = 0; i < 50; ++i) ref = std::tanh(static_cast<float>(ref * 1.01));
    CHECK(out[0].get(17) == Approx(ref).epsilon(1e-4));
}

TEST_CASE("training mode follows the presence of gradient nodes unless overridden", "[executor]") {
    Graph g;
    auto w = g.parameter("w", {2}, init::ones());
    auto loss = sum(w * w);
    auto dw = grad(loss, {w})[0];
    CHECK_FALSE(compile(g, {loss}).training());
    CHECK(compile(g, {loss, dw}).training());
    CompileOptions eval;
    eval.training = false;
    CHECK_FALSE(compile(g, {loss, dw}, eval).training());
}
