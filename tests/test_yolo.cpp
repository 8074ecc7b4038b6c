// YOLO v1: target encoding by hand, decoding as its inverse, the loss against a plain
// reference loop written from the paper's formula, and its gradient against the formula's
// derivative (the IoU target and responsible mask held constant, as the loss defines them:
// numeric differences would also move the target, so gradcheck does not apply).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "graphgrad/graph/autodiff.h"
#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/models/yolo.h"
#include "graphgrad/train/yolo.h"

using namespace gg;

namespace {

const models::YoloV1Options kSmall{.grid = 2, .boxes = 2, .classes = 3};

double iou_ref(double ax0, double ay0, double ax1, double ay1, double bx0, double by0, double bx1, double by1) {
    const double w = std::max(0.0, std::min(ax1, bx1) - std::max(ax0, bx0));
    const double h = std::max(0.0, std::min(ay1, by1) - std::max(ay0, by0));
    const double u = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - w * h;
    return w * h / (u + 1e-9);
}

struct Case {
    Tensor pred, boxes, object, classes;
};

// N = 2, S = 2: objects in cells (0,0,0) and (1,1,1) and (0,1,0); random predictions with
// positive √w, √h near the targets so that IoUs differ between the two predictors.
Case make_case() {
    const int64_t n = 2, s = 2, cells = 4, ch = 13;
    Case c{Tensor::zeros({n, ch, s, s}, DType::F64), Tensor::zeros({n, 4, s, s}, DType::F64),
           Tensor::zeros({n, 1, s, s}, DType::F64), Tensor::zeros({n, 3, s, s}, DType::F64)};
    auto u = [](uint64_t i) { return uniform01(21, 1, i); };
    for (int64_t i = 0; i < c.pred.numel(); ++i) c.pred.data<double>()[i] = 0.2 + 0.6 * u(static_cast<uint64_t>(i));
    const int64_t cells_with_objects[3][2] = {{0, 0}, {1, 3}, {0, 2}};  // (sample, cell)
    for (int k = 0; k < 3; ++k) {
        const int64_t b = cells_with_objects[k][0], cell = cells_with_objects[k][1];
        for (int j = 0; j < 4; ++j) c.boxes.data<double>()[(b * 4 + j) * cells + cell] = 0.3 + 0.4 * u(1000 + 4 * k + j);
        c.object.data<double>()[b * cells + cell] = 1;
        c.classes.data<double>()[(b * 3 + k % 3) * cells + cell] = 1;
    }
    return c;
}

struct RefLoss {
    double total = 0;
    std::vector<double> grad;  // d total / d pred, with IoU and responsibility held constant
};

RefLoss reference(const Case& c) {
    const int64_t n = 2, s = 2, cells = 4, ch = 13;
    const double* p = c.pred.data<double>();
    RefLoss r;
    r.grad.assign(static_cast<std::size_t>(c.pred.numel()), 0.0);
    for (int64_t b = 0; b < n; ++b)
        for (int64_t cell = 0; cell < cells; ++cell) {
            const double col = static_cast<double>(cell % s), row = static_cast<double>(cell / s);
            auto P = [&](int64_t k) { return p[(b * ch + k) * cells + cell]; };
            auto at = [&](int64_t k) { return static_cast<std::size_t>((b * ch + k) * cells + cell); };
            const double* t = c.boxes.data<double>();
            auto T = [&](int64_t k) { return t[(b * 4 + k) * cells + cell]; };
            const bool obj = c.object.data<double>()[b * cells + cell] > 0;
            auto box = [&](double x, double y, double sw, double sh, double out[4]) {
                const double cx = (x + col) / s, cy = (y + row) / s;
                out[0] = cx - sw * sw / 2, out[1] = cy - sh * sh / 2, out[2] = cx + sw * sw / 2, out[3] = cy + sh * sh / 2;
            };
            double tb[4], pb[2][4], iou[2];
            box(T(0), T(1), T(2), T(3), tb);
            for (int64_t j = 0; j < 2; ++j) {
                box(P(5 * j), P(5 * j + 1), P(5 * j + 2), P(5 * j + 3), pb[j]);
                iou[j] = iou_ref(pb[j][0], pb[j][1], pb[j][2], pb[j][3], tb[0], tb[1], tb[2], tb[3]);
            }
            const int64_t responsible = !obj ? -1 : (iou[0] >= iou[1] ? 0 : 1);
            for (int64_t j = 0; j < 2; ++j) {
                const double conf = P(5 * j + 4);
                if (j == responsible) {
                    for (int64_t k = 0; k < 4; ++k) {
                        const double d = P(5 * j + k) - T(k);
                        r.total += 5.0 * d * d / n;
                        r.grad[at(5 * j + k)] = 2 * 5.0 * d / n;
                    }
                    r.total += (conf - iou[j]) * (conf - iou[j]) / n;
                    r.grad[at(5 * j + 4)] = 2 * (conf - iou[j]) / n;
                } else {
                    r.total += 0.5 * conf * conf / n;
                    r.grad[at(5 * j + 4)] = 2 * 0.5 * conf / n;
                }
            }
            if (obj)
                for (int64_t k = 0; k < 3; ++k) {
                    const double d = P(10 + k) - c.classes.data<double>()[(b * 3 + k) * cells + cell];
                    r.total += d * d / n;
                    r.grad[at(10 + k)] = 2 * d / n;
                }
        }
    return r;
}

}  // namespace

TEST_CASE("YOLO v1 loss and its gradient match the paper's formula", "[yolo][loss]") {
    const Case c = make_case();
    Graph g;
    Value pred = g.input("pred", {2, 13, 2, 2}, DType::F64);
    Value boxes = g.input("boxes", {2, 4, 2, 2}, DType::F64);
    Value object = g.input("object", {2, 1, 2, 2}, DType::F64);
    Value classes = g.input("classes", {2, 3, 2, 2}, DType::F64);
    const models::YoloV1Loss l = models::yolo_v1_loss(pred, boxes, object, classes, kSmall);
    const Value dpred = grad(l.total, {pred})[0];
    auto out = compile(g, {l.total, l.coord, l.object, l.no_object, l.classes, dpred})
                   .run({{pred, c.pred}, {boxes, c.boxes}, {object, c.object}, {classes, c.classes}});
    const RefLoss ref = reference(c);
    CHECK(out[0].data<double>()[0] == Approx(ref.total).epsilon(1e-12));
    double parts = 0;
    for (int i = 1; i <= 4; ++i) parts += out[static_cast<std::size_t>(i)].data<double>()[0];
    CHECK(parts == Approx(ref.total).epsilon(1e-12));
    for (std::size_t i = 0; i < ref.grad.size(); ++i) {
        INFO("pred element " << i);
        CHECK(out[5].data<double>()[i] == Approx(ref.grad[i]).margin(1e-12));
    }
}

TEST_CASE("YOLO targets put each box in the cell of its centre", "[yolo][targets]") {
    const models::YoloV1Options o{.grid = 7, .classes = 10};
    Tensor tb = Tensor::zeros({2, 4, 7, 7}), ob = Tensor::zeros({2, 1, 7, 7}), tc = Tensor::zeros({2, 10, 7, 7});
    // Centre (16, 28) on a 56-pixel canvas: column 2 (offset 0), row 3 (offset 0.5); a smaller
    // box centred in the same cell loses to it; another in cell (0, 6).
    train::encode_yolo_targets({{8, 16, 24, 40, 4}, {15, 27, 19, 29, 1}, {48, 0, 56, 4, 9}}, 56, o, 1, tb, ob, tc);
    auto at = [](const Tensor& t, int64_t ch, int64_t r, int64_t c, int64_t chans) {
        return t.data<float>()[((1 * chans + ch) * 7 + r) * 7 + c];
    };
    CHECK(at(ob, 0, 3, 2, 1) == 1.0f);
    CHECK(at(tb, 0, 3, 2, 4) == Approx(0.0));
    CHECK(at(tb, 1, 3, 2, 4) == Approx(0.5));
    CHECK(at(tb, 2, 3, 2, 4) == Approx(std::sqrt(16.0 / 56)));
    CHECK(at(tb, 3, 3, 2, 4) == Approx(std::sqrt(24.0 / 56)));
    CHECK(at(tc, 4, 3, 2, 10) == 1.0f);
    CHECK(at(tc, 1, 3, 2, 10) == 0.0f);
    CHECK(at(ob, 0, 0, 6, 1) == 1.0f);
    CHECK(at(tc, 9, 0, 6, 10) == 1.0f);
    float objects = 0;
    for (int64_t i = 0; i < ob.numel(); ++i) objects += ob.data<float>()[i];
    CHECK(objects == 2.0f);  // row 0 untouched, two cells in row 1
}

TEST_CASE("decoding perfect predictions gives back the boxes", "[yolo][decode]") {
    const models::YoloV1Options o{.grid = 7, .classes = 10};
    const std::vector<io::CanvasBox> truth{{8, 16, 24, 40, 4}, {30, 2, 50, 20, 7}};
    Tensor tb = Tensor::zeros({1, 4, 7, 7}), ob = Tensor::zeros({1, 1, 7, 7}), tc = Tensor::zeros({1, 10, 7, 7});
    train::encode_yolo_targets(truth, 56, o, 0, tb, ob, tc);
    // Predictor 0 = the target with confidence 1, predictor 1 empty; classes as targets.
    Tensor pred = Tensor::zeros({1, 20, 7, 7});
    for (int64_t cell = 0; cell < 49; ++cell) {
        for (int k = 0; k < 4; ++k) pred.data<float>()[k * 49 + cell] = tb.data<float>()[k * 49 + cell];
        pred.data<float>()[4 * 49 + cell] = ob.data<float>()[cell];
        for (int c = 0; c < 10; ++c) pred.data<float>()[(10 + c) * 49 + cell] = tc.data<float>()[c * 49 + cell];
    }
    const auto d = train::nms(train::decode_yolo(pred, 0, 5, 56, o, 0.5), 0.5);
    REQUIRE(d.size() == 2);
    for (const auto& x : d) {
        CHECK(x.image == 5);
        CHECK(x.score == Approx(1.0));
        const io::CanvasBox& t = x.cls == 4 ? truth[0] : truth[1];
        CHECK(x.box.x0 == Approx(t.x0).margin(1e-4));
        CHECK(x.box.y0 == Approx(t.y0).margin(1e-4));
        CHECK(x.box.x1 == Approx(t.x1).margin(1e-4));
        CHECK(x.box.y1 == Approx(t.y1).margin(1e-4));
    }
    std::vector<train::GroundTruth> gt;
    for (const auto& t : truth) gt.push_back({5, t.cls, {t.x0, t.y0, t.x1, t.y1}});
    CHECK(train::mean_average_precision(d, gt, 10).mean_ap == Approx(1.0));
}
