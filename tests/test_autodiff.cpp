// grad(): fan-out accumulation, unconnected inputs, rule checks, and second order (a
// Hessian-vector product of a small tanh MLP against finite differences of the gradient).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

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

TEST_CASE("per-step weight gradients of a recurrence fold into one GEMM per run, and equal BPTT by hand",
          "[autodiff]") {
    // h_t = tanh(x_t + h_{t-1} Wᵀ), h_0 = 0, loss = Σ_t Σ h_t, over T = 20 steps: grad() folds
    // the 20 partials dA_tᵀ·h_{t-1} of W into runs of 16 (autodiff.cpp kFoldRun): 2 GEMMs.
    const int64_t T = 20, N = 3, H = 4;
    Graph g;
    Value w = g.parameter("w", {H, H}, init::constant(0.0), DType::F64);
    Value xs = g.input("xs", {T, N, H}, DType::F64);
    Value h = g.constant(Tensor::zeros({N, H}, DType::F64), "h0");
    Value loss;
    for (int64_t t = 0; t < T; ++t) {
        Value xt = reshape(slice(xs, {t, 0, 0}, {t + 1, N, H}), {N, H});
        h = tanh(xt + matmul(h, w, false, true));
        loss = t == 0 ? sum(h) : loss + sum(h);
    }
    Value dw = grad(loss, {w})[0];
    // The weight-gradient GEMMs: matmul nodes whose output has W's shape, upstream of dw.
    std::vector<char> seen(static_cast<std::size_t>(g.num_nodes()), 0);
    std::vector<int32_t> stack{dw.node};
    int weight_gemms = 0;
    while (!stack.empty()) {
        const int32_t id = stack.back();
        stack.pop_back();
        if (seen[static_cast<std::size_t>(id)]++) continue;
        const Node& n = g.node(id);
        if (n.op->name == "matmul" && n.outputs[0].shape == Shape{H, H}) ++weight_gemms;
        for (const Value& in : n.inputs) stack.push_back(in.node);
    }
    CHECK(weight_gemms == 2);

    const Tensor wv = random_tensor({H, H}, 7), xv = random_tensor({T, N, H}, 8);
    g.store().get("w").copy_from(wv);
    const Tensor got = compile(g, {dw}).run({{xs, xv}})[0];
    // BPTT by hand: forward states, then da_t = (1 + da_{t+1}·W) ⊙ (1 − h_t²), dW = Σ_t da_tᵀ·h_{t−1}.
    std::vector<std::vector<double>> hs(static_cast<std::size_t>(T + 1), std::vector<double>(N * H, 0.0));
    for (int64_t t = 0; t < T; ++t)
        for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < H; ++i) {
                double a = xv.get((t * N + n) * H + i);
                for (int64_t j = 0; j < H; ++j) a += hs[t][n * H + j] * wv.get(i * H + j);
                hs[t + 1][n * H + i] = std::tanh(a);
            }
    std::vector<double> dw_ref(H * H, 0.0), da_next(N * H, 0.0);
    for (int64_t t = T - 1; t >= 0; --t) {
        std::vector<double> da(N * H);
        for (int64_t n = 0; n < N; ++n)
            for (int64_t j = 0; j < H; ++j) {
                double dh = 1.0;
                for (int64_t i = 0; i < H; ++i) dh += da_next[n * H + i] * wv.get(i * H + j);
                const double y = hs[t + 1][n * H + j];
                da[n * H + j] = dh * (1 - y * y);
            }
        for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < H; ++i)
                for (int64_t j = 0; j < H; ++j) dw_ref[i * H + j] += da[n * H + i] * hs[t][n * H + j];
        da_next = da;
    }
    for (int64_t k = 0; k < H * H; ++k) CHECK(got.get(k) == Approx(dw_ref[k]).epsilon(1e-12).margin(1e-12));
}
