// Detection evaluation on hand-made cases whose AP is worked out in the comments: perfect
// detections, a duplicate, a miss, the effect of score order, classes without ground truth;
// and greedy NMS on cases where suppression chains.
#include <catch2/catch.hpp>

#include <cmath>

#include "graphgrad/graph/errors.h"
#include "graphgrad/train/detection_eval.h"

using namespace gg;
using namespace gg::train;

namespace {

const Box kA{0, 0, 10, 10}, kB{0, 0, 10, 10}, kC{20, 20, 30, 30};
// Class 0: A in image 0; B and C in image 1.
const std::vector<GroundTruth> kTruth{{0, 0, kA}, {1, 0, kB}, {1, 0, kC}};

Detection det(int64_t image, float score, Box b, int64_t cls = 0) { return {image, cls, score, b}; }

}  // namespace

TEST_CASE("box IoU", "[detection][eval]") {
    CHECK(box_iou({0, 0, 10, 10}, {5, 0, 15, 10}) == Approx(50.0 / 150));
    CHECK(box_iou({0, 0, 10, 10}, {0, 0, 10, 10}) == 1.0);
    CHECK(box_iou({0, 0, 10, 10}, {10, 0, 20, 10}) == 0.0);  // touching edges
    CHECK(box_iou({0, 0, 0, 0}, {0, 0, 0, 0}) == 0.0);
}

TEST_CASE("average precision of hand-made detections", "[detection][eval]") {
    SECTION("perfect detections score 1 whatever their scores") {
        CHECK(average_precision({det(1, 0.2f, kC), det(0, 0.9f, kA), det(1, 0.5f, kB)}, kTruth, 0) == Approx(1.0));
    }
    SECTION("a duplicate is a false positive") {
        // TP FP TP TP: precision 1, 1/2, 2/3, 3/4 at recall 1/3, 1/3, 2/3, 1; the envelope is
        // 1, 3/4, 3/4, 3/4: AP = 1/3 · 1 + 1/3 · 3/4 + 1/3 · 3/4 = 5/6.
        const std::vector<Detection> d{det(0, 0.9f, kA), det(0, 0.8f, {1, 0, 11, 10}), det(1, 0.7f, kB), det(1, 0.6f, kC)};
        CHECK(average_precision(d, kTruth, 0) == Approx(5.0 / 6));
    }
    SECTION("a miss caps recall") {
        CHECK(average_precision({det(0, 0.9f, kA), det(1, 0.8f, kB)}, kTruth, 0) == Approx(2.0 / 3));
    }
    SECTION("order matters: a false positive ranked first costs precision everywhere") {
        const Detection wrong = det(0, 0.95f, {40, 40, 50, 50});
        // FP TP TP TP: precision 0, 1/2, 2/3, 3/4 at recall 0, 1/3, 2/3, 1; envelope 3/4: AP 3/4.
        CHECK(average_precision({wrong, det(0, 0.9f, kA), det(1, 0.8f, kB), det(1, 0.7f, kC)}, kTruth, 0) == Approx(0.75));
        // Ranked last it adds no recall: AP 1.
        Detection last = wrong;
        last.score = 0.1f;
        CHECK(average_precision({last, det(0, 0.9f, kA), det(1, 0.8f, kB), det(1, 0.7f, kC)}, kTruth, 0) == Approx(1.0));
    }
    SECTION("IoU below the threshold is a false positive; a lower threshold accepts it") {
        const std::vector<Detection> d{det(0, 0.9f, {5, 0, 15, 10})};  // IoU 1/3 with A
        CHECK(average_precision(d, kTruth, 0, 0.5) == 0.0);
        CHECK(average_precision(d, kTruth, 0, 0.3) == Approx(1.0 / 3));  // recall 1/3 at precision 1
    }
    SECTION("the wrong image or class does not match") {
        CHECK(average_precision({det(2, 0.9f, kA), det(0, 0.8f, kA, 1)}, kTruth, 0) == 0.0);
    }
}

TEST_CASE("mAP averages over the classes with ground truth", "[detection][eval]") {
    std::vector<GroundTruth> truth = kTruth;
    truth.push_back({0, 1, {30, 30, 40, 40}});
    // Class 0 perfect (1), class 1 missed (0), class 2 has detections but no ground truth: left out.
    const std::vector<Detection> d{det(0, 0.9f, kA), det(1, 0.9f, kB), det(1, 0.9f, kC), det(0, 0.9f, kA, 2)};
    const ApReport r = mean_average_precision(d, truth, 3);
    CHECK(r.ap[0] == Approx(1.0));
    CHECK(r.ap[1] == 0.0);
    CHECK(std::isnan(r.ap[2]));
    CHECK(r.truths == std::vector<int64_t>{3, 1, 0});
    CHECK(r.mean_ap == Approx(0.5));
    CHECK_THROWS_AS(mean_average_precision(d, truth, 2), OptionError);  // class 2 outside [0, 2)
    CHECK_THROWS_AS(mean_average_precision(d, truth, 3, 0.0), OptionError);
}

TEST_CASE("greedy NMS per image and class", "[detection][nms]") {
    const Box a{0, 0, 10, 10}, b{1, 0, 11, 10}, c{9, 0, 19, 10};  // IoU(a,b) = 90/110, IoU(a,c) = 10/190
    std::vector<Detection> d{det(0, 0.8f, b), det(0, 0.9f, a), det(0, 0.7f, c), det(0, 0.5f, b, 1), det(1, 0.1f, b)};
    const std::vector<Detection> kept = nms(d, 0.5);
    // Image 0 class 0: a kept, b suppressed by a, c kept (it overlaps only b, which is gone);
    // class 1 and image 1 are separate groups.
    REQUIRE(kept.size() == 4);
    CHECK(kept[0].score == 0.9f);
    CHECK(kept[1].score == 0.7f);
    CHECK(kept[2].cls == 1);
    CHECK(kept[3].image == 1);
    // A threshold above IoU(a, b) keeps b too.
    CHECK(nms(d, 0.85).size() == 5);
    // Brute force on a line of boxes 2 apart (IoU of neighbours 8/12): every other one survives.
    std::vector<Detection> line;
    for (int i = 0; i < 9; ++i) line.push_back(det(0, 1.0f - 0.1f * i, {2.0f * i, 0, 2.0f * i + 10, 10}));
    const auto thinned = nms(line, 0.5);
    for (const Detection& k : thinned)
        for (const Detection& other : thinned)
            if (&k != &other) CHECK(box_iou(k.box, other.box) <= 0.5);
    for (const Detection& x : line) {  // every dropped box overlaps a kept, higher-scored one
        bool kept_it = false, covered = false;
        for (const Detection& k : thinned) {
            kept_it |= k.score == x.score;
            covered |= k.score > x.score && box_iou(k.box, x.box) > 0.5;
        }
        CHECK(kept_it != covered);
    }
}
