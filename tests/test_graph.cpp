// Graph building: checks at node creation, names, scopes, parameters and initialisers.
#include <catch2/catch.hpp>

#include <cmath>

#include "graphgrad/graph/graph_algorithms.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/ops.h"

using namespace gg;
using Catch::Matchers::Contains;

TEST_CASE("a bad matmul names the op, the node and both shapes when it is added", "[graph]") {
    Graph g;
    auto x = g.input("x", {64, 784});
    auto w = g.parameter("w", {512, 256});
    CHECK_THROWS_WITH(matmul(x, w, "fc1"), Contains("matmul \"fc1\"") && Contains("inner dimensions differ") &&
                                               Contains("[64,784]") && Contains("[512,256]"));
    CHECK(g.num_nodes() == 2);  // nothing half-added
}

TEST_CASE("inputs of different graphs, empty values and dtype clashes are rejected", "[graph]") {
    Graph g1, g2;
    auto a = g1.input("a", {3});
    auto b = g2.input("b", {3});
    CHECK_THROWS_WITH(add(a, b), Contains("different graphs") || Contains("another graph"));
    CHECK_THROWS_AS(add(a, Value{}), GraphError);
    auto i = g1.input("i", {3}, DType::I64);
    CHECK_THROWS_AS(tanh(i), GraphError);
}

TEST_CASE("source names are unique and scopes prefix them", "[graph]") {
    Graph g;
    g.input("x", {2});
    CHECK_THROWS_WITH(g.input("x", {2}), Contains("exists already"));
    {
        NameScope s(g, "layer1");
        NameScope t(g, "conv1");
        auto w = g.parameter("weight", {4, 3});
        CHECK(w.name() == "layer1.conv1.weight");
    }
    CHECK(g.store().contains("layer1.conv1.weight"));
    CHECK(g.find("layer1.conv1.weight").shape() == Shape{4, 3});
    CHECK_THROWS_WITH(g.find("nope"), Contains("nope"));
}

TEST_CASE("initialisers are seeded, deterministic and follow their distributions", "[graph][init]") {
    Graph g1(42), g2(42), g3(7);
    auto w1 = g1.parameter("w", {256, 128}, init::kaiming_uniform());
    g2.parameter("w", {256, 128}, init::kaiming_uniform());
    g3.parameter("w", {256, 128}, init::kaiming_uniform());
    const Tensor& t1 = g1.store().get("w");
    CHECK(t1.to_doubles() == g2.store().get("w").to_doubles());
    CHECK(t1.to_doubles() != g3.store().get("w").to_doubles());
    // kaiming_uniform with fan_in 256: U(-b, b), b = sqrt(2)·sqrt(3/256); variance b²/3 = 2/256.
    double bound = std::sqrt(2.0) * std::sqrt(3.0 / 256), sum = 0, sq = 0;
    for (double v : t1.to_doubles()) {
        REQUIRE(std::abs(v) <= bound);
        sum += v;
        sq += v * v;
    }
    double n = static_cast<double>(t1.numel());
    CHECK(std::abs(sum / n) < 0.01);
    CHECK(sq / n == Approx(2.0 / 256).epsilon(0.05));
    CHECK(w1.dtype() == DType::F32);

    g1.parameter("n", {100000}, init::normal(1.0, 0.5));
    auto v = g1.store().get("n").to_doubles();
    double m = 0, var = 0;
    for (double x : v) m += x;
    m /= static_cast<double>(v.size());
    for (double x : v) var += (x - m) * (x - m);
    var /= static_cast<double>(v.size());
    CHECK(m == Approx(1.0).margin(0.01));
    CHECK(std::sqrt(var) == Approx(0.5).epsilon(0.02));
    g1.parameter("c", {3}, init::constant(2.5));
    CHECK(g1.store().get("c").to_doubles() == std::vector<double>{2.5, 2.5, 2.5});
    CHECK(init::fans({64, 3, 5, 5}, init::WeightAxes::InOut) == std::pair<double, double>{75.0, 1600.0});
}

TEST_CASE("pruning keeps only what the fetches need, in dependency order", "[graph]") {
    Graph g;
    auto x = g.input("x", {4});
    auto a = exp(x);
    auto b = tanh(x);  // unused by the fetch below
    auto c = a * 2.0;
    auto keep = reachable_nodes(g, {c});
    CHECK(std::find(keep.begin(), keep.end(), b.node) == keep.end());
    CHECK(std::find(keep.begin(), keep.end(), a.node) != keep.end());
    auto order = topological_order(g, keep);
    REQUIRE(order.size() == keep.size());
    auto pos = [&](int32_t id) { return std::find(order.begin(), order.end(), id) - order.begin(); };
    for (int32_t id : order)
        for (const Value& in : g.node(id).inputs) CHECK(pos(in.node) < pos(id));
    std::ostringstream dot;
    write_dot(g, keep, dot);
    CHECK_THAT(dot.str(), Contains("digraph") && Contains("exp"));
}

TEST_CASE("Glorot and He initialisers have their formulas' variance, for either weight axes", "[graph][init]") {
    // 200 000 draws: the sample variance is within ~0.6% (4σ of its 0.3% error) of the formula.
    auto moments = [](const Initializer& init, const Shape& shape) {
        Graph g(3);
        g.parameter("w", shape, init);
        double sum = 0, sq = 0;
        const Tensor& t = g.store().get("w");
        for (int64_t i = 0; i < t.numel(); ++i) {
            sum += t.get(i);
            sq += t.get(i) * t.get(i);
        }
        const double n = static_cast<double>(t.numel());
        return std::pair{sum / n, sq / n - (sum / n) * (sum / n)};
    };
    const Shape in_out{400, 500}, out_in{500, 400}, conv{50, 40, 10, 10};  // conv: fan_in 4000, fan_out 5000
    for (const auto& [shape, axes] : {std::pair{in_out, init::WeightAxes::InOut}, std::pair{out_in, init::WeightAxes::OutIn}}) {
        INFO(shape_str(shape));
        auto [mu, var] = moments(init::xavier_normal(1.5, axes), shape);
        CHECK(std::abs(mu) < 0.001);
        CHECK(var == Approx(1.5 * 1.5 * 2.0 / (400 + 500)).epsilon(0.01));
        std::tie(mu, var) = moments(init::kaiming_normal(std::sqrt(2.0), axes), shape);
        CHECK(std::abs(mu) < 0.001);
        CHECK(var == Approx(2.0 / 400).epsilon(0.01));
        std::tie(mu, var) = moments(init::xavier_uniform(1.0, axes), shape);
        CHECK(var == Approx(2.0 / (400 + 500)).epsilon(0.01));
    }
    CHECK(moments(init::kaiming_normal(1.0), conv).second == Approx(1.0 / 4000).epsilon(0.01));
    CHECK(moments(init::xavier_normal(1.0), conv).second == Approx(2.0 / 9000).epsilon(0.01));
}

TEST_CASE("nodes hold the attribute type their op declares, and callers read it typed", "[graph]") {
    Graph g;
    auto x = g.input("x", {1, 2, 6, 6});
    auto y = max_pool2d(x, {.kernel = {3, 3}, .stride = {2, 2}});
    const Pool2dOptions& o = node_attributes<Pool2dOptions>(y.producer());
    CHECK(o.kernel == std::array<int64_t, 2>{3, 3});
    CHECK(o.stride == std::array<int64_t, 2>{2, 2});
    CHECK_THROWS_WITH(node_attributes<Conv2dOptions>(y.producer()),
                      Contains("max_pool2d") && Contains("Pool2dOptions") && Contains("Conv2dOptions"));
    CHECK_THROWS_WITH(node_attributes<Pool2dOptions>(relu(x).producer()), Contains("relu") && Contains("none"));
    const OpDef& conv = op_def("conv2d");
    auto w = g.input("w", {4, 2, 3, 3});
    CHECK_THROWS_WITH(g.add_node1(conv, {x, w}, Pool2dOptions{}, "wrong"),
                      Contains("conv2d \"wrong\"") && Contains("Pool2dOptions") && Contains("Conv2dOptions"));
    CHECK_THROWS_WITH(g.add_node1(conv, {x, w}, {}, "missing"), Contains("conv2d \"missing\"") && Contains("missing"));
    CHECK_THROWS_WITH(g.add_node1(op_def("relu"), {x}, 1.0, "extra"), Contains("relu \"extra\"") && Contains("none"));
}
