// Behaviour tests of the detection ops (ops/detection.h) beyond the registry's generic ones:
// hand-computed values, box_iou and nms against brute force written independently of the
// kernels (other loop orders, the textbook formulations), ties and empty input, RoI pooling
// and RoIAlign against per-pixel brute force, their gradients' routing and run-time errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "graphgrad/graph/rng.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/ops.h"
#include "test_support.h"

using namespace gg;

namespace {

double u01(uint64_t seed, uint64_t stream, uint64_t i) { return uniform01(seed, stream, i); }

// n boxes around a few cluster centres (so many overlap), corners in any order of size.
std::vector<double> random_boxes(int64_t n, uint64_t seed) {
    std::vector<double> v;
    for (int64_t i = 0; i < n; ++i) {
        const auto k = static_cast<uint64_t>(i);
        const double cx = 10.0 * std::floor(3 * u01(seed, 1, k)) + 2 * u01(seed, 2, k);
        const double cy = 10.0 * std::floor(2 * u01(seed, 3, k)) + 2 * u01(seed, 4, k);
        const double w = 1 + 6 * u01(seed, 5, k), h = 1 + 6 * u01(seed, 6, k);
        v.insert(v.end(), {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2});
    }
    return v;
}

// IoU from the intersection rectangle's corners, written apart from the kernel's formula.
double brute_iou(const double* a, const double* b) {
    const double ix1 = a[0] > b[0] ? a[0] : b[0], iy1 = a[1] > b[1] ? a[1] : b[1];
    const double ix2 = a[2] < b[2] ? a[2] : b[2], iy2 = a[3] < b[3] ? a[3] : b[3];
    const double inter = (ix2 > ix1 && iy2 > iy1) ? (ix2 - ix1) * (iy2 - iy1) : 0.0;
    const double uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return uni > 0 ? inter / uni : 0.0;
}

// The textbook greedy NMS: while boxes remain, take the best (highest score, then lowest
// index) and drop every remaining box overlapping it by more than t.
std::vector<int64_t> brute_nms(const std::vector<double>& boxes, const std::vector<double>& scores, double t) {
    std::set<int64_t> remaining;
    for (int64_t i = 0; i < static_cast<int64_t>(scores.size()); ++i) remaining.insert(i);
    std::vector<int64_t> kept;
    while (!remaining.empty()) {
        int64_t best = *remaining.begin();
        for (int64_t i : remaining)
            if (scores[static_cast<std::size_t>(i)] > scores[static_cast<std::size_t>(best)]) best = i;
        kept.push_back(best);
        remaining.erase(best);
        for (auto it = remaining.begin(); it != remaining.end();)
            it = brute_iou(&boxes[4 * static_cast<std::size_t>(best)], &boxes[4 * static_cast<std::size_t>(*it)]) > t
                     ? remaining.erase(it) : std::next(it);
    }
    return kept;
}

std::vector<int64_t> run_nms(const std::vector<double>& boxes, const std::vector<double>& scores, double t, DType dt) {
    const auto n = static_cast<int64_t>(scores.size());
    Graph g;
    Value b = g.input("boxes", {n, 4}, dt), s = g.input("scores", {n}, dt);
    Value keep = nms(b, s, t);
    const Tensor out = compile(g, {keep}).run({{b, Tensor::from_vector<double>(boxes, {n, 4}).cast(dt)},
                                               {s, Tensor::from_vector<double>(scores, {n}).cast(dt)}})[0];
    std::vector<int64_t> kept;
    for (int64_t i = 0; i < n; ++i) {
        const auto v = static_cast<int64_t>(out.get(i));
        if (v >= 0) {
            REQUIRE(static_cast<int64_t>(kept.size()) == i);  // −1 only after every kept index
            kept.push_back(v);
        }
    }
    return kept;
}

std::vector<double> run_iou(const std::vector<double>& a, const std::vector<double>& b, DType dt) {
    const auto n = static_cast<int64_t>(a.size() / 4), m = static_cast<int64_t>(b.size() / 4);
    Graph g;
    Value va = g.input("a", {n, 4}, dt), vb = g.input("b", {m, 4}, dt);
    Value iou = box_iou(va, vb);
    return compile(g, {iou}).run({{va, Tensor::from_vector<double>(a, {n, 4}).cast(dt)},
                                  {vb, Tensor::from_vector<double>(b, {m, 4}).cast(dt)}})[0].to_doubles();
}

}  // namespace

TEST_CASE("box_iou: hand values, degenerate pairs and brute force", "[ops][detection]") {
    // 2x2 boxes overlapping in a unit square: 1 / (4 + 4 − 1); identical: 1; disjoint and
    // edge-touching: 0; two zero-area boxes (union 0): 0, not torchvision's NaN.
    const std::vector<double> a{0, 0, 2, 2, 5, 5, 5, 5};
    const std::vector<double> b{1, 1, 3, 3, 0, 0, 2, 2, 2, 0, 4, 2, 5, 5, 5, 5};
    const auto iou = run_iou(a, b, DType::F64);
    CHECK(iou == std::vector<double>{1.0 / 7, 1, 0, 0, 0, 0, 0, 0});

    for (DType dt : {DType::F32, DType::F64})
        for (uint64_t seed : {1, 2, 3}) {
            const auto ba = random_boxes(7, seed), bb = random_boxes(5, seed + 10);
            const auto got = run_iou(ba, bb, dt);
            for (std::size_t i = 0; i < 7; ++i)
                for (std::size_t j = 0; j < 5; ++j) {
                    INFO("seed " << seed << " pair " << i << "," << j);
                    CHECK(got[i * 5 + j] == Approx(brute_iou(&ba[4 * i], &bb[4 * j])).margin(1e-6));
                }
        }
}

TEST_CASE("box_iou's gradient: exact where smooth, zero without overlap or union", "[ops][detection][grad]") {
    // a = (0,0,2,2), b = (1,1,3,3): I = 1, U = 7. ∂IoU/∂a.x2 = (U+I)/U²·h − I/U²·(a's height 2)
    // = 8/49 − 2/49 = 6/49; ∂IoU/∂a.x1 = −I/U²·(−2) = 2/49 (a.x1 is not the intersection's edge).
    Graph g;
    Value a = g.input("a", {3, 4}, DType::F64), b = g.input("b", {1, 4}, DType::F64);
    auto grads = grad(sum(box_iou(a, b)), {a, b});
    auto r = compile(g, {grads[0], grads[1]})
                 .run({{a, Tensor::from_vector<double>({0, 0, 2, 2, 10, 10, 12, 12, 4, 4, 4, 4}, {3, 4})},
                       {b, Tensor::from_vector<double>({1, 1, 3, 3}, {1, 4})}});
    const auto da = r[0].to_doubles();
    CHECK(da[0] == Approx(2.0 / 49));
    CHECK(da[1] == Approx(2.0 / 49));
    CHECK(da[2] == Approx(6.0 / 49));
    CHECK(da[3] == Approx(6.0 / 49));
    for (std::size_t k = 4; k < 12; ++k) CHECK(da[k] == 0);  // disjoint, and a zero-area box outside b
    // b gets only the first pair's terms: ∂/∂b.x1 = −(8/49)·1 + 2/49 = −6/49.
    CHECK(r[1].to_doubles()[0] == Approx(-6.0 / 49));
}

TEST_CASE("nms matches brute-force greedy suppression on random boxes", "[ops][detection]") {
    for (DType dt : {DType::F32, DType::F64})
        for (uint64_t seed = 1; seed <= 8; ++seed)
            for (double t : {0.0, 0.3, 0.5, 0.7, 1.0}) {
                const int64_t n = 4 + static_cast<int64_t>(seed) * 5;
                const auto boxes = random_boxes(n, seed);
                std::vector<double> scores;
                for (int64_t i = 0; i < n; ++i) scores.push_back(u01(seed, 9, static_cast<uint64_t>(i)));
                INFO("seed " << seed << " threshold " << t << " " << dtype_name(dt));
                CHECK(run_nms(boxes, scores, t, dt) == brute_nms(boxes, scores, t));
            }
}

TEST_CASE("nms: ties go to the lower index, identical boxes collapse, thresholds are strict", "[ops][detection]") {
    // Boxes 0 and 2 tie on score and overlap (IoU 0.81 > 0.5): the lower index survives.
    const std::vector<double> boxes{0, 0, 10, 10, 50, 50, 60, 60, 0, 0, 9, 9, 0, 0, 10, 10};
    CHECK(run_nms(boxes, {0.5, 0.9, 0.5, 0.2}, 0.5, DType::F32) == std::vector<int64_t>{1, 0});
    // IoU exactly 0.81 is not above a threshold of 0.81: box 2 is kept.
    CHECK(run_nms(boxes, {0.5, 0.9, 0.5, 0.2}, 0.81, DType::F64) == std::vector<int64_t>{1, 0, 2});
    // All scores equal and no overlap: every box, in index order.
    CHECK(run_nms({0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5}, {1, 1, 1}, 0.5, DType::F32) == std::vector<int64_t>{0, 1, 2});
    // One box.
    CHECK(run_nms({0, 0, 1, 1}, {0.3}, 0.5, DType::F32) == std::vector<int64_t>{0});
}

TEST_CASE("nms over no boxes gives no indices", "[ops][detection]") {
    CHECK(run_nms({}, {}, 0.5, DType::F32).empty());
}

namespace {

Tensor iota_map(const Shape& s) {
    Tensor t(TensorDesc{s, DType::F64});
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, static_cast<double>(i + 1));
    return t;
}

Tensor random_map(const Shape& s, uint64_t seed) {
    Tensor t(TensorDesc{s, DType::F64});
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, 4 * u01(seed, 11, static_cast<uint64_t>(i)) - 2);
    return t;
}

// roi_pool by brute force: for each bin, every pixel of the map is tested for membership.
std::vector<double> brute_roi_pool(const Tensor& x, const std::vector<double>& rois, int64_t ph, int64_t pw, double scale) {
    const Shape& s = x.shape();
    std::vector<double> out;
    for (std::size_t r = 0; r < rois.size() / 5; ++r) {
        const double* roi = &rois[5 * r];
        const auto b = static_cast<int64_t>(roi[0]);
        const double x1 = std::round(roi[1] * scale), y1 = std::round(roi[2] * scale);
        const double rw = std::max(std::round(roi[3] * scale) - x1 + 1, 1.0), rh = std::max(std::round(roi[4] * scale) - y1 + 1, 1.0);
        for (int64_t c = 0; c < s[1]; ++c)
            for (int64_t i = 0; i < ph; ++i)
                for (int64_t j = 0; j < pw; ++j) {
                    const double bh = rh / static_cast<double>(ph), bw = rw / static_cast<double>(pw);  // bin sizes
                    const double lo_y = y1 + std::floor(static_cast<double>(i) * bh), hi_y = y1 + std::ceil(static_cast<double>(i + 1) * bh);
                    const double lo_x = x1 + std::floor(static_cast<double>(j) * bw), hi_x = x1 + std::ceil(static_cast<double>(j + 1) * bw);
                    bool any = false;
                    double best = 0;
                    for (int64_t yy = 0; yy < s[2]; ++yy)
                        for (int64_t xx = 0; xx < s[3]; ++xx) {
                            const auto fy = static_cast<double>(yy), fx = static_cast<double>(xx);
                            if (fy < lo_y || fy >= hi_y || fx < lo_x || fx >= hi_x) continue;
                            const double v = x.get(((b * s[1] + c) * s[2] + yy) * s[3] + xx);
                            best = any ? std::max(best, v) : v;
                            any = true;
                        }
                    out.push_back(best);  // an empty bin: 0
                }
    }
    return out;
}

// Bilinear read of one plane at (y, x) with RoIAlign's border rules, written out directly.
double bilinear(const Tensor& x, int64_t plane, int64_t h, int64_t w, double y, double xx) {
    if (y < -1 || y > static_cast<double>(h) || xx < -1 || xx > static_cast<double>(w)) return 0;
    y = std::clamp(y, 0.0, static_cast<double>(h - 1));
    xx = std::clamp(xx, 0.0, static_cast<double>(w - 1));
    const auto y0 = static_cast<int64_t>(std::floor(y)), x0 = static_cast<int64_t>(std::floor(xx));
    const int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
    const double ly = y - static_cast<double>(y0), lx = xx - static_cast<double>(x0);
    auto at = [&](int64_t a, int64_t b) { return x.get(plane + a * w + b); };
    return (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
}

std::vector<double> brute_roi_align(const Tensor& x, const std::vector<double>& rois, const RoiAlignOptions& o) {
    const Shape& s = x.shape();
    const int64_t ph = o.output_size[0], pw = o.output_size[1];
    const double off = o.aligned ? 0.5 : 0.0;
    std::vector<double> out;
    for (std::size_t r = 0; r < rois.size() / 5; ++r) {
        const double* roi = &rois[5 * r];
        const auto b = static_cast<int64_t>(roi[0]);
        const double x1 = roi[1] * o.spatial_scale - off, y1 = roi[2] * o.spatial_scale - off;
        double rw = roi[3] * o.spatial_scale - off - x1, rh = roi[4] * o.spatial_scale - off - y1;
        if (!o.aligned) rw = std::max(rw, 1.0), rh = std::max(rh, 1.0);
        const double bh = rh / static_cast<double>(ph), bw = rw / static_cast<double>(pw);
        const int64_t gh = o.sampling_ratio > 0 ? o.sampling_ratio : static_cast<int64_t>(std::ceil(bh));
        const int64_t gw = o.sampling_ratio > 0 ? o.sampling_ratio : static_cast<int64_t>(std::ceil(bw));
        for (int64_t c = 0; c < s[1]; ++c)
            for (int64_t i = 0; i < ph; ++i)
                for (int64_t j = 0; j < pw; ++j) {
                    double acc = 0;
                    for (int64_t iy = 0; iy < gh; ++iy)
                        for (int64_t ix = 0; ix < gw; ++ix)
                            acc += bilinear(x, (b * s[1] + c) * s[2] * s[3], s[2], s[3],
                                            y1 + bh * (static_cast<double>(i) + (static_cast<double>(iy) + 0.5) / static_cast<double>(gh)),
                                            x1 + bw * (static_cast<double>(j) + (static_cast<double>(ix) + 0.5) / static_cast<double>(gw)));
                    out.push_back(acc / static_cast<double>(std::max<int64_t>(gh * gw, 1)));
                }
    }
    return out;
}

const std::vector<double> kRois{0, 0.4, 1.2, 4.6, 5.1, 1, 2, 0, 6, 3, 0, 3.3, 3.3, 3.4, 3.4,
                                1, -3, -2, 1.2, 2.2, 0, 20, 20, 30, 30, 1, 0, 0, 6, 5, 0, 1.5, 2.5, 1.5, 2.5};

}  // namespace

TEST_CASE("roi_pool: hand values, argmax and brute force", "[ops][detection][roi]") {
    Graph g;
    Value x = g.input("x", {1, 1, 4, 4}, DType::F64), rois = g.input("rois", {2, 5}, DType::F64);
    auto outs = g.add_node(op_def("roi_pool"), {x, rois}, RoiPoolOptions{{2, 2}, 1.0});
    // RoI 0 covers the map: quadrant maxima of 1..16. RoI 1 lies outside: empty bins give 0
    // and point at the sink N·C·H·W = 16.
    auto r = compile(g, {outs[0], outs[1]}).run({{x, iota_map({1, 1, 4, 4})},
                                                 {rois, Tensor::from_vector<double>({0, 0, 0, 3, 3, 0, 9, 9, 12, 12}, {2, 5})}});
    CHECK(r[0].to_doubles() == std::vector<double>{6, 8, 14, 16, 0, 0, 0, 0});
    CHECK(r[1].to_doubles() == std::vector<double>{5, 7, 13, 15, 16, 16, 16, 16});

    for (double scale : {1.0, 0.5})
        for (auto [ph, pw] : {std::pair<int64_t, int64_t>{2, 2}, {3, 2}, {1, 4}}) {
            Graph h;
            const Shape s{2, 3, 6, 7};
            const auto k = static_cast<int64_t>(kRois.size() / 5);
            Value xv = h.input("x", s, DType::F64), rv = h.input("rois", {k, 5}, DType::F64);
            Value y = roi_pool(xv, rv, {{ph, pw}, scale});
            const Tensor feat = random_map(s, 5);
            const auto got = compile(h, {y}).run({{xv, feat}, {rv, Tensor::from_vector<double>(kRois, {k, 5})}})[0].to_doubles();
            INFO("scale " << scale << " bins " << ph << "x" << pw);
            CHECK(got == brute_roi_pool(feat, kRois, ph, pw, scale));
        }
}

TEST_CASE("roi_pool's gradient lands on each bin's maximum; empty bins give none", "[ops][detection][roi]") {
    Graph g;
    Value x = g.input("x", {1, 1, 4, 4}, DType::F64), rois = g.input("rois", {3, 5}, DType::F64);
    Value dx = grad(sum(roi_pool(x, rois, {{2, 2}, 1.0})), {x})[0];
    // Two RoIs over the whole map (their maxima add up) and one outside it.
    const auto d = compile(g, {dx}).run({{x, iota_map({1, 1, 4, 4})},
                                         {rois, Tensor::from_vector<double>({0, 0, 0, 3, 3, 0, 0, 0, 3, 3, 0, 9, 9, 12, 12}, {3, 5})}})[0]
                       .to_doubles();
    std::vector<double> expect(16, 0);
    for (int i : {5, 7, 13, 15}) expect[static_cast<std::size_t>(i)] = 2;
    CHECK(d == expect);
}

TEST_CASE("roi_align: hand values on a linear map and brute force", "[ops][detection][roi]") {
    // f(y, x) = 4y + x + 1 is linear, so bilinear reads are exact and each bin's mean is f at
    // its centre: aligned RoI (0.5, 0.5)–(2.5, 2.5) is cells 0–2, bin centres at 0.5 and 1.5.
    Graph g;
    Value x = g.input("x", {1, 1, 4, 4}, DType::F64), rois = g.input("rois", {1, 5}, DType::F64);
    Value y = roi_align(x, rois, {.output_size = {2, 2}, .spatial_scale = 1.0, .sampling_ratio = 2, .aligned = true});
    const auto v = compile(g, {y}).run({{x, iota_map({1, 1, 4, 4})},
                                        {rois, Tensor::from_vector<double>({0, 0.5, 0.5, 2.5, 2.5}, {1, 5})}})[0].to_doubles();
    CHECK(v[0] == Approx(3.5));
    CHECK(v[1] == Approx(4.5));
    CHECK(v[2] == Approx(7.5));
    CHECK(v[3] == Approx(8.5));

    const Shape s{2, 3, 6, 7};
    const auto k = static_cast<int64_t>(kRois.size() / 5);
    const Tensor feat = random_map(s, 7);
    for (RoiAlignOptions o : {RoiAlignOptions{{2, 2}, 1.0, 2, false}, RoiAlignOptions{{3, 2}, 0.5, -1, true},
                              RoiAlignOptions{{1, 3}, 1.0, 0, false}, RoiAlignOptions{{2, 3}, 0.75, 3, true}})
        for (DType dt : {DType::F32, DType::F64}) {
            Graph h;
            Value xv = h.input("x", s, dt), rv = h.input("rois", {k, 5}, dt);
            Value out = roi_align(xv, rv, o);
            const auto got = compile(h, {out}).run({{xv, feat.cast(dt)}, {rv, Tensor::from_vector<double>(kRois, {k, 5}).cast(dt)}})[0]
                                 .to_doubles();
            const auto want = brute_roi_align(feat, kRois, o);
            REQUIRE(got.size() == want.size());
            for (std::size_t i = 0; i < got.size(); ++i) {
                INFO("sampling " << o.sampling_ratio << " aligned " << o.aligned << " " << dtype_name(dt) << " output " << i);
                CHECK(got[i] == Approx(want[i]).margin(dt == DType::F32 ? 1e-5 : 1e-12));
            }
        }
}

TEST_CASE("roi_align's gradient spreads each output over its taps (weights sum to 1 inside the map)", "[ops][detection][roi]") {
    Graph g;
    Value x = g.input("x", {1, 2, 5, 5}, DType::F64), rois = g.input("rois", {2, 5}, DType::F64);
    Value dx = grad(sum(roi_align(x, rois, {.output_size = {2, 3}, .sampling_ratio = 2, .aligned = true})), {x})[0];
    const auto d = compile(g, {dx}).run({{x, random_map({1, 2, 5, 5}, 3)},
                                         {rois, Tensor::from_vector<double>({0, 1, 1, 4, 3.5, 0, 0.6, 2.2, 3.3, 4.1}, {2, 5})}})[0]
                       .to_doubles();
    double total = 0;
    for (double v : d) total += v;
    CHECK(total == Approx(2 * 2 * 2 * 3));  // K · C · bins
}

TEST_CASE("a RoI's batch index outside the batch is a run-time error naming op and node", "[ops][detection][errors]") {
    for (bool align : {false, true}) {
        Graph g;
        Value x = g.input("x", {2, 1, 4, 4}), rois = g.input("rois", {1, 5});
        Value y = align ? roi_align(x, rois, {.output_size = {2, 2}}) : roi_pool(x, rois, {{2, 2}, 1.0});
        auto prog = compile(g, {y});
        for (double b : {2.0, -1.0, 0.5}) {
            INFO("batch index " << b);
            CHECK_THROWS_WITH(prog.run({{x, Tensor::zeros({2, 1, 4, 4})}, {rois, Tensor::from_vector<float>({static_cast<float>(b), 0, 0, 2, 2}, {1, 5})}}),
                              Catch::Contains(align ? "roi_align \"" : "roi_pool \"") &&
                                  Catch::Contains("batch index is not an integer in [0, 2)"));
        }
    }
}
