// PyTorch 1.13's conventions at kinks, ties and NaN, where gradcheck cannot look (its samples
// stay away from kinks): values and gradients of abs, relu, leaky_relu, maximum, minimum, pow
// at base 0 and max-pool ties, each in f32 and f64, on the fast and the reference kernels.
// The expected numbers are what torch 1.13 returns for the same inputs (sign(NaN) = 0 in
// torch, so abs'(NaN) = 0; relu's gradient is threshold_backward on the output, so dy passes
// where the output is NaN).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "graphgrad/ops/ops.h"

namespace {

using gg::DType;
using gg::Tensor;
using gg::Value;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor tensor(const std::vector<double>& v, DType dtype, gg::Shape shape = {}) {
    if (shape.empty()) shape = {static_cast<int64_t>(v.size())};
    Tensor t = Tensor::zeros(shape, dtype);
    for (std::size_t i = 0; i < v.size(); ++i) t.set(static_cast<int64_t>(i), v[i]);
    return t;
}

// Equal as numbers, both NaN, or both the same infinity; the sign of a zero is not compared.
void require_same(const std::vector<double>& got, const std::vector<double>& want, const char* what) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO(what << " element " << i << ": got " << got[i] << ", want " << want[i]);
        if (std::isnan(want[i])) CHECK(std::isnan(got[i]));
        else if (std::isinf(want[i])) CHECK(got[i] == want[i]);
        else CHECK(got[i] == Approx(want[i]).margin(1e-6));
    }
}

struct Variant {
    DType dtype;
    bool reference;
};
const Variant kVariants[] = {{DType::F32, false}, {DType::F32, true}, {DType::F64, false}, {DType::F64, true}};

// y = f(x) and dL/dx for L = Σ y, on the given inputs.
void check_unary(Value (*f)(Value), const std::vector<double>& x, const std::vector<double>& y,
                 const std::vector<double>& dx) {
    for (const Variant& v : kVariants) {
        INFO("dtype " << gg::dtype_name(v.dtype) << (v.reference ? ", reference kernels" : ", fast kernels"));
        gg::Graph g;
        Value in = g.input("x", {static_cast<int64_t>(x.size())}, v.dtype);
        Value out = f(in);
        Value grad = gg::grad(gg::sum(out), {in})[0];
        auto r = gg::compile(g, {out, grad}, {.reference_kernels = v.reference}).run({{in, tensor(x, v.dtype)}});
        require_same(r[0].to_doubles(), y, "value");
        require_same(r[1].to_doubles(), dx, "gradient");
    }
}

// y = f(a, b), dL/da and dL/db for L = Σ y.
void check_binary(Value (*f)(Value, Value), const std::vector<double>& a, const std::vector<double>& b,
                  const std::vector<double>& y, const std::vector<double>& da, const std::vector<double>& db) {
    for (const Variant& v : kVariants) {
        INFO("dtype " << gg::dtype_name(v.dtype) << (v.reference ? ", reference kernels" : ", fast kernels"));
        gg::Graph g;
        const int64_t n = static_cast<int64_t>(a.size());
        Value ia = g.input("a", {n}, v.dtype), ib = g.input("b", {n}, v.dtype);
        Value out = f(ia, ib);
        auto grads = gg::grad(gg::sum(out), {ia, ib});
        auto r = gg::compile(g, {out, grads[0], grads[1]}, {.reference_kernels = v.reference})
                     .run({{ia, tensor(a, v.dtype)}, {ib, tensor(b, v.dtype)}});
        require_same(r[0].to_doubles(), y, "value");
        require_same(r[1].to_doubles(), da, "gradient of a");
        require_same(r[2].to_doubles(), db, "gradient of b");
    }
}

Value leaky(Value x) { return gg::leaky_relu(x, 0.1); }

}  // namespace

TEST_CASE("abs: zero subgradient at ±0, sign(NaN) = 0 as torch", "[ops][conventions]") {
    check_unary(gg::abs, {-2, -0.0, 0.0, 3, kNaN}, {2, 0, 0, 3, kNaN}, {-1, 0, 0, 1, 0});
}

TEST_CASE("relu propagates NaN; its gradient is 0 at 0 and dy where the output is NaN", "[ops][conventions]") {
    check_unary(gg::relu, {-1, -0.0, 0.0, 2, kNaN, -kInf}, {0, 0, 0, 2, kNaN, 0}, {0, 0, 0, 1, 1, 0});
}

TEST_CASE("leaky_relu propagates NaN; 0 and NaN take the negative slope", "[ops][conventions]") {
    check_unary(leaky, {-1, 0.0, 2, kNaN}, {-0.1, 0, 2, kNaN}, {0.1, 0.1, 1, 0.1});
}

TEST_CASE("relu's gradient through batch_norm's fused relu keeps torch's kink", "[ops][conventions]") {
    // relu_backward is also what the fused batch_norm(relu) rule emits: dy · [not y ≤ 0].
    gg::Graph g;
    Value dy = g.input("dy", {4}, DType::F64), y = g.input("y", {4}, DType::F64);
    auto r = gg::compile(g, {gg::relu_backward(dy, y)}).run({{dy, tensor({5, 6, 7, 8}, DType::F64)},
                                                              {y, tensor({0, -1, kNaN, 2}, DType::F64)}});
    require_same(r[0].to_doubles(), {0, 0, 7, 8}, "relu_backward");
}

TEST_CASE("maximum and minimum: NaN from either side, ties split the gradient", "[ops][conventions]") {
    const std::vector<double> a = {1, 2, kNaN, 1, 3, -0.0}, b = {1, 1, 1, kNaN, 5, 0.0};
    check_binary(gg::maximum, a, b, {1, 2, kNaN, kNaN, 5, 0}, {0.5, 1, 1, 1, 0, 0.5}, {0.5, 0, 1, 1, 1, 0.5});
    check_binary(gg::minimum, a, b, {1, 1, kNaN, kNaN, 3, 0}, {0.5, 0, 1, 1, 1, 0.5}, {0.5, 1, 1, 1, 0, 0.5});
}

TEST_CASE("pow at base 0 masks the 0·inf gradients as torch", "[ops][conventions]") {
    // da = 0 where b = 0; db = 0 where a = 0 and b ≥ 0; a negative exponent keeps its infinities.
    const std::vector<double> a = {0, 0, 0, 2, 0}, b = {0, 2, 0.5, 3, -1};
    check_binary([](Value x, Value e) { return gg::pow(x, e); }, a, b, {1, 0, 0, 8, kInf}, {0, 0, kInf, 12, -kInf},
                 {0, 0, 0, 8 * std::log(2.0), -kInf});
}

TEST_CASE("max_pool2d ties and NaN: the first maximum of the window takes the gradient", "[ops][conventions]") {
    for (const Variant& v : kVariants) {
        INFO("dtype " << gg::dtype_name(v.dtype) << (v.reference ? ", reference kernels" : ", fast kernels"));
        gg::Graph g;
        Value x = g.input("x", {1, 1, 2, 4}, v.dtype);
        Value y = gg::max_pool2d(x, {.kernel = {2, 2}});
        Value dx = gg::grad(gg::sum(y), {x})[0];
        Tensor xv = tensor({3, 3, 1, kNaN, 3, 3, kNaN, 1}, v.dtype, {1, 1, 2, 4});
        auto r = gg::compile(g, {y, dx}, {.reference_kernels = v.reference}).run({{x, xv}});
        require_same(r[0].to_doubles(), {3, kNaN}, "value");
        // Row-major scan: the tie goes to (0, 0); of two NaNs the first, (0, 3), wins.
        require_same(r[1].to_doubles(), {1, 0, 0, 1, 0, 0, 0, 0}, "gradient");
    }
}
