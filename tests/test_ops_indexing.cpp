// Behaviour tests for gather / scatter_add / index_select / index_add / embedding: values
// against torch semantics by hand, out-of-range indices at run time, the embedding gradient
// summing repeated ids, and parallel scatters agreeing with a serial loop on large inputs.
#include <catch2/catch.hpp>

#include "graphgrad/graph/rng.h"
#include "op_test_util.h"
#include "graphgrad/ops/indexing.h"
#include "graphgrad/ops/ops.h"
#include "test_support.h"

using namespace gg;
using gg::testing::iota;

namespace {

Tensor ids(const std::vector<int64_t>& v, Shape s) { return Tensor::from_vector<int64_t>(v, std::move(s)); }

}  // namespace

TEST_CASE("gather and scatter_add follow torch semantics", "[ops][indexing]") {
    Graph g;
    auto x = g.input("x", {2, 3}, DType::F64);  // [[1,2,3],[4,5,6]]
    auto i1 = g.input("i1", {2, 2}, DType::I64);
    auto i0 = g.input("i0", {1, 3}, DType::I64);
    auto a = gather(x, 1, i1);  // a[i][j] = x[i][i1[i][j]]
    auto b = gather(x, 0, i0);  // b[0][j] = x[i0[0][j]][j]
    auto src = g.input("src", {2, 2}, DType::F64);
    auto s = scatter_add({2, 4}, 1, i1, src);  // s[i][i1[i][j]] += src[i][j]
    auto r = compile(g, {a, b, s}).run({{x, iota({2, 3})},
                                        {i1, ids({2, 0, 1, 1}, {2, 2})},
                                        {i0, ids({1, 0, 1}, {1, 3})},
                                        {src, iota({2, 2})}});
    CHECK(r[0].to_doubles() == std::vector<double>{3, 1, 5, 5});
    CHECK(r[1].to_doubles() == std::vector<double>{4, 2, 6});
    CHECK(r[2].to_doubles() == std::vector<double>{2, 0, 1, 0, 0, 7, 0, 0});  // repeats add up
}

TEST_CASE("index_select, embedding and index_add", "[ops][indexing]") {
    Graph g;
    auto table = g.input("table", {4, 2}, DType::F64);  // rows [1,2] [3,4] [5,6] [7,8]
    auto tok = g.input("tok", {2, 3}, DType::I64);
    auto e = embedding(table, tok);
    CHECK(e.shape() == Shape{2, 3, 2});
    auto cols = index_select(table, 1, g.input("c", {3}, DType::I64));
    CHECK(cols.shape() == Shape{4, 3});
    auto dtable = grad(sum(e * g.constant(iota({2, 3, 2}))), {table})[0];
    auto r = compile(g, {e, cols, dtable})
                 .run({{table, iota({4, 2})}, {tok, ids({3, 0, 3, 1, 1, 2}, {2, 3})}, {g.find("c"), ids({1, 1, 0}, {3})}});
    CHECK(r[0].to_doubles() == std::vector<double>{7, 8, 1, 2, 7, 8, 3, 4, 3, 4, 5, 6});
    CHECK(r[1].to_doubles() == std::vector<double>{2, 2, 1, 4, 4, 3, 6, 6, 5, 8, 8, 7});
    // Row 3 was picked at positions 0 and 2 (weights [1,2] and [5,6]), row 1 at 3 and 4.
    CHECK(r[2].to_doubles() == std::vector<double>{3, 4, 7 + 9, 8 + 10, 11, 12, 1 + 5, 2 + 6});
    CHECK_THROWS_WITH(embedding(g.input("t3", {2, 2, 2}), tok), Catch::Contains("must be [V, D]"));
}

TEST_CASE("embedding with padding_idx reads the row but sends it no gradient (PyTorch)", "[ops][indexing][grad]") {
    for (int64_t padding : {1, -3}) {  // -3 counts from V = 4: the same row
        Graph g;
        auto table = g.input("table", {4, 2}, DType::F64);
        auto tok = g.input("tok", {2, 3}, DType::I64);
        auto e = embedding(table, tok, padding);
        auto dtable = grad(sum(e * g.constant(iota({2, 3, 2}))), {table})[0];
        auto r = compile(g, {e, dtable}).run({{table, iota({4, 2})}, {tok, ids({3, 0, 3, 1, 1, 2}, {2, 3})}});
        CHECK(r[0].to_doubles() == std::vector<double>{7, 8, 1, 2, 7, 8, 3, 4, 3, 4, 5, 6});
        // As the test above, with row 1 (picked at positions 3 and 4) left at zero.
        CHECK(r[1].to_doubles() == std::vector<double>{3, 4, 0, 0, 11, 12, 1 + 5, 2 + 6});
    }
    Graph g;
    auto table = g.input("table", {4, 2});
    auto tok = g.input("tok", {3}, DType::I64);
    CHECK_THROWS_WITH(embedding(table, tok, 4), Catch::Contains("padding_idx 4 is outside") && Catch::Contains("[-4, 4)"));
    CHECK_THROWS_WITH(embedding(table, tok, -5), Catch::Contains("padding_idx -5"));
}

TEST_CASE("out-of-range indices raise at run time naming the node and the index", "[ops][indexing][errors]") {
    Graph g;
    auto x = g.input("x", {3, 4});
    auto idx = g.input("idx", {3, 2}, DType::I64);
    auto src = g.input("src", {3, 2});
    auto flat = g.input("flat", {2}, DType::I64);
    auto rows = g.input("rows", {2, 4});
    const Tensor xv = Tensor::zeros({3, 4}), sv = Tensor::zeros({3, 2}), rv = Tensor::zeros({2, 4});
    const Tensor good = ids({0, 1, 2, 3, 0, 1}, {3, 2}), bad = ids({0, 1, 2, 4, 0, 1}, {3, 2});
    const Tensor neg = ids({2, -1}, {2});
    auto check = [&](Value y, const Feeds& feeds, const std::string& op, const std::string& tail) {
        const std::string expect = fmt::format("{} \"{}\": {}", op, y.name(), tail);
        CHECK_THROWS_WITH(compile(g, {y}).run(feeds), Catch::Contains(expect));
    };
    check(gather(x, 1, idx), {{x, xv}, {idx, bad}}, "gather", "index 4 at position 3 is outside [0, 4)");
    check(scatter_add({3, 4}, 1, idx, src), {{src, sv}, {idx, bad}}, "scatter_add", "index 4 at position 3 is outside [0, 4)");
    check(index_select(x, 0, flat), {{x, xv}, {flat, neg}}, "index_select", "index -1 at position 1 is outside [0, 3)");
    check(index_add({3, 4}, 0, flat, rows), {{rows, rv}, {flat, neg}}, "index_add", "index -1 at position 1 is outside [0, 3)");
    CHECK_NOTHROW(compile(g, {gather(x, 1, idx)}).run({{x, xv}, {idx, good}}));
}

TEST_CASE("parallel scatters agree with a serial loop on large inputs", "[ops][indexing]") {
    gg::testing::ScopedThreads threads(2);
    REQUIRE(threads.is_parallel());
    // Sizes well above the parallel grain, with many repeated indices.
    const int64_t v = 50, d = 300, k = 4000;
    Graph g;
    auto table = g.input("table", {v, d}, DType::F64);
    auto tok = g.input("tok", {k}, DType::I64);
    auto w = g.input("w", {k, d}, DType::F64);
    auto dtable = grad(sum(embedding(table, tok) * w), {table})[0];  // index_add
    auto idx = g.input("idx", {k, d}, DType::I64);
    auto sc = scatter_add({v, d}, 0, idx, w);
    std::vector<int64_t> tv(static_cast<std::size_t>(k)), iv(static_cast<std::size_t>(k * d));
    for (std::size_t i = 0; i < tv.size(); ++i) tv[i] = static_cast<int64_t>(random_bits(1, 2, i) % v);
    for (std::size_t i = 0; i < iv.size(); ++i) iv[i] = static_cast<int64_t>(random_bits(1, 3, i) % v);
    Tensor wv({TensorDesc{{k, d}, DType::F64}});
    for (int64_t i = 0; i < wv.numel(); ++i) wv.set(i, uniform01(1, 4, static_cast<uint64_t>(i)));
    auto r = compile(g, {dtable, sc}).run({{table, Tensor::zeros({v, d}, DType::F64)},
                                           {tok, Tensor::from_vector<int64_t>(tv, {k})},
                                           {w, wv},
                                           {idx, Tensor::from_vector<int64_t>(iv, {k, d})}});
    std::vector<double> e1(static_cast<std::size_t>(v * d), 0.0), e2 = e1;
    for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < d; ++j) {
            e1[static_cast<std::size_t>(tv[static_cast<std::size_t>(i)] * d + j)] += wv.get(i * d + j);
            e2[static_cast<std::size_t>(iv[static_cast<std::size_t>(i * d + j)] * d + j)] += wv.get(i * d + j);
        }
    // Same summation order (along the indexed axis) as the loops above: exact equality.
    CHECK(r[0].to_doubles() == e1);
    CHECK(r[1].to_doubles() == e2);
}
