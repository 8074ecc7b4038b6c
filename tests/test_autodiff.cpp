// grad(): fan-out accumulation, unconnected inputs, rule checks, and second order (a
// Hessian-vector product of a small tanh MLP against finite differences of the gradient).
#include <catch2/catch.hpp>

#include <cmath>

#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/ops/ops.h"

using namespace gg;
using Catch::Matchers::Contains;

namespace {
Tensor random_tensor(Shape s, uint64_t seed, DType dt = DType::F64) {
    Tensor t(TensorDesc{std::move(s), dt});
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, standard_normal(seed, 3, static_cast<uint64_t>(i)));
    return t;
}
}  // namespace

TEST_CASE("fan-out gradients accumulate", "[autodiff]") {
    Graph g;
    auto x = g.input("x", {3}, DType::F64);
    auto y = sum(x * x + exp(x) + x);  // dy/dx = 2x + eᵡ + 1: x is used four times
    auto dx = grad(y, {x})[0];
    auto prog = compile(g, {dx});
    Tensor xv = Tensor::from_vector<double>({-1.0, 0.5, 2.0}, {3});
    auto out = prog.run({{x, xv}});
    for (int i = 0; i < 3; ++i) CHECK(out[0].get(i) == Approx(2 * xv.get(i) + std::exp(xv.get(i)) + 1));
}

TEST_CASE("a value the loss does not depend on gets a zero gradient", "[autodiff]") {
    Graph g;
    auto x = g.input("x", {2}, DType::F64);
    auto unused = g.parameter("u", {2, 2}, init::ones(), DType::F64);
    auto loss = sum(tanh(x));
    auto grads = grad(loss, {x, unused});
    auto out = compile(g, {grads[1]}).run();
    CHECK(out[0].shape() == Shape{2, 2});
    CHECK(out[0].to_doubles() == std::vector<double>(4, 0.0));
}

TEST_CASE("grad rejects a non-scalar loss and integer targets", "[autodiff]") {
    Graph g;
    auto x = g.input("x", {2});
    auto i = g.input("i", {2}, DType::I64);
    CHECK_THROWS_WITH(grad(tanh(x), {x}), Contains("must be a scalar") && Contains("[2]"));
    CHECK_THROWS_WITH(grad(sum(x), {i}), Contains("cannot differentiate"));
}

TEST_CASE("gradient rules with wrong shapes or no rule are reported by op and node", "[autodiff]") {
    OpRegistry r;  // deliberately broken ops stay out of the registry the generic tests read
    r.define("test_bad_grad")
        .arity(1)
        .describe("test op whose rule returns a wrongly shaped gradient")
        .infer_shape(same_as_input(0))
        .kernel([](const KernelContext&) { return make_kernel([](const KernelArgs&) {}); })
        .gradient([](GradContext& c) { return InputGrads{sum(c.grad_output(0))}; });
    r.define("test_no_grad").arity(1).describe("test op without rule").infer_shape(same_as_input(0));
    Graph g;
    auto x = g.input("x", {3});
    auto y = g.add_node1(r.get("test_bad_grad"), {x}, {}, "bad");
    CHECK_THROWS_WITH(grad(sum(y), {x}), Contains("test_bad_grad") && Contains("\"bad\"") && Contains("f32[]") &&
                                             Contains("f32[3]"));
    auto z = g.add_node1(r.get("test_no_grad"), {x}, {}, "nograd");
    CHECK_THROWS_WITH(grad(sum(z), {x}), Contains("no gradient rule") && Contains("nograd"));
}

TEST_CASE("stop_gradient blocks the gradient", "[autodiff]") {
    Graph g;
    auto x = g.input("x", {2}, DType::F64);
    auto y = sum(x * stop_gradient(x));  // d/dx = stop(x) only
    auto out = compile(g, {grad(y, {x})[0]}).run({{x, Tensor::from_vector<double>({3.0, -2.0}, {2})}});
    CHECK(out[0].to_doubles() == std::vector<double>{3.0, -2.0});
}

TEST_CASE("Hessian-vector product of a tanh MLP matches finite differences of its gradient", "[autodiff][second-order]") {
    Graph g;
    auto x = g.input("x", {5, 4}, DType::F64);
    auto w1 = g.input("w1", {4, 6}, DType::F64);
    auto w2 = g.input("w2", {6, 3}, DType::F64);
    auto v1 = g.input("v1", {4, 6}, DType::F64);
    auto v2 = g.input("v2", {6, 3}, DType::F64);
    auto loss = sum(tanh(matmul(tanh(matmul(x, w1)), w2)));
    auto grads = grad(loss, {w1, w2});
    auto hv = grad(grads, {w1, w2}, {v1, v2});  // H·v
    auto prog = compile(g, {grads[0], grads[1], hv[0], hv[1]});

    Tensor xv = random_tensor({5, 4}, 1), w1v = random_tensor({4, 6}, 2), w2v = random_tensor({6, 3}, 3);
    Tensor v1v = random_tensor({4, 6}, 4), v2v = random_tensor({6, 3}, 5);
    auto at = [&](double t) {
        Tensor a = w1v.clone(), b = w2v.clone();
        for (int64_t i = 0; i < a.numel(); ++i) a.set(i, a.get(i) + t * v1v.get(i));
        for (int64_t i = 0; i < b.numel(); ++i) b.set(i, b.get(i) + t * v2v.get(i));
        auto out = prog.run({{x, xv}, {w1, a}, {w2, b}, {v1, v1v}, {v2, v2v}});
        std::vector<Tensor> kept;
        for (auto& o : out) kept.push_back(o.clone());
        return kept;
    };
    auto base = at(0.0);
    const double eps = 1e-6;  // error O(eps²)·f''' ≈ 1e-9, roundoff ≈ 1e-16/eps
    auto plus = at(eps), minus = at(-eps);
    for (int k = 0; k < 2; ++k)
        for (int64_t i = 0; i < base[static_cast<std::size_t>(k)].numel(); ++i) {
            double fd = (plus[static_cast<std::size_t>(k)].get(i) - minus[static_cast<std::size_t>(k)].get(i)) / (2 * eps);
            double analytic = base[static_cast<std::size_t>(k) + 2].get(i);
            INFO("param " << k << " index " << i);
            CHECK(analytic == Approx(fd).epsilon(1e-6).margin(1e-7));
        }
}
