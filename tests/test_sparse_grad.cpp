// Row-sparse embedding gradients (graph/gradient.h): the parts grad() keeps, their dense
// equivalents, the planner's bytes, and optimizer steps on sparse gradients against dense
// steps (SGD, momentum, Nesterov, Adagrad: the same parameters to rounding) and against lazy
// Adam's defining loop (torch.optim.SparseAdam).
#include <catch2/catch.hpp>

#include <cmath>

#include "graphgrad/ops/ops.h"
#include "graphgrad/optim/optim.h"

using namespace gg;
using namespace gg::optim;

namespace {

constexpr int64_t kV = 7, kD = 3;

Initializer table_init() {
    return [](Tensor& t, uint64_t) {
        for (int64_t i = 0; i < t.numel(); ++i) t.set(i, 0.1 * static_cast<double>((i * 5) % 11) - 0.4);
    };
}

Tensor ids_tensor(std::vector<int64_t> v, Shape s) { return Tensor::from_vector<int64_t>(v, std::move(s)); }

// loss = Σ w ⊙ tanh(embedding(table, ids)) + Σ embedding(table, ids2)²: two sparse parts.
struct Model {
    Graph g;
    Value table, ids, ids2, loss;
    explicit Model(bool sparse, std::optional<int64_t> padding = std::nullopt, DType dt = DType::F64) {
        table = g.parameter("table", {kV, kD}, table_init(), dt);
        ids = g.input("ids", {2, 3}, DType::I64);
        ids2 = g.input("ids2", {4}, DType::I64);
        Tensor w(TensorDesc{{2, 3, kD}, dt});
        for (int64_t i = 0; i < w.numel(); ++i) w.set(i, 0.3 * static_cast<double>(i % 5) - 0.5);
        Value e1 = embedding(table, ids, padding, {.sparse_grad = sparse});
        Value e2 = embedding(table, ids2, padding, {.sparse_grad = sparse});
        loss = sum(g.constant(w) * tanh(e1)) + sum(e2 * e2);
    }
};

// Step s's ids: repeats within and across the two parts, and the padding row 2 at times.
std::pair<Tensor, Tensor> batch(int s) {
    std::vector<int64_t> a(6), b(4);
    for (int k = 0; k < 6; ++k) a[static_cast<std::size_t>(k)] = (k * 3 + s * 2) % 5;
    for (int k = 0; k < 4; ++k) b[static_cast<std::size_t>(k)] = (k + s) % 3 + 2 * (k % 2);
    return {ids_tensor(a, {2, 3}), ids_tensor(b, {4})};
}

using MakeOpt = std::function<std::unique_ptr<Optimizer>(Graph&, const std::vector<Value>&)>;

std::vector<double> train(bool sparse, const MakeOpt& make, int steps, std::optional<int64_t> padding = 2) {
    Model m(sparse, padding);
    auto gs = gradients(m.loss, {m.table});
    REQUIRE(gs[0].is_sparse() == sparse);
    std::vector<Value> fetch{m.loss};
    for (const Value& v : gs[0].values()) fetch.push_back(v);
    auto prog = compile(m.g, fetch);
    auto opt = make(m.g, {m.table});
    for (int s = 0; s < steps; ++s) {
        auto [a, b] = batch(s);
        auto out = prog.run({{m.ids, a}, {m.ids2, b}});
        opt->step_gradients(gradient_tensors(gs, out, 1));
    }
    return m.g.store().get("table").to_doubles();
}

}  // namespace

TEST_CASE("sparse embedding gradient: parts, padding rows zeroed, dense equivalent", "[sparse]") {
    Model m(true, 2);
    auto gs = gradients(m.loss, {m.table});
    REQUIRE(gs[0].is_sparse());
    REQUIRE(gs[0].sparse.size() == 2);
    // Parts in the order grad() reached them: the later lookup (ids2) first.
    CHECK(gs[0].sparse[0].rows.shape() == Shape{4, kD});
    CHECK(gs[0].sparse[1].indices.shape() == Shape{6});
    Value dense = grad(m.loss, {m.table})[0];  // grad() densifies the same parts
    std::vector<Value> fetch = gs[0].values();
    fetch.push_back(dense);
    auto prog = compile(m.g, fetch);
    auto [a, b] = batch(1);
    auto out = prog.run({{m.ids, a}, {m.ids2, b}});
    // Rebuild the dense gradient from the parts by hand; padding rows must be zero in the parts.
    std::vector<double> want(static_cast<std::size_t>(kV * kD), 0.0);
    for (int p = 0; p < 2; ++p) {
        const Tensor& idx = out[static_cast<std::size_t>(2 * p)];
        const Tensor& rows = out[static_cast<std::size_t>(2 * p + 1)];
        for (int64_t k = 0; k < idx.numel(); ++k)
            for (int64_t d = 0; d < kD; ++d) {
                const int64_t r = idx.data<int64_t>()[k];
                if (r == 2) CHECK(rows.get(k * kD + d) == 0.0);
                want[static_cast<std::size_t>(r * kD + d)] += rows.get(k * kD + d);
            }
    }
    const std::vector<double> got = out[4].to_doubles();
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i] == Approx(want[i]).margin(1e-14));
    // And the dense rule of a dense embedding gives the same numbers.
    Model d(false, 2);
    auto prog_d = compile(d.g, {grad(d.loss, {d.table})[0]});
    const std::vector<double> ref = prog_d.run({{d.ids, a}, {d.ids2, b}})[0].to_doubles();
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i] == Approx(ref[i]).margin(1e-14));
    // Row 2 (padding) gets nothing although batch(1) looks it up.
    for (int64_t dd = 0; dd < kD; ++dd) CHECK(got[static_cast<std::size_t>(2 * kD + dd)] == 0.0);
}

TEST_CASE("sparse embedding gradient: a dense use of the table makes it dense", "[sparse]") {
    Graph g;
    Value table = g.parameter("table", {kV, kD}, table_init(), DType::F64);
    Value ids = g.input("ids", {3}, DType::I64);
    Value loss = sum(embedding(table, ids, std::nullopt, {.sparse_grad = true})) + sum(table * table);
    auto gs = gradients(loss, {table});
    REQUIRE_FALSE(gs[0].is_sparse());
    auto prog = compile(g, {gs[0].dense});
    const auto got = prog.run({{ids, ids_tensor({1, 1, 4}, {3})}})[0].to_doubles();
    const auto t = g.store().get("table").to_doubles();
    for (int64_t r = 0; r < kV; ++r)
        for (int64_t d = 0; d < kD; ++d) {
            const auto i = static_cast<std::size_t>(r * kD + d);
            CHECK(got[i] == Approx(2 * t[i] + (r == 1 ? 2 : r == 4 ? 1 : 0)).margin(1e-14));
        }
}

TEST_CASE("sparse gradient: the planned arena holds K×D, not V×D", "[sparse]") {
    auto peak = [](bool sparse) {
        Graph g;
        Value table = g.parameter("table", {20000, 32}, init::zeros());
        Value ids = g.input("ids", {64}, DType::I64);
        Value loss = sum(tanh(embedding(table, ids, std::nullopt, {.sparse_grad = sparse})));
        auto gs = gradients(loss, {table});
        std::vector<Value> fetch{loss};
        for (const Value& v : gs[0].values()) fetch.push_back(v);
        return compile(g, fetch).peak_bytes();
    };
    const std::size_t dense = peak(false), sparse = peak(true);
    INFO("dense " << dense << " B, sparse " << sparse << " B");
    CHECK(dense >= 20000u * 32u * 4u);  // the V×D gradient
    CHECK(sparse < 64u * 32u * 4u * 8u);  // a few K×D buffers
}

TEST_CASE("sparse and dense updates give the same parameters: SGD, momentum, Nesterov, Adagrad", "[sparse][optim]") {
    std::vector<std::pair<const char*, MakeOpt>> cases{
        {"sgd", [](Graph& g, auto& p) { return std::make_unique<Sgd>(g, p, SgdOptions{.lr = 0.3}); }},
        {"momentum+dampening",
         [](Graph& g, auto& p) { return std::make_unique<Sgd>(g, p, SgdOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.2}); }},
        {"nesterov",
         [](Graph& g, auto& p) { return std::make_unique<Sgd>(g, p, SgdOptions{.lr = 0.1, .momentum = 0.8, .nesterov = true}); }},
        {"adagrad", [](Graph& g, auto& p) {
             return std::make_unique<Adagrad>(g, p, AdagradOptions{.lr = 0.2, .lr_decay = 0.01, .initial_accumulator_value = 0.1});
         }}};
    for (const auto& [name, make] : cases) {
        INFO(name);
        const auto dense = train(false, make, 6), sparse = train(true, make, 6);
        CHECK(dense != Model(false).g.store().get("table").to_doubles());  // it did train
        // Equal up to rounding: a row looked up by both parts is (a₁ + a₂) + (b₁ + b₂) in the
        // dense sum of two index_adds, a₁ + a₂ + b₁ + b₂ in order when coalesced.
        for (std::size_t i = 0; i < dense.size(); ++i) CHECK(sparse[i] == Approx(dense[i]).epsilon(1e-14).margin(1e-15));
    }
}

TEST_CASE("lazy Adam on sparse gradients follows torch.optim.SparseAdam's loop", "[sparse][optim]") {
    const AdamOptions o{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6};
    const int steps = 5;
    const auto got = train(true, [&](Graph& g, auto& p) { return std::make_unique<Adam>(g, p, o); }, steps);
    // The defining loop: dense per-step gradients, but only rows with a lookup this step move
    // (coalesced: a repeated row's gradients are summed first).
    Model m(false, 2);
    auto prog = compile(m.g, {grad(m.loss, {m.table})[0]});
    Tensor& table = m.g.store().get("table");
    std::vector<double> mm(static_cast<std::size_t>(kV * kD), 0.0), vv = mm;
    for (int s = 0; s < steps; ++s) {
        auto [a, b] = batch(s);
        const auto gr = prog.run({{m.ids, a}, {m.ids2, b}})[0].to_doubles();
        std::vector<char> touched(kV, 0);
        for (int64_t k = 0; k < 6; ++k) touched[static_cast<std::size_t>(a.data<int64_t>()[k])] = 1;
        for (int64_t k = 0; k < 4; ++k) touched[static_cast<std::size_t>(b.data<int64_t>()[k])] = 1;
        const double t = s + 1, ss = o.lr * std::sqrt(1 - std::pow(o.beta2, t)) / (1 - std::pow(o.beta1, t));
        for (int64_t r = 0; r < kV; ++r) {
            if (!touched[static_cast<std::size_t>(r)]) continue;
            for (int64_t d = 0; d < kD; ++d) {
                const auto i = static_cast<std::size_t>(r * kD + d);
                mm[i] = o.beta1 * mm[i] + (1 - o.beta1) * gr[i];
                vv[i] = o.beta2 * vv[i] + (1 - o.beta2) * gr[i] * gr[i];
                table.set(static_cast<int64_t>(i), table.get(static_cast<int64_t>(i)) - ss * mm[i] / (std::sqrt(vv[i]) + o.eps));
            }
        }
    }
    const auto want = table.to_doubles();
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i] == Approx(want[i]).margin(1e-12));
    // Row 6 is never looked up: lazy Adam leaves it exactly as initialised.
    const auto init = Model(false).g.store().get("table").to_doubles();
    for (int64_t d = 0; d < kD; ++d) CHECK(got[static_cast<std::size_t>(6 * kD + d)] == init[static_cast<std::size_t>(6 * kD + d)]);
}

TEST_CASE("sparse gradients: refused options and bad parts name the parameter", "[sparse][optim]") {
    Graph g;
    Value table = g.parameter("emb", {4, 2}, init::zeros());
    GradientTensors bad{Tensor(), {{ids_tensor({1, 4}, {2}), Tensor::zeros({2, 2})}}};
    Sgd sgd(g, {table}, {.lr = 0.1});
    CHECK_THROWS_WITH(sgd.step_gradients({bad}), Catch::Contains("\"emb\"") && Catch::Contains("index 4 at position 1"));
    GradientTensors shape{Tensor(), {{ids_tensor({1, 3}, {2}), Tensor::zeros({2, 3})}}};
    CHECK_THROWS_WITH(sgd.step_gradients({shape}), Catch::Contains("rows f32[2,3]"));
    Graph g2;
    Value t2 = g2.parameter("emb", {4, 2}, init::zeros());
    Sgd decay(g2, {t2}, {.lr = 0.1, .weight_decay = 0.01});
    GradientTensors ok{Tensor(), {{ids_tensor({1, 3}, {2}), Tensor::zeros({2, 2})}}};
    CHECK_THROWS_WITH(decay.step_gradients({ok}), Catch::Contains("weight decay"));
    Graph g3;
    Value t3 = g3.parameter("emb", {4, 2}, init::zeros());
    AdamW adamw(g3, {t3});
    CHECK_THROWS_WITH(adamw.step_gradients({ok}), Catch::Contains("AdamW"));
    CHECK(sgd.steps() == 0);  // a refused step updates nothing
}
