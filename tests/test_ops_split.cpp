// Behaviour tests for split: the pieces' values (f64 and i64), the gradient with unused pieces,
// and that the gradient of K pieces is one concat (no zero-padded full-size gradient per
// piece, which is what K slices would build).
#include <catch2/catch.hpp>

#include "graphgrad/ops/ops.h"
#include "test_support.h"

using namespace gg;
using gg::testing::iota;

TEST_CASE("split cuts consecutive pieces along an axis", "[ops][shape][split]") {
    Graph g;
    Value x = g.input("x", {2, 5}, DType::F64);
    const std::vector<Value> p = split(x, -1, {2, 0, 3});
    REQUIRE(p.size() == 3);
    CHECK(p[0].shape() == Shape{2, 2});
    CHECK(p[1].shape() == Shape{2, 0});
    CHECK(p[2].shape() == Shape{2, 3});
    const auto out = compile(g, {p[0], p[2]}).run({{x, iota({2, 5})}});
    CHECK(out[0].to_doubles() == std::vector<double>{1, 2, 6, 7});
    CHECK(out[1].to_doubles() == std::vector<double>{3, 4, 5, 8, 9, 10});

    Value ids = g.input("ids", {3, 2}, DType::I64);
    const auto rows = split(ids, 0, {1, 2});
    const auto r = compile(g, {rows[1]}).run({{ids, iota({3, 2}, DType::I64)}});
    CHECK(r[0].to_doubles() == std::vector<double>{3, 4, 5, 6});

    CHECK_THROWS_WITH(split(x, 1, {2, 2}), Catch::Contains("sizes [2,2] sum to 4 but axis 1 of [2,5] has 5"));
}

TEST_CASE("split's gradient is one concat, with zeros for unused pieces", "[ops][shape][split]") {
    const int64_t K = 50;
    Graph g;
    Value x = g.input("x", {K, 3}, DType::F64);
    const std::vector<Value> steps = split(x, 0, std::vector<int64_t>(K, 1));
    Value loss = g.scalar(0.0, DType::F64);
    for (int64_t k = 0; k + 1 < K; ++k) loss = loss + sum(steps[static_cast<std::size_t>(k)]) * static_cast<double>(k);
    const int32_t before = g.num_nodes();
    Value dx = grad(loss, {x})[0];
    int slice_grads = 0, concats = 0;
    for (int32_t n = before; n < g.num_nodes(); ++n) {
        slice_grads += g.node(n).op_name() == "slice_grad";
        concats += g.node(n).op_name() == "concat";
    }
    CHECK(slice_grads == 0);
    CHECK(concats == 1);
    const Tensor d = compile(g, {dx}).run({{x, iota({K, 3}, DType::F64)}})[0];
    for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < 3; ++j) CHECK(d.get(k * 3 + j) == (k + 1 < K ? static_cast<double>(k) : 0.0));
}
