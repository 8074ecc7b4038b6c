// Canvas composition on generated items whose foreground is a known rectangle: labels agree
// with pixels, boxes are the tight boxes of the visible foreground, later items occlude
// earlier ones, and canvas i is a pure function of (seed, i).
#include <catch2/catch.hpp>

#include "graphgrad/graph/errors.h"
#include "graphgrad/io/canvas.h"

using namespace gg;
using namespace gg::io;

namespace {

// Item i: class i % 10, foreground a rectangle of value 200 + class at rows [r0, r0 + h),
// columns [c0, c0 + w) with sizes depending on the class, faint noise (≤ threshold) elsewhere.
struct Rect {
    int64_t r0, c0, h, w;
};
Rect rect_of(int64_t cls) { return {2 + cls % 3, 1 + cls % 4, 10 + cls, 20 - cls}; }

ImageDataset make_items(int64_t n) {
    ImageDataset d;
    d.count = n, d.rows = 28, d.cols = 28;
    for (int64_t i = 0; i < n; ++i) {
        const int64_t cls = i % 10;
        const Rect r = rect_of(cls);
        d.labels.push_back(static_cast<uint8_t>(cls));
        for (int64_t y = 0; y < 28; ++y)
            for (int64_t x = 0; x < 28; ++x) {
                const bool in = y >= r.r0 && y < r.r0 + r.h && x >= r.c0 && x < r.c0 + r.w;
                d.pixels.push_back(static_cast<uint8_t>(in ? 200 + cls : (x + y) % 20));
            }
    }
    return d;
}

}  // namespace

TEST_CASE("canvas labels mark exactly the foreground and agree with boxes", "[io][canvas]") {
    const ImageDataset items = make_items(30);
    const CanvasSet s = compose_canvases(items, {.count = 40, .size = 56, .seed = 3});
    REQUIRE(s.count == 40);
    REQUIRE(s.size == 56);
    int64_t boxes = 0;
    for (int64_t c = 0; c < s.count; ++c) {
        const uint8_t* px = s.image(c);
        const uint8_t* lb = s.label_map(c);
        const auto& items_used = s.items[static_cast<std::size_t>(c)];
        CHECK(items_used.size() >= 2);
        CHECK(items_used.size() <= 4);
        for (int64_t i = 0; i < 56 * 56; ++i) {
            // Foreground pixels are 200 + class: the label is that class + 1; background is 0.
            if (lb[i] == 0) CHECK(px[i] == 0);
            else CHECK(int(px[i]) == 200 + lb[i] - 1);
        }
        for (const CanvasBox& b : s.boxes[static_cast<std::size_t>(c)]) {
            ++boxes;
            REQUIRE(b.x0 >= 0);
            REQUIRE(b.y0 >= 0);
            REQUIRE(b.x1 <= 56);
            REQUIRE(b.y1 <= 56);
            REQUIRE(b.x0 < b.x1);
            REQUIRE(b.y0 < b.y1);
            // Tight: each of the four edge lines holds a pixel of the box's class.
            const auto x0 = int64_t(b.x0), y0 = int64_t(b.y0), x1 = int64_t(b.x1) - 1, y1 = int64_t(b.y1) - 1;
            const uint8_t want = static_cast<uint8_t>(b.cls + 1);
            auto row_has = [&](int64_t y) {
                for (int64_t x = x0; x <= x1; ++x)
                    if (lb[y * 56 + x] == want) return true;
                return false;
            };
            auto col_has = [&](int64_t x) {
                for (int64_t y = y0; y <= y1; ++y)
                    if (lb[y * 56 + x] == want) return true;
                return false;
            };
            CHECK(row_has(y0));
            CHECK(row_has(y1));
            CHECK(col_has(x0));
            CHECK(col_has(x1));
        }
    }
    CHECK(boxes >= 80);  // ≥ 2 items per canvas, nearly all visible with limited overlap
}

TEST_CASE("a single item's box is its rectangle moved to where it was pasted", "[io][canvas]") {
    const ImageDataset items = make_items(10);
    const CanvasSet s = compose_canvases(items, {.count = 20, .size = 40, .min_items = 1, .max_items = 1, .seed = 9});
    for (int64_t c = 0; c < s.count; ++c) {
        REQUIRE(s.boxes[static_cast<std::size_t>(c)].size() == 1);
        const CanvasBox b = s.boxes[static_cast<std::size_t>(c)][0];
        const int64_t item = s.items[static_cast<std::size_t>(c)][0];
        CHECK(b.cls == item % 10);
        const Rect r = rect_of(b.cls);
        CHECK(b.x1 - b.x0 == r.w);
        CHECK(b.y1 - b.y0 == r.h);
        // Exactly the box is labelled.
        int64_t labelled = 0;
        for (int64_t i = 0; i < 40 * 40; ++i) labelled += s.label_map(c)[i] != 0;
        CHECK(labelled == r.w * r.h);
    }
}

TEST_CASE("a later item occludes an earlier one and boxes shrink to what shows", "[io][canvas]") {
    const ImageDataset items = make_items(10);
    // Canvas = item size: both items land at (0, 0) and fully overlap.
    const CanvasSet s = compose_canvases(items, {.count = 30, .size = 28, .min_items = 2, .max_items = 2,
                                                 .max_frame_iou = 1.0, .min_visible = 1, .seed = 5});
    int64_t checked = 0;
    for (int64_t c = 0; c < s.count; ++c) {
        const auto& used = s.items[static_cast<std::size_t>(c)];
        REQUIRE(used.size() == 2);
        const int64_t first = used[0] % 10, second = used[1] % 10;
        const Rect r2 = rect_of(second);
        // Every pixel of the second rectangle shows the second item.
        for (int64_t y = r2.r0; y < r2.r0 + r2.h; ++y)
            for (int64_t x = r2.c0; x < r2.c0 + r2.w; ++x) REQUIRE(s.label_map(c)[y * 28 + x] == second + 1);
        const auto& boxes = s.boxes[static_cast<std::size_t>(c)];
        REQUIRE(!boxes.empty());
        const CanvasBox last = boxes.back();
        CHECK(last.cls == second);
        CHECK(last.x0 == r2.c0);
        CHECK(last.y0 == r2.r0);
        if (first != second && boxes.size() == 2) {
            // The first item's box covers only its still-visible pixels.
            const CanvasBox b = boxes[0];
            for (int64_t y = int64_t(b.y0); y < int64_t(b.y1); ++y)
                for (int64_t x = int64_t(b.x0); x < int64_t(b.x1); ++x)
                    if (s.label_map(c)[y * 28 + x] == first + 1) ++checked;
        }
    }
    CHECK(checked > 0);
}

TEST_CASE("canvases are a pure function of (seed, index)", "[io][canvas]") {
    const ImageDataset items = make_items(50);
    const CanvasSet a = compose_canvases(items, {.count = 12, .seed = 7});
    const CanvasSet b = compose_canvases(items, {.count = 5, .seed = 7});
    const CanvasSet c = compose_canvases(items, {.count = 12, .seed = 8});
    CHECK(std::equal(b.pixels.begin(), b.pixels.end(), a.pixels.begin()));
    CHECK(std::equal(b.labels.begin(), b.labels.end(), a.labels.begin()));
    CHECK(a.items[4] == b.items[4]);
    CHECK(a.pixels != c.pixels);
    const CanvasSet again = compose_canvases(items, {.count = 12, .seed = 7});
    CHECK(again.pixels == a.pixels);
    CHECK(again.labels == a.labels);
}

TEST_CASE("inconsistent canvas options are refused", "[io][canvas]") {
    const ImageDataset items = make_items(10);
    CHECK_THROWS_AS(compose_canvases(items, {.size = 20}), OptionError);
    CHECK_THROWS_AS(compose_canvases(items, {.min_items = 3, .max_items = 2}), OptionError);
    CHECK_THROWS_AS(compose_canvases(ImageDataset{}, {}), OptionError);
}
