// Behaviour tests of the elementwise, activation and broadcast families: values against
// hand-computed expectations (the registry-driven tests cover shapes, errors and gradcheck).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "graphgrad/ops/ops.h"
#include "test_support.h"

namespace {

using gg::DType;
using gg::Tensor;
using gg::Value;

// Runs the graph once and returns each fetch as doubles.
std::vector<std::vector<double>> eval(gg::Graph& g, const std::vector<Value>& outs, const gg::Feeds& feeds = {},
                                      gg::CompileOptions opts = {}) {
    auto program = gg::compile(g, outs, opts);
    std::vector<std::vector<double>> result;
    for (const Tensor& t : program.run(feeds)) result.push_back(t.to_doubles());
    return result;
}

void require_near(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-6) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
        CHECK(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i])));
    }
}

Tensor f32(std::vector<float> v, gg::Shape s) { return Tensor::from_vector<float>(v, std::move(s)); }
Tensor f64(std::vector<double> v, gg::Shape s) { return Tensor::from_vector<double>(v, std::move(s)); }

}  // namespace

TEST_CASE("broadcast_shapes follows NumPy rules", "[ops][elementwise]") {
    CHECK(gg::broadcast_shapes({2, 1}, {3}) == gg::Shape{2, 3});
    CHECK(gg::broadcast_shapes({}, {4, 5}) == gg::Shape{4, 5});
    CHECK(gg::broadcast_shapes({5, 1, 3}, {4, 1}) == gg::Shape{5, 4, 3});
    CHECK_THROWS_AS(gg::broadcast_shapes({2, 3}, {3, 2}), gg::ShapeError);
    CHECK_THROWS_WITH(gg::broadcast_shapes({2, 3}, {4}), Catch::Contains("[2,3]") && Catch::Contains("[4]"));
}

TEST_CASE("binary builders broadcast 2x1 with 3", "[ops][elementwise]") {
    gg::Graph g;
    Value a = g.input("a", {2, 1});
    Value b = g.input("b", {3});
    auto out = eval(g, {a + b, a - b, a * b, b / a},
                    {{a, f32({1, 2}, {2, 1})}, {b, f32({10, 20, 30}, {3})}});
    require_near(out[0], {11, 21, 31, 12, 22, 32});
    require_near(out[1], {-9, -19, -29, -8, -18, -28});
    require_near(out[2], {10, 20, 30, 20, 40, 60});
    require_near(out[3], {10, 20, 30, 5, 10, 15});
}

TEST_CASE("same-shape builders add no broadcast nodes", "[ops][elementwise]") {
    gg::Graph g;
    Value a = g.input("a", {2, 3});
    Value b = g.input("b", {2, 3});
    const int before = g.num_nodes();
    Value c = a * b;
    CHECK(g.num_nodes() == before + 1);
    CHECK(c.producer().op_name() == "mul");
    CHECK(gg::broadcast_to(a, {2, 3}) == a);
    CHECK(gg::sum_to(a, {2, 3}) == a);
}

TEST_CASE("operators with scalars", "[ops][elementwise]") {
    gg::Graph g;
    Value x = g.input("x", {3}, DType::F64);
    auto out = eval(g, {x * 2.0, 2.0 * x, x + 1.0, 1.0 + x, x - 1.0, 1.0 - x, x / 4.0, 4.0 / x, -x, gg::pow(x, 2.0)},
                    {{x, f64({1, 2, 4}, {3})}});
    require_near(out[0], {2, 4, 8});
    require_near(out[1], {2, 4, 8});
    require_near(out[2], {2, 3, 5});
    require_near(out[3], {2, 3, 5});
    require_near(out[4], {0, 1, 3});
    require_near(out[5], {0, -1, -3});
    require_near(out[6], {0.25, 0.5, 1});
    require_near(out[7], {4, 2, 1});
    require_near(out[8], {-1, -2, -4});
    require_near(out[9], {1, 4, 16});
    CHECK((x * 2.0).dtype() == DType::F64);
}

TEST_CASE("unary math", "[ops][elementwise]") {
    gg::Graph g;
    Value x = g.input("x", {4}, DType::F64);
    std::vector<double> v = {0.25, 1.0, 2.0, 9.0};
    auto out = eval(g, {gg::exp(x), gg::log(x), gg::sqrt(x), gg::abs(-x), gg::tanh(x)}, {{x, f64(v, {4})}});
    for (std::size_t i = 0; i < v.size(); ++i) {
        CHECK(out[0][i] == Approx(std::exp(v[i])));
        CHECK(out[1][i] == Approx(std::log(v[i])));
        CHECK(out[2][i] == Approx(std::sqrt(v[i])));
        CHECK(out[3][i] == Approx(v[i]));
        CHECK(out[4][i] == Approx(std::tanh(v[i])));
    }
}

TEST_CASE("sigmoid is finite and exact at large |x|", "[ops][elementwise]") {
    for (DType dt : {DType::F32, DType::F64}) {
        gg::Graph g;
        Value x = g.input("x", {5}, dt);
        Tensor feed = f64({-1000, -50, 0, 50, 1000}, {5}).cast(dt);
        auto y = eval(g, {gg::sigmoid(x)}, {{x, feed}})[0];
        for (double v : y) CHECK(std::isfinite(v));
        CHECK(y[0] == 0.0);
        CHECK(y[1] == Approx(std::exp(-50.0)).epsilon(1e-5));
        CHECK(y[1] > 0.0);
        CHECK(y[2] == 0.5);
        CHECK(y[3] == 1.0);
        CHECK(y[4] == 1.0);
    }
}

TEST_CASE("activations: relu, leaky_relu, gelu", "[ops][elementwise]") {
    gg::Graph g;
    Value x = g.input("x", {5}, DType::F64);
    std::vector<double> v = {-3.0, -0.5, 0.0, 0.7, 2.5};
    auto out = eval(g, {gg::relu(x), gg::leaky_relu(x, 0.1), gg::leaky_relu(x), gg::gelu(x, gg::GeluApproximation::Tanh), gg::gelu(x)},
                    {{x, f64(v, {5})}});
    require_near(out[0], {0, 0, 0, 0.7, 2.5});
    require_near(out[1], {-0.3, -0.05, 0, 0.7, 2.5});
    require_near(out[2], {-0.03, -0.005, 0, 0.7, 2.5});
    for (std::size_t i = 0; i < v.size(); ++i) {
        const double x0 = v[i];
        const double want = 0.5 * x0 * (1 + std::tanh(std::sqrt(2 / M_PI) * (x0 + 0.044715 * x0 * x0 * x0)));
        CHECK(out[3][i] == Approx(want).margin(1e-12));
    }
    CHECK(out[3][4] == Approx(2.4849157).epsilon(1e-6));  // tanh form
    // The default is PyTorch's exact form x·Φ(x): torch.nn.functional.gelu(2.5) = 2.4844758.
    for (std::size_t i = 0; i < v.size(); ++i) CHECK(out[4][i] == Approx(0.5 * v[i] * (1 + std::erf(v[i] / std::sqrt(2.0)))).margin(1e-12));
    CHECK(out[4][4] == Approx(2.4844758).epsilon(1e-7));
    CHECK(out[4][1] == Approx(-0.1542687).epsilon(1e-6));  // gelu(-0.5)
}

TEST_CASE("pow, maximum, minimum", "[ops][elementwise]") {
    gg::Graph g;
    Value a = g.input("a", {4}, DType::F64);
    Value b = g.input("b", {4}, DType::F64);
    auto out = eval(g, {gg::pow(a, b), gg::maximum(a, b), gg::minimum(a, b)},
                    {{a, f64({2, 4, 9, 0.5}, {4})}, {b, f64({3, 0.5, -1, 2}, {4})}});
    require_near(out[0], {8, 2, 1.0 / 9, 0.25});
    require_near(out[1], {3, 4, 9, 2});
    require_near(out[2], {2, 0.5, -1, 0.5});
}

TEST_CASE("comparisons give 0/1 in the input dtype", "[ops][elementwise]") {
    gg::Graph g;
    Value a = g.input("a", {4});
    Value b = g.input("b", {4});
    std::vector<Value> outs = {gg::equal(a, b),   gg::not_equal(a, b),     gg::less(a, b),
                               gg::less_equal(a, b), gg::greater(a, b), gg::greater_equal(a, b),
                               gg::greater(a, 1.5),  gg::less(a, 1.5)};
    for (const Value& o : outs) CHECK(o.dtype() == DType::F32);
    auto out = eval(g, outs, {{a, f32({1, 2, 3, 4}, {4})}, {b, f32({1, 3, 2, 4}, {4})}});
    require_near(out[0], {1, 0, 0, 1});
    require_near(out[1], {0, 1, 1, 0});
    require_near(out[2], {0, 1, 0, 0});
    require_near(out[3], {1, 1, 0, 1});
    require_near(out[4], {0, 0, 1, 0});
    require_near(out[5], {1, 0, 1, 1});
    require_near(out[6], {0, 1, 1, 1});
    require_near(out[7], {1, 0, 0, 0});

    gg::Graph gi;  // integer labels compare too (accuracy)
    Value p = gi.input("p", {3}, DType::I64);
    Value l = gi.input("l", {3}, DType::I64);
    auto hits = eval(gi, {gg::equal(p, l)},
                     {{p, Tensor::from_vector<int64_t>({1, 2, 3}, {3})}, {l, Tensor::from_vector<int64_t>({1, 0, 3}, {3})}});
    require_near(hits[0], {1, 0, 1});
}

TEST_CASE("where selects and broadcasts", "[ops][elementwise]") {
    gg::Graph g;
    Value x = g.input("x", {2, 3});
    Value c = g.input("c", {3}, DType::I64);
    Value y1 = gg::where(gg::greater(x, 0.0), x, 0.5 * x);  // the leaky-relu idiom
    Value y2 = gg::where(c, x, gg::scalar_like(x, -1.0));  // i64 cond, scalar b
    auto out = eval(g, {y1, y2},
                    {{x, f32({-2, 1, 3, -4, 0.5, -1}, {2, 3})}, {c, Tensor::from_vector<int64_t>({0, 7, -1}, {3})}});
    require_near(out[0], {-1, 1, 3, -2, 0.5, -0.5});
    require_near(out[1], {-1, 1, 3, -1, 0.5, -1});
}

TEST_CASE("broadcast_to and sum_to values", "[ops][elementwise]") {
    gg::Graph g;
    Value x = g.input("x", {3, 1}, DType::F64);
    Value s = g.input("s", {}, DType::F64);
    Value big = g.input("big", {2, 3, 4}, DType::F64);
    std::vector<double> bv(24);
    for (int i = 0; i < 24; ++i) bv[static_cast<std::size_t>(i)] = i;
    auto out = eval(g,
                    {gg::broadcast_to(x, {2, 3, 2}), gg::broadcast_to(s, {2, 2}), gg::sum_to(big, {3, 1}),
                     gg::sum_to(big, {4}), gg::sum_to(big, {}), gg::sum_to(big, {2, 1, 4}), gg::sum_to(big, {2, 3, 1})},
                    {{x, f64({1, 2, 3}, {3, 1})}, {s, f64({7}, {})}, {big, f64(bv, {2, 3, 4})}});
    require_near(out[0], {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
    require_near(out[1], {7, 7, 7, 7});
    // big[i,j,k] = 12i + 4j + k
    require_near(out[2], {60, 92, 124});  // Σ_i,k = 60 + 32j
    require_near(out[3], {60, 66, 72, 78});  // Σ_i,j = 60 + 6k
    require_near(out[4], {276});
    require_near(out[5], {12, 15, 18, 21, 48, 51, 54, 57});
    require_near(out[6], {6, 22, 38, 54, 70, 86});
}

TEST_CASE("broadcast_to and sum_to are exact on large tensors (parallel paths)", "[ops][elementwise]") {
    gg::testing::ScopedThreads threads(2);
    REQUIRE(threads.is_parallel());
    const int64_t n = 300, c = 257;  // above kParallelGrain, odd sizes split across threads
    gg::Graph g;
    Value b = g.input("b", {c}, DType::F64);
    Value col = g.input("col", {n, 1}, DType::F64);
    Value m = g.input("m", {n, c}, DType::F64);
    std::vector<double> bv(static_cast<std::size_t>(c)), cv(static_cast<std::size_t>(n)), mv(static_cast<std::size_t>(n * c));
    for (int64_t j = 0; j < c; ++j) bv[static_cast<std::size_t>(j)] = static_cast<double>(j);
    for (int64_t i = 0; i < n; ++i) cv[static_cast<std::size_t>(i)] = static_cast<double>(1000 * i);
    for (int64_t i = 0; i < n * c; ++i) mv[static_cast<std::size_t>(i)] = static_cast<double>(i % 7);
    auto out = eval(g, {gg::broadcast_to(b, {n, c}) + col, gg::sum_to(m, {c}), gg::sum_to(m, {n, 1}), gg::sum_to(m, {})},
                    {{b, f64(bv, {c})}, {col, f64(cv, {n, 1})}, {m, f64(mv, {n, c})}});
    bool ok = true;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < c; ++j) ok = ok && out[0][static_cast<std::size_t>(i * c + j)] == 1000.0 * i + j;
    CHECK(ok);
    std::vector<double> cols(static_cast<std::size_t>(c), 0), rows(static_cast<std::size_t>(n), 0);
    double total = 0;
    for (int64_t i = 0; i < n * c; ++i) {
        cols[static_cast<std::size_t>(i % c)] += mv[static_cast<std::size_t>(i)];
        rows[static_cast<std::size_t>(i / c)] += mv[static_cast<std::size_t>(i)];
        total += mv[static_cast<std::size_t>(i)];
    }
    CHECK(out[1] == cols);
    CHECK(out[2] == rows);
    CHECK(out[3][0] == total);
}

TEST_CASE("builder errors name the op and both shapes", "[ops][elementwise]") {
    gg::Graph g;
    Value a = g.input("a", {2, 3});
    Value b = g.input("b", {3, 2});
    Value d = g.input("d", {2, 3}, DType::F64);
    Value i = g.input("i", {2, 3}, DType::I64);
    CHECK_THROWS_WITH(a + b, Catch::Contains("add") && Catch::Contains("[2,3]") && Catch::Contains("[3,2]"));
    CHECK_THROWS_WITH(a * d, Catch::Contains("mul") && Catch::Contains("dtypes differ: f32 vs f64"));
    CHECK_THROWS_WITH(gg::exp(i), Catch::Contains("exp") && Catch::Contains("must be floating point"));
    CHECK_THROWS_WITH(gg::broadcast_to(a, {4, 3}), Catch::Contains("cannot broadcast [2,3] to [4,3]"));
    CHECK_THROWS_AS(gg::sum_to(a, {2}), gg::GraphError);
}

TEST_CASE("gradients through broadcasting", "[ops][elementwise][grad]") {
    gg::Graph g;
    Value x = g.input("x", {2, 3}, DType::F64);
    Value b = g.input("b", {3}, DType::F64);
    Value s = g.input("s", {}, DType::F64);
    Value y = x * b + s * x;          // b and s broadcast
    Value loss = gg::sum_to(y * y, {});  // Σ y²
    auto grads = gg::grad(loss, {x, b, s});
    Tensor xv = f64({1, 2, 3, -1, 0.5, 2}, {2, 3}), bv = f64({0.5, -1, 2}, {3}), sv = f64({0.25}, {});
    auto out = eval(g, {grads[0], grads[1], grads[2]}, {{x, xv}, {b, bv}, {s, sv}});
    // y = x·(b + s); dL/dx = 2y·(b + s); dL/db = Σ_rows 2y·x; dL/ds = Σ 2y·x
    std::vector<double> dx(6), db(3, 0);
    double ds = 0;
    for (int i = 0; i < 6; ++i) {
        const double xi = xv.get(i), k = bv.get(i % 3) + sv.get(0), yi = xi * k;
        dx[static_cast<std::size_t>(i)] = 2 * yi * k;
        db[static_cast<std::size_t>(i % 3)] += 2 * yi * xi;
        ds += 2 * yi * xi;
    }
    require_near(out[0], dx);
    require_near(out[1], db);
    require_near(out[2], {ds});
}

TEST_CASE("unary and activation gradients match hand derivatives", "[ops][elementwise][grad]") {
    gg::Graph g;
    Value x = g.input("x", {4}, DType::F64);
    std::vector<double> v = {-1.5, -0.3, 0.4, 2.0};
    auto total = [](Value y) { return gg::sum_to(y, {}); };
    std::vector<Value> fetch;
    for (Value y : {gg::tanh(x), gg::sigmoid(x), gg::leaky_relu(x, 0.2), gg::gelu(x, gg::GeluApproximation::Tanh), gg::abs(x), x * x,
                    gg::gelu(x), gg::erf(x)})
        fetch.push_back(gg::grad(total(y), {x})[0]);
    auto out = eval(g, fetch, {{x, f64(v, {4})}});
    for (std::size_t i = 0; i < v.size(); ++i) {
        const double t = std::tanh(v[i]), s = 1 / (1 + std::exp(-v[i]));
        CHECK(out[0][i] == Approx(1 - t * t));
        CHECK(out[1][i] == Approx(s * (1 - s)));
        CHECK(out[2][i] == Approx(v[i] > 0 ? 1.0 : 0.2));
        const double h = 1e-6;
        auto gelu = [](double z) { return 0.5 * z * (1 + std::tanh(std::sqrt(2 / M_PI) * (z + 0.044715 * z * z * z))); };
        CHECK(out[3][i] == Approx((gelu(v[i] + h) - gelu(v[i] - h)) / (2 * h)).epsilon(1e-6));
        CHECK(out[4][i] == (v[i] > 0 ? 1.0 : -1.0));
        CHECK(out[5][i] == Approx(2 * v[i]));
        const double phi = std::exp(-0.5 * v[i] * v[i]) / std::sqrt(2 * M_PI), cdf = 0.5 * (1 + std::erf(v[i] / std::sqrt(2.0)));
        CHECK(out[6][i] == Approx(cdf + v[i] * phi));                                       // exact gelu
        CHECK(out[7][i] == Approx(2 / std::sqrt(M_PI) * std::exp(-v[i] * v[i])));          // erf
    }
}

TEST_CASE("second order: d²/dx² of tanh and gelu", "[ops][elementwise][grad]") {
    gg::Graph g;
    Value x = g.input("x", {3}, DType::F64);
    Value dtanh = gg::grad(gg::sum_to(gg::tanh(x), {}), {x})[0];
    Value d2tanh = gg::grad(gg::sum_to(dtanh, {}), {x})[0];
    Value dgelu = gg::grad(gg::sum_to(gg::gelu(x, gg::GeluApproximation::Tanh), {}), {x})[0];
    Value d2gelu = gg::grad(gg::sum_to(dgelu, {}), {x})[0];
    Value d_exact = gg::grad(gg::sum_to(gg::gelu(x), {}), {x})[0];
    Value d2_exact = gg::grad(gg::sum_to(d_exact, {}), {x})[0];
    std::vector<double> v = {-1.0, 0.2, 1.7};
    auto out = eval(g, {d2tanh, dgelu, d2gelu, d2_exact}, {{x, f64(v, {3})}});
    for (std::size_t i = 0; i < v.size(); ++i) {
        const double t = std::tanh(v[i]);
        CHECK(out[0][i] == Approx(-2 * t * (1 - t * t)));
        const double phi = std::exp(-0.5 * v[i] * v[i]) / std::sqrt(2 * M_PI);
        CHECK(out[3][i] == Approx(phi * (2 - v[i] * v[i])));  // d²/dx² x·Φ(x) = φ(x)·(2 − x²)
    }
    // Central differences of the first derivative, evaluated by the graph itself.
    const double h = 1e-5;
    auto shifted = [&](double d) {
        std::vector<double> w = v;
        for (double& e : w) e += d;
        return eval(g, {dgelu}, {{x, f64(w, {3})}})[0];
    };
    auto up = shifted(h), down = shifted(-h);
    for (std::size_t i = 0; i < v.size(); ++i) CHECK(out[2][i] == Approx((up[i] - down[i]) / (2 * h)).epsilon(1e-5));
}

TEST_CASE("in-place elementwise chains keep their values", "[ops][elementwise]") {
    gg::Graph g;
    Value x = g.input("x", {4}, DType::F64);
    Value y = gg::exp(gg::neg(gg::abs(x * 2.0))) + 1.0;  // each step may reuse the last buffer
    auto with = eval(g, {y}, {{x, f64({-1, 0.5, 2, 0}, {4})}});
    gg::CompileOptions no_inplace;
    no_inplace.inplace = false;
    auto without = eval(g, {y}, {{x, f64({-1, 0.5, 2, 0}, {4})}}, no_inplace);
    CHECK(with == without);
    require_near(with[0], {std::exp(-2.0) + 1, std::exp(-1.0) + 1, std::exp(-4.0) + 1, 2});
}

TEST_CASE("tanh and sigmoid: the vectorised f32 kernels stay within a few ulp of libm in double",
          "[ops][elementwise]") {
    // A dense sweep through both of tanh's branches (|x| < 0.625 and above), the tails where
    // the results round to ±1 or underflow, tiny values, both zeros, infinities and NaN; 1003
    // values, so the last 3 run through the padded tail vector.
    std::vector<float> xs;
    for (int i = 0; i < 980; ++i) xs.push_back(-30.0f + 60.0f * static_cast<float>(i) / 979.0f);
    for (float v : {0.0f, -0.0f, 1e-30f, -1e-20f, 1e-6f, 0.6249999f, 0.625f, -0.625f, 0.6250001f, 9.0f, 44.0f, 89.0f,
                    -89.0f, 1e4f, -1e4f, INFINITY, -INFINITY, NAN, 0.1f, -0.3f, 2.5f, -7.0f, 0.5f})
        xs.push_back(v);
    REQUIRE(xs.size() == 1003);
    const auto n = static_cast<int64_t>(xs.size());
    gg::Graph g;
    Value x = g.input("x", {n});
    Value th = gg::tanh(x), sg = gg::sigmoid(x);
    gg::CompiledGraph step = gg::compile(g, {th, sg});
    CHECK(step.compile_report().lower.fast_kernels == 2);  // the vectorised kernels ran
    const std::vector<Tensor> out = step.run({{x, Tensor::from_vector<float>(xs, {n})}});
    for (int64_t i = 0; i < n; ++i) {
        const double v = xs[static_cast<std::size_t>(i)];
        const double want_t = std::tanh(v), want_s = 1.0 / (1.0 + std::exp(-v));
        const double got_t = out[0].get(i), got_s = out[1].get(i);
        INFO("x = " << v << ": tanh " << got_t << " vs " << want_t << ", sigmoid " << got_s << " vs " << want_s);
        if (std::isnan(v)) {
            CHECK(std::isnan(got_t));
            CHECK(std::isnan(got_s));
            continue;
        }
        // 4 ulp of float relative, or below float's smallest normal in absolute terms.
        CHECK(std::abs(got_t - want_t) <= 4.8e-7 * std::abs(want_t) + 1.2e-38);
        CHECK(std::abs(got_s - want_s) <= 4.8e-7 * std::abs(want_s) + 1.2e-38);
        CHECK(std::signbit(got_t) == std::signbit(want_t));  // tanh(−0) = −0
    }
}
