// Segmentation metrics on hand-made label maps (values worked out in the comments), the soft
// Dice and Jaccard losses against numeric differences, and the losses on hard one-hot
// predictions equal to 1 − the metrics.
#include <catch2/catch.hpp>

#include <cmath>

#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/gradcheck.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/loss.h"
#include "graphgrad/ops/overlap_loss.h"
#include "graphgrad/ops/softmax.h"
#include "graphgrad/train/segmentation_metrics.h"

using namespace gg;

namespace {

// One 2x3 image, 3 classes.
//   truth 0 0 1 / 1 2 2      pred 0 1 1 / 1 2 0
// class 0: pred {0,5}, truth {0,1}: I 1, U 3 → IoU 1/3, Dice 2/4
// class 1: pred {1,2,3}, truth {2,3}: I 2, U 3 → IoU 2/3, Dice 4/5
// class 2: pred {4}, truth {4,5}: I 1, U 2 → IoU 1/2, Dice 2/3
const std::vector<int64_t> kTruth{0, 0, 1, 1, 2, 2};
const std::vector<int64_t> kPred{0, 1, 1, 1, 2, 0};

Tensor hard_logits(const std::vector<int64_t>& pred, int64_t classes, double scale) {
    // [1, C, 2, 3]: `scale` at the predicted class, 0 elsewhere (softmax ≈ one-hot for large scale)
    Tensor t = Tensor::zeros({1, classes, 2, 3}, DType::F64);
    for (int64_t i = 0; i < 6; ++i) t.data<double>()[pred[static_cast<std::size_t>(i)] * 6 + i] = scale;
    return t;
}

double run_scalar(Graph& g, Value loss, const Feeds& feeds) { return compile(g, {loss}).run(feeds)[0].data<double>()[0]; }

}  // namespace

TEST_CASE("IoU and Dice of hand-made label maps", "[segmentation][metrics]") {
    train::OverlapCounts m(3);
    m.add(kPred.data(), kTruth.data(), 6);
    CHECK(m.iou(0) == Approx(1.0 / 3));
    CHECK(m.iou(1) == Approx(2.0 / 3));
    CHECK(m.iou(2) == Approx(0.5));
    CHECK(m.dice(0) == Approx(0.5));
    CHECK(m.dice(1) == Approx(0.8));
    CHECK(m.dice(2) == Approx(2.0 / 3));
    CHECK(m.mean_iou() == Approx(0.5));
    CHECK(m.mean_iou(false) == Approx((2.0 / 3 + 0.5) / 2));
    CHECK(m.mean_dice() == Approx((0.5 + 0.8 + 2.0 / 3) / 3));
    CHECK(m.pixel_accuracy() == Approx(4.0 / 6));
    // Accumulated over the dataset, not averaged per image: a second, perfect image of class 2
    // only adds to class 2's counts (I 1+6, U 2+6).
    const std::vector<int64_t> twos(6, 2);
    m.add(twos.data(), twos.data(), 6);
    CHECK(m.iou(2) == Approx(7.0 / 8));
    CHECK(m.iou(0) == Approx(1.0 / 3));
}

TEST_CASE("classes neither predicted nor present are left out of the means", "[segmentation][metrics]") {
    train::OverlapCounts m(4);
    m.add(kPred.data(), kTruth.data(), 6);
    CHECK(std::isnan(m.iou(3)));
    CHECK(std::isnan(m.dice(3)));
    CHECK(m.mean_iou() == Approx(0.5));
    // A class predicted but absent scores 0.
    const std::vector<int64_t> pred{3, 1, 1, 1, 2, 0};
    train::OverlapCounts n(4);
    n.add(pred.data(), kTruth.data(), 6);
    CHECK(n.iou(3) == 0.0);
    CHECK(n.iou(0) == 0.0);  // pred {5}, truth {0,1}: no intersection
    CHECK_THROWS_AS(n.add(std::vector<int64_t>{4}.data(), std::vector<int64_t>{0}.data(), 1), OptionError);
}

TEST_CASE("add_scores takes the argmax over classes and counts only valid rows", "[segmentation][metrics]") {
    Tensor scores = hard_logits(kPred, 3, 1.0).cast(DType::F32);
    train::OverlapCounts m(3);
    m.add_scores(scores, Tensor::from_vector<int64_t>(kTruth, {1, 2, 3}), 1);
    CHECK(m.mean_iou() == Approx(0.5));
    train::OverlapCounts none(3);
    none.add_scores(scores, Tensor::from_vector<int64_t>(kTruth, {1, 2, 3}), 0);
    CHECK(std::isnan(none.mean_iou()));
}

TEST_CASE("soft Dice and Jaccard losses on hard predictions are 1 - the metrics", "[segmentation][loss]") {
    for (int64_t classes : {3, 4}) {
        Graph g;
        Value x = g.input("x", {1, classes, 2, 3}, DType::F64);
        Value y = g.input("y", {1, 2, 3}, DType::I64);
        const Feeds feeds{{x, hard_logits(kPred, classes, 100.0)}, {y, Tensor::from_vector<int64_t>(kTruth, {1, 2, 3})}};
        if (classes == 3) {
            // ε = 0: exactly 1 − mean Dice and 1 − mean IoU over the classes (all present).
            CHECK(run_scalar(g, dice_loss(x, y, 0.0), feeds) == Approx(1 - (0.5 + 0.8 + 2.0 / 3) / 3).epsilon(1e-12));
            CHECK(run_scalar(g, jaccard_loss(x, y, 0.0), feeds) == Approx(0.5).epsilon(1e-12));
        } else {
            // ε = 1: class c scores (2I+1)/(P+Q+1) and (I+1)/(P+Q−I+1); absent class 3 scores 1.
            const double dice = (3.0 / 5 + 5.0 / 6 + 3.0 / 4 + 1.0) / 4;
            const double jac = (2.0 / 4 + 3.0 / 4 + 2.0 / 3 + 1.0) / 4;
            CHECK(run_scalar(g, dice_loss(x, y, 1.0), feeds) == Approx(1 - dice).epsilon(1e-12));
            CHECK(run_scalar(g, jaccard_loss(x, y, 1.0), feeds) == Approx(1 - jac).epsilon(1e-12));
        }
    }
}

TEST_CASE("soft Dice and Jaccard gradients match numeric differences", "[segmentation][loss][gradcheck]") {
    Tensor logits = Tensor::zeros({2, 3, 3, 2}, DType::F64);
    for (int64_t i = 0; i < logits.numel(); ++i) logits.data<double>()[i] = standard_normal(11, 1, static_cast<uint64_t>(i));
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < 12; ++i) labels.push_back(static_cast<int64_t>(random_bits(12, 1, static_cast<uint64_t>(i)) % 3));
    const Tensor y = Tensor::from_vector<int64_t>(labels, {2, 3, 2});
    for (double smooth : {0.0, 1.0}) {
        for (const bool dice : {true, false}) {
            GraphFunction f = [&](Graph&, const std::vector<Value>& in) {
                return std::vector<Value>{dice ? dice_loss(in[0], in[1], smooth) : jaccard_loss(in[0], in[1], smooth)};
            };
            for (const auto& r : gradcheck_function(dice ? "dice_loss" : "jaccard_loss", fmt::format("smooth {}", smooth),
                                                    f, {logits, y}, {true, false})) {
                INFO(r.describe());
                CHECK(r.passed);
            }
        }
    }
}

TEST_CASE("overlap losses refuse mismatched labels", "[segmentation][loss]") {
    Graph g;
    Value x = g.input("x", {2, 3, 4, 4});
    CHECK_THROWS_WITH(dice_loss(x, g.input("y", {2, 4, 5}, DType::I64)), Catch::Contains("dice"));
    CHECK_THROWS_WITH(jaccard_loss(x, g.input("z", {2, 4, 4})), Catch::Contains("i64 labels"));
    CHECK_THROWS_WITH(dice_loss(x, g.input("w", {2, 4, 4}, DType::I64), -1.0), Catch::Contains("smoothing"));
}

TEST_CASE("one_hot puts the classes on the requested axis", "[segmentation][loss]") {
    Graph g;
    Value y = g.input("y", {2, 3}, DType::I64);
    auto out = compile(g, {one_hot(y, 4), one_hot(y, 4, -1, DType::F64)})
                   .run({{y, Tensor::from_vector<int64_t>({0, 3, 1, 2, 2, 0}, {2, 3})}});
    REQUIRE(out[0].shape() == Shape{2, 4, 3});
    REQUIRE(out[1].shape() == Shape{2, 3, 4});
    const std::vector<int64_t> labels{0, 3, 1, 2, 2, 0};
    for (int64_t n = 0; n < 2; ++n)
        for (int64_t p = 0; p < 3; ++p)
            for (int64_t c = 0; c < 4; ++c) {
                const double want = labels[static_cast<std::size_t>(n * 3 + p)] == c ? 1.0 : 0.0;
                CHECK(out[0].data<float>()[(n * 4 + c) * 3 + p] == want);
                CHECK(out[1].data<double>()[(n * 3 + p) * 4 + c] == want);
            }
    CHECK_THROWS_WITH(compile(g, {one_hot(y, 3)}).run({{y, Tensor::from_vector<int64_t>({0, 3, 1, 2, 2, 0}, {2, 3})}}),
                      Catch::Contains("label 3 at index 1 is outside [0, 3)"));
}
