// Canvas composition (canvas.h). Every draw is gg::random_bits keyed by (seed, canvas, draw
// number), so canvas i does not depend on how many canvases are made or in what order.
#include "graphgrad/io/canvas.h"

#include <algorithm>

#include <fmt/format.h>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/rng.h"

namespace gg::io {

namespace {

constexpr int kPlacementTries = 50;  // redraws before a crowded canvas accepts fewer items

struct Frame {
    int64_t x = 0, y = 0;  // top-left corner on the canvas
};

double frame_iou(const Frame& a, const Frame& b, int64_t rows, int64_t cols) {
    const int64_t w = std::max<int64_t>(0, cols - std::abs(a.x - b.x));
    const int64_t h = std::max<int64_t>(0, rows - std::abs(a.y - b.y));
    const double inter = static_cast<double>(w * h), area = static_cast<double>(rows * cols);
    return inter / (2 * area - inter);
}

void check(const ImageDataset& items, const CanvasOptions& o) {
    if (items.count == 0) throw OptionError("compose_canvases: the item dataset is empty");
    if (o.count < 0) throw OptionError(fmt::format("compose_canvases: count {} is negative", o.count));
    if (o.size < items.rows || o.size < items.cols)
        throw OptionError(fmt::format("compose_canvases: canvas size {} is smaller than the {}x{} items", o.size,
                                      items.rows, items.cols));
    if (o.min_items < 1 || o.min_items > o.max_items)
        throw OptionError(fmt::format("compose_canvases: items per canvas must satisfy 1 <= min_items ({}) <= "
                                      "max_items ({})", o.min_items, o.max_items));
    if (items.num_classes > 254)
        throw OptionError(fmt::format("compose_canvases: {} classes do not fit byte labels", items.num_classes));
}

// Composes canvas `c` into pixels/labels (size × size, zeroed) and returns its boxes.
void compose_one(const ImageDataset& items, const CanvasOptions& o, int64_t c, uint8_t* pixels, uint8_t* labels,
                 std::vector<CanvasBox>& boxes, std::vector<int64_t>& used) {
    const int64_t rows = items.rows, cols = items.cols, size = o.size;
    uint64_t draw = 0;
    auto uniform_int = [&](int64_t n) {  // in [0, n)
        return static_cast<int64_t>(random_bits(o.seed, static_cast<uint64_t>(c), draw++) % static_cast<uint64_t>(n));
    };
    const int64_t wanted = o.min_items + uniform_int(o.max_items - o.min_items + 1);
    std::vector<Frame> frames;
    for (int64_t k = 0; k < wanted; ++k) {
        for (int t = 0; t < kPlacementTries; ++t) {
            const Frame f{uniform_int(size - cols + 1), uniform_int(size - rows + 1)};
            const bool crowded = std::any_of(frames.begin(), frames.end(), [&](const Frame& g) {
                return frame_iou(f, g, rows, cols) > o.max_frame_iou;
            });
            if (!crowded) {
                frames.push_back(f);
                break;
            }
        }
    }
    // Paste in order; `owner` records which item each canvas pixel shows (−1: background).
    std::vector<int> owner(static_cast<std::size_t>(size * size), -1);
    for (std::size_t k = 0; k < frames.size(); ++k) {
        const int64_t item = uniform_int(items.count);
        used.push_back(item);
        const uint8_t* src = items.image(item);
        const auto label = static_cast<uint8_t>(items.labels[static_cast<std::size_t>(item)] + 1);
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t q = 0; q < cols; ++q) {
                const uint8_t v = src[r * cols + q];
                if (v <= o.threshold) continue;
                const int64_t at = (frames[k].y + r) * size + frames[k].x + q;
                pixels[at] = v;
                labels[at] = label;
                owner[static_cast<std::size_t>(at)] = static_cast<int>(k);
            }
    }
    for (std::size_t k = 0; k < frames.size(); ++k) {
        int64_t x0 = size, y0 = size, x1 = -1, y1 = -1, visible = 0;
        for (int64_t y = 0; y < size; ++y)
            for (int64_t x = 0; x < size; ++x)
                if (owner[static_cast<std::size_t>(y * size + x)] == static_cast<int>(k)) {
                    x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
                    ++visible;
                }
        if (visible < std::max<int64_t>(o.min_visible, 1)) continue;
        boxes.push_back({static_cast<float>(x0), static_cast<float>(y0), static_cast<float>(x1 + 1),
                         static_cast<float>(y1 + 1), items.labels[static_cast<std::size_t>(used[k])]});
    }
}

}  // namespace

CanvasSet compose_canvases(const ImageDataset& items, const CanvasOptions& o) {
    check(items, o);
    CanvasSet s;
    s.count = o.count;
    s.size = o.size;
    s.num_classes = items.num_classes;
    const auto area = static_cast<std::size_t>(o.size * o.size);
    s.pixels.assign(static_cast<std::size_t>(o.count) * area, 0);
    s.labels.assign(static_cast<std::size_t>(o.count) * area, 0);
    s.boxes.resize(static_cast<std::size_t>(o.count));
    s.items.resize(static_cast<std::size_t>(o.count));
    for (int64_t c = 0; c < o.count; ++c) {
        const auto i = static_cast<std::size_t>(c);
        compose_one(items, o, c, s.pixels.data() + i * area, s.labels.data() + i * area, s.boxes[i], s.items[i]);
    }
    return s;
}

}  // namespace gg::io
