// Metric learning (models/metric_learning.h, train/metric_learning.h, train/embedding_eval.h):
// triplet mining on a hand-made batch (which positive and negative each anchor gets, and the
// loss), the losses' and SEC's gradients against central differences, Recall@K and norm
// statistics on hand-made embeddings, the P×K sampler's composition, and training that
// lowers the loss and retrieves well on synthetic images.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "graphgrad/graph/gradcheck.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/models/metric_learning.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/optim/optim.h"
#include "graphgrad/train/metric_learning.h"

using namespace gg;
using models::TripletMining;

namespace {

// Six points on a line (second coordinate 0), two classes, no ties among any anchor's
// distances. Class 0 at 0, 1, 3.5; class 1 at 2, 5.2, 6.5.
const std::vector<double> kLine = {0, 0, 1, 0, 3.5, 0, 2, 0, 5.2, 0, 6.5, 0};
const std::vector<int64_t> kLineLabels = {0, 0, 0, 1, 1, 1};

struct Mined {
    double loss = 0;
    std::vector<double> d_ap, d_an, weight;
};

// Plain Euclidean distances of the raw points (no normalisation), f64, margin 0.5.
Mined mine(TripletMining mining, bool squared = false) {
    Graph g;
    Value e = g.input("e", {6, 2}, DType::F64);
    Value y = g.input("y", {6}, DType::I64);
    auto t = models::triplet_loss(e, y, {.margin = 0.5, .mining = mining, .normalize = false, .squared = squared});
    CompiledGraph c = compile(g, {t.loss, t.d_ap, t.d_an, t.weight});
    auto out = c.run({{e, Tensor::from_vector(kLine, {6, 2})}, {y, Tensor::from_vector(kLineLabels, {6})}});
    auto vec = [](const Tensor& x) { return std::vector<double>(x.data<double>(), x.data<double>() + x.numel()); };
    return {out[0].data<double>()[0], vec(out[1]), vec(out[2]), vec(out[3])};
}

// Batch-all by brute force: the mean of the positive hinges over every valid triplet.
double batch_all_reference(double margin) {
    double sum = 0;
    int64_t active = 0;
    for (int a = 0; a < 6; ++a)
        for (int p = 0; p < 6; ++p)
            for (int n = 0; n < 6; ++n) {
                if (p == a || kLineLabels[p] != kLineLabels[a] || kLineLabels[n] == kLineLabels[a]) continue;
                const double h = std::abs(kLine[2 * a] - kLine[2 * p]) - std::abs(kLine[2 * a] - kLine[2 * n]) + margin;
                if (h > 0) sum += h, ++active;
            }
    return sum / static_cast<double>(active);
}

Tensor random_tensor(Shape shape, uint64_t seed, double scale = 1.0) {
    Tensor t = Tensor::zeros(shape, DType::F64);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = scale * standard_normal(seed, 1, static_cast<uint64_t>(i));
    return t;
}

void check_gradients(const std::string& name, const GraphFunction& f, const std::vector<Tensor>& inputs,
                     const std::vector<bool>& differentiable) {
    GradcheckOptions o;
    o.second_order = false;  // piecewise-linear selections: first order is what training uses
    for (const auto& r : gradcheck_function(name, "random batch", f, inputs, differentiable, o)) {
        INFO(r.describe());
        CHECK(r.passed);
    }
}

// 4 classes of 8x8 images with a class-specific bright stroke at a random place, plus noise.
io::ImageDataset strokes(int64_t count, uint64_t seed, int64_t classes = 4) {
    io::ImageDataset d;
    d.count = count;
    d.rows = d.cols = 8;
    d.num_classes = classes;
    d.pixels.resize(static_cast<std::size_t>(count * 64));
    d.labels.resize(static_cast<std::size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
        const auto label = static_cast<int64_t>(random_bits(seed, 1, static_cast<uint64_t>(i)) % classes);
        const auto at = static_cast<int64_t>(random_bits(seed, 2, static_cast<uint64_t>(i)) % 8);
        d.labels[static_cast<std::size_t>(i)] = static_cast<uint8_t>(label);
        for (int64_t r = 0; r < 8; ++r)
            for (int64_t c = 0; c < 8; ++c) {
                const bool on = label == 0 ? r == at : label == 1 ? c == at : label == 2 ? (r + at) % 8 == c
                                                                                          : (r + c + at) % 8 == 7;
                const double noise = 60 * uniform01(seed, 3, static_cast<uint64_t>(i * 64 + r * 8 + c));
                d.pixels[static_cast<std::size_t>(i * 64 + r * 8 + c)] = static_cast<uint8_t>((on ? 180 : 0) + noise);
            }
    }
    return d;
}

Value small_net(Value x, int64_t dim) {
    return models::linear(relu(models::linear(models::flatten(x), 32, "fc1")), dim, "embed");
}

}  // namespace

TEST_CASE("batch-hard mining picks the farthest positive and the closest negative", "[metric]") {
    const Mined m = mine(TripletMining::BatchHard);
    // Anchor at 0: positives 1 and 3.5, negatives 2, 5.2, 6.5; and so on for each anchor.
    const std::vector<double> pos = {3.5, 2.5, 3.5, 4.5, 3.2, 4.5}, neg = {2, 1, 1.5, 1, 1.7, 3};
    for (int a = 0; a < 6; ++a) {
        INFO("anchor " << a);
        CHECK(m.d_ap[a] == Approx(pos[a]).margin(1e-12));
        CHECK(m.d_an[a] == Approx(neg[a]).margin(1e-12));
        CHECK(m.weight[a] == 1.0);
    }
    // Hinges 2, 2, 2.5, 4, 2, 2 with margin 0.5.
    CHECK(m.loss == Approx(14.5 / 6).epsilon(1e-12));
    // Squared distances choose the same triplets (monotone) and square them.
    const Mined s = mine(TripletMining::BatchHard, true);
    for (int a = 0; a < 6; ++a) CHECK(s.d_ap[a] == Approx(pos[a] * pos[a]).margin(1e-9));
}

TEST_CASE("semi-hard mining: the closest negative farther than the positive, else the farthest", "[metric]") {
    const Mined m = mine(TripletMining::SemiHard);
    REQUIRE(m.d_an.size() == 36);
    auto an = [&](int a, int p) { return m.d_an[static_cast<std::size_t>(a * 6 + p)]; };
    CHECK(an(0, 1) == Approx(2.0));  // d_ap 1: negatives 2, 5.2, 6.5 are all farther; the closest
    CHECK(an(0, 2) == Approx(5.2));  // d_ap 3.5: 2 is closer (hard), 5.2 the closest farther one
    CHECK(an(1, 0) == Approx(4.2));  // d_ap 1: the negative at distance exactly 1 is not farther
    CHECK(an(2, 0) == Approx(3.0));  // d_ap 3.5: negatives 1.5, 1.7, 3 all closer: fallback, the farthest
    CHECK(an(3, 4) == Approx(2.0));  // d_ap 3.2: negatives 2, 1, 1.5 all closer: fallback 2
    CHECK(an(4, 3) == Approx(4.2));  // d_ap 3.2: 5.2 and 4.2 farther, 4.2 the closest
    CHECK(an(4, 5) == Approx(1.7));
    CHECK(an(5, 4) == Approx(3.0));
    // Valid pairs: same class, not the anchor itself.
    for (int a = 0; a < 6; ++a)
        for (int p = 0; p < 6; ++p)
            CHECK(m.weight[static_cast<std::size_t>(a * 6 + p)] == ((a != p && kLineLabels[a] == kLineLabels[p]) ? 1.0 : 0.0));
    // Positive hinges: (2,0) 1.0, (3,4) 1.7, (3,5) 3.0, (4,5) 0.1; 12 valid pairs.
    CHECK(m.loss == Approx(5.8 / 12).epsilon(1e-12));
}

TEST_CASE("batch-all averages the hinge over the active triplets", "[metric]") {
    const Mined m = mine(TripletMining::BatchAll);
    CHECK(m.loss == Approx(batch_all_reference(0.5)).epsilon(1e-12));
    // 6 anchors x 2 positives x 3 negatives valid triplets.
    double valid = 0;
    for (double w : m.weight) valid += w;
    CHECK(valid == 36);
}

TEST_CASE("an anchor without a positive or a negative in the batch is left out", "[metric]") {
    Graph g;
    Value e = g.input("e", {3, 2}, DType::F64);
    Value y = g.input("y", {3}, DType::I64);
    auto t = models::triplet_loss(e, y, {.margin = 0.5, .normalize = false, .squared = false});
    CompiledGraph c = compile(g, {t.loss, t.weight});
    // Labels 0, 0, 1: anchor 2 has no positive. Anchors 0 and 1: d_ap 1, d_an 3 and 2.
    auto out = c.run({{e, Tensor::from_vector(std::vector<double>{0, 0, 1, 0, 3, 0}, {3, 2})},
                      {y, Tensor::from_vector(std::vector<int64_t>{0, 0, 1}, {3})}});
    CHECK(out[1].data<double>()[2] == 0.0);
    CHECK(out[0].data<double>()[0] == Approx(0.0));  // 1 − 3 + 0.5 < 0 and 1 − 2 + 0.5 < 0
    // One class only: no anchor is valid, the loss is 0 rather than NaN.
    out = c.run({{e, Tensor::from_vector(std::vector<double>{0, 0, 1, 0, 3, 0}, {3, 2})},
                 {y, Tensor::from_vector(std::vector<int64_t>{4, 4, 4}, {3})}});
    CHECK(out[0].data<double>()[0] == 0.0);
}

TEST_CASE("triplet losses and SEC match central differences", "[metric][gradcheck]") {
    // P = 3 classes × K = 3, D = 4; random embeddings, so no selection or hinge sits on a kink.
    const Tensor e = random_tensor({9, 4}, 7);
    const Tensor y = Tensor::from_vector(std::vector<int64_t>{0, 0, 0, 1, 1, 1, 2, 2, 2}, {9});
    for (TripletMining mining : {TripletMining::BatchHard, TripletMining::SemiHard, TripletMining::BatchAll})
        for (bool squared : {true, false})
            for (bool normalize : {true, false}) {
                const std::string name = fmt::format("triplet {} {} {}", models::triplet_mining_name(mining),
                                                     squared ? "squared" : "euclidean", normalize ? "normalised" : "raw");
                SECTION(name) {
                    // A margin large enough that every chosen triplet is active: the check sees
                    // gradient through d_ap and d_an of every anchor.
                    const double margin = normalize ? (squared ? 4.0 : 2.0) : 20.0;
                    auto f = [=](Graph&, const std::vector<Value>& in) {
                        return std::vector<Value>{models::triplet_loss(in[0], in[1], {.margin = margin,
                                                                                      .mining = mining,
                                                                                      .normalize = normalize,
                                                                                      .squared = squared})
                                                      .loss};
                    };
                    check_gradients(name, f, {e, y}, {true, false});
                }
            }
    SECTION("spherical embedding constraint") {
        auto f = [](Graph&, const std::vector<Value>& in) {
            return std::vector<Value>{models::spherical_embedding_constraint(in[0])};
        };
        check_gradients("sec", f, {e}, {true});
    }
}

TEST_CASE("SEC is the variance of the norms; pairwise distances are exact on the diagonal", "[metric]") {
    Graph g;
    Value e = g.input("e", {4, 2}, DType::F64);
    Value sec = models::spherical_embedding_constraint(e);
    Value d = models::pairwise_distances(e, false);
    Value dx = grad(sum(d), {e})[0];
    CompiledGraph c = compile(g, {sec, d, dx});
    // Norms 1, 2, 2, 3 (mean 2, variance 0.5); rows 1 and 2 are the same point.
    auto out = c.run({{e, Tensor::from_vector(std::vector<double>{1, 0, 0, 2, 0, 2, 3, 0}, {4, 2})}});
    CHECK(out[0].data<double>()[0] == Approx(0.5));
    CHECK(out[1].data<double>()[0 * 4 + 3] == Approx(2.0));
    CHECK(out[1].data<double>()[1 * 4 + 2] == 0.0);  // duplicate points: distance 0 ...
    for (int i = 0; i < 4; ++i) CHECK(out[1].data<double>()[i * 5] == 0.0);
    for (int64_t i = 0; i < 8; ++i) CHECK(std::isfinite(out[2].data<double>()[i]));  // ... and a finite gradient
}

TEST_CASE("Recall@K ranks by cosine similarity on hand-made embeddings", "[metric]") {
    // Angles 0°, 10°, 25°, 90°, 100°, 180° with labels 0, 1, 0, 1, 1, 0; the norms differ (the
    // point at 90° has norm 5) but retrieval is by angle.
    const std::vector<double> deg = {0, 10, 25, 90, 100, 180}, norm = {1, 2, 0.5, 5, 1, 3};
    train::Embeddings e;
    e.count = 6;
    e.dim = 2;
    e.labels = {0, 1, 0, 1, 1, 0};
    for (int i = 0; i < 6; ++i) {
        const double r = deg[i] * M_PI / 180;
        e.values.push_back(static_cast<float>(norm[i] * std::cos(r)));
        e.values.push_back(static_cast<float>(norm[i] * std::sin(r)));
    }
    // Nearest others: 0→1 (miss), 1→0 (miss), 2→1 (miss), 3→4 (hit), 4→3 (hit), 5→4 (miss);
    // second nearest hits for 0 (2) and 2 (0); third for 1 (3) and 5 (2).
    const auto r = train::recall_at_k(e, {1, 2, 3});
    CHECK(r[0] == Approx(2.0 / 6));
    CHECK(r[1] == Approx(4.0 / 6));
    CHECK(r[2] == Approx(1.0));
    CHECK_THROWS_AS(train::recall_at_k(e, {6}), OptionError);

    const train::NormStats s = train::norm_stats(e);
    const double mean = (1 + 2 + 0.5 + 5 + 1 + 3) / 6.0;
    double var = 0;
    for (double n : norm) var += (n - mean) * (n - mean);
    CHECK(s.mean == Approx(mean).epsilon(1e-6));
    CHECK(s.std == Approx(std::sqrt(var / 6)).epsilon(1e-6));

    // PCA of points on a line along (3, 4): all variance on the first component.
    train::Embeddings line{.count = 4, .dim = 2, .values = {0, 0, 3, 4, 6, 8, -3, -4}, .labels = {0, 0, 1, 1}};
    const auto xy = train::pca_2d(line);
    CHECK(std::abs(xy[1][0] - xy[0][0]) == Approx(5.0f).epsilon(1e-5));
    for (const auto& p : xy) CHECK(std::abs(p[1]) < 1e-4f);
}

TEST_CASE("P x K batches hold P distinct classes of K distinct images each", "[metric]") {
    io::ImageDataset d = strokes(300, 5, 4);
    // Class 3 gets only 3 images: it cannot fill K = 4 and must never be drawn.
    int64_t kept3 = 0;
    for (auto& l : d.labels)
        if (l == 3 && ++kept3 > 3) l = 2;
    train::PKBatches pk(d, {.classes = 2, .per_class = 4, .seed = 9});
    CHECK(pk.num_batches() == 300 / 8);
    std::vector<Tensor> feeds{Tensor::zeros({8, 1, 8, 8}), Tensor::zeros({8}, DType::I64)};
    std::set<int64_t> classes_seen;
    for (int64_t b = 0; b < pk.num_batches(); ++b) {
        CHECK(pk.fill(b, feeds) == 8);
        const auto rows = pk.batch_rows(b);
        CHECK(std::set<int64_t>(rows.begin(), rows.end()).size() == 8);
        const int64_t* y = feeds[1].data<int64_t>();
        for (int c = 0; c < 2; ++c)
            for (int k = 0; k < 4; ++k) {
                CHECK(y[c * 4 + k] == y[c * 4]);
                CHECK(y[c * 4 + k] == d.labels[static_cast<std::size_t>(rows[c * 4 + k])]);
            }
        CHECK(y[0] != y[4]);
        classes_seen.insert(y[0]);
        classes_seen.insert(y[4]);
    }
    CHECK(classes_seen == std::set<int64_t>{0, 1, 2});
    // A pure function of (seed, epoch).
    const auto first = pk.batch_rows(0);
    pk.start_epoch(1);
    const auto other = pk.batch_rows(0);
    pk.start_epoch(0);
    CHECK(pk.batch_rows(0) == first);
    CHECK(other != first);
    CHECK_THROWS_AS(train::PKBatches(d, {.classes = 4, .per_class = 4}), OptionError);
}

TEST_CASE("triplet training lowers the loss on a fixed batch and retrieves by class", "[metric][train]") {
    const io::ImageDataset data = strokes(480, 3);
    for (double sec : {0.0, 1.0}) {
        auto p = train::build_embedding_program({.classes = 4,
                                                 .per_class = 4,
                                                 .chw = {1, 8, 8},
                                                 .dim = 8,
                                                 .triplet = {.margin = 0.2, .mining = TripletMining::SemiHard},
                                                 .sec = sec,
                                                 .seed = 2,
                                                 .net = small_net});
        train::PKBatches pk(data, {.classes = 4, .per_class = 4, .seed = 1});
        std::vector<Tensor> feeds{Tensor(p->x.desc()), Tensor(p->y.desc())};
        pk.fill(0, feeds);
        std::vector<Value> fetches{p->loss};
        fetches.insert(fetches.end(), p->grads.begin(), p->grads.end());
        CompiledGraph step = compile(*p->graph, fetches);
        optim::Adam opt(*p->graph, p->params, {.lr = 1e-2});
        double first = 0, last = 0;
        for (int s = 0; s < 40; ++s) {
            auto out = step.run({{p->x, feeds[0]}, {p->y, feeds[1]}});
            last = out[0].data<float>()[0];
            if (s == 0) first = last;
            opt.step(std::vector<Tensor>(out.begin() + 1, out.end()));
        }
        INFO("sec " << sec << ": loss " << first << " -> " << last);
        CHECK(last < 0.25 * first);
    }

    // The harness end to end: two epochs, then retrieval on held-out images well above chance (1/4).
    auto p = train::build_embedding_program({.classes = 4, .per_class = 4, .chw = {1, 8, 8}, .dim = 8, .sec = 0.1,
                                             .seed = 2, .net = small_net});
    optim::Adam opt(*p->graph, p->params, {.lr = 3e-3});
    const io::ImageDataset test = strokes(200, 11);
    auto r = train::train_embedding(*p, data, test, opt, nullptr, {.trainer = {.epochs = 2, .progress = false}});
    REQUIRE(r.train.records.size() == 2);
    CHECK(r.final_eval.embeddings.count == 200);
    CHECK(r.final_eval.recall[0] > 0.8);
    CHECK(r.final_eval.recall[1] >= r.final_eval.recall[0]);
    CHECK(r.train.final_eval.metric == r.final_eval.recall[0]);
}

TEST_CASE("metric-learning errors name what is wrong", "[metric]") {
    Graph g;
    Value e = g.input("e", {4, 3});
    CHECK_THROWS_AS(models::triplet_loss(e, g.input("y", {5}, DType::I64)), ShapeError);
    CHECK_THROWS_AS(models::triplet_loss(e, g.input("y2", {4})), ShapeError);  // f32 labels
    CHECK_THROWS_AS(models::triplet_loss(e, g.input("y3", {4}, DType::I64), {.margin = -1}), OptionError);
    CHECK_THROWS_AS(models::parse_triplet_mining("hardest"), OptionError);
    CHECK_THROWS_AS(train::build_embedding_program({.classes = 1}), OptionError);
}
