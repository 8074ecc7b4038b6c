// Fused ops against the composites they replace (ARCHITECTURE §3: a fused op is checked
// against the composite): mse and its backward, sigmoid_backward, tanh_backward. Values and
// first gradients in f64; gradcheck covers second order from the registry.
#include <catch2/catch.hpp>

#include "graphgrad/graph/autodiff.h"
#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/ops/ops.h"
#include "test_support.h"

using namespace gg;

TEST_CASE("mse and its gradients equal mean((p − t)²) composed", "[ops][loss][grad]") {
    Graph g;
    const Shape s{3, 5, 4};
    Value p = g.input("p", s, DType::F64), t = g.input("t", s, DType::F64);
    Value fused = mse(p, t);
    Value d = p - t;
    Value composite = mean(d * d);
    std::vector<Value> f{fused, composite};
    for (Value loss : {fused, composite})
        for (const Value& dv : grad(loss * 3.0, {p, t})) f.push_back(dv);  // dy ≠ 1 reaches the rule
    const auto out = compile(g, f).run({{p, testing::uniform_tensor(s, 1, DType::F64)},
                                        {t, testing::uniform_tensor(s, 2, DType::F64)}});
    CHECK(out[0].get(0) == Approx(out[1].get(0)).epsilon(1e-14));
    CHECK(testing::relative_difference(out[2], out[4]) < 1e-14);  // d/dp
    CHECK(testing::relative_difference(out[3], out[5]) < 1e-14);  // d/dt
}

TEST_CASE("sigmoid_backward and tanh_backward equal their composed formulas", "[ops][grad]") {
    Graph g;
    const Shape s{4, 7};
    Value dy = g.input("dy", s, DType::F64), x = g.input("x", s, DType::F64);
    Value sy = sigmoid(x), ty = tanh(x);
    std::vector<Value> f{sigmoid_backward(dy, sy), dy * (sy * (1.0 - sy)), tanh_backward(dy, ty), dy * (1.0 - ty * ty)};
    const auto out = compile(g, f).run({{dy, testing::uniform_tensor(s, 3, DType::F64)},
                                        {x, testing::uniform_tensor(s, 4, DType::F64, -3.0, 3.0)}});
    CHECK(testing::relative_difference(out[0], out[1]) < 1e-15);
    CHECK(testing::relative_difference(out[2], out[3]) < 1e-15);
}
