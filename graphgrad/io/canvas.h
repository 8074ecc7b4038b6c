// Multi-object canvases composed from single-item images (Fashion-MNIST), the data of the
// segmentation and detection tasks: each canvas holds 2–4 items pasted at random positions,
// with per-pixel class labels and one box per visible item. Deterministic: canvas i is a pure
// function of (seed, i), whatever the count.
//
// Composition: an item's foreground is its pixels above `threshold`; items are pasted in
// order, each item's foreground overwriting what is under it (pixels and labels), so a later
// item occludes earlier ones. A placement whose 28×28 frame overlaps an earlier frame with
// IoU above `max_frame_iou` is redrawn (limited, not forbidden, overlap: occlusion happens but
// no item hides another). Boxes are the tight boxes of the *visible* foreground; an item left
// with fewer than `min_visible` pixels is dropped (its pixels stay, labelled with its class,
// but it has no box: too little of it shows to be an object).
//
//   auto folder = gg::io::load_image_folder();
//   gg::io::CanvasSet train = gg::io::compose_canvases(folder.train, {.count = 6000, .seed = 1});
//   const uint8_t* labels = train.label_map(0);        // size × size, 0 = background, c + 1 = class c
//   for (const gg::io::CanvasBox& b : train.boxes[0]) use(b.x0, b.y0, b.x1, b.y1, b.cls);
#pragma once

#include <cstdint>
#include <vector>

#include "graphgrad/io/dataset.h"

namespace gg::io {

// A box in canvas pixels: columns [x0, x1), rows [y0, y1); cls in [0, num_classes).
struct CanvasBox {
    float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    int64_t cls = 0;
};

struct CanvasOptions {
    int64_t count = 1000;
    int64_t size = 56;  // canvases are size × size (≥ the items' size)
    int64_t min_items = 2, max_items = 4;
    uint8_t threshold = 25;       // foreground: pixel > threshold (of 255)
    double max_frame_iou = 0.25;  // redraw placements overlapping an earlier item more than this
    int64_t min_visible = 20;     // items with fewer visible foreground pixels get no box
    uint64_t seed = 1;
};

struct CanvasSet {
    int64_t count = 0, size = 0;
    int64_t num_classes = 10;                // item classes; label maps use 0..num_classes
    std::vector<uint8_t> pixels;             // count × size × size
    std::vector<uint8_t> labels;             // count × size × size: 0 background, c + 1 item class c
    std::vector<std::vector<CanvasBox>> boxes;  // per canvas, in paste order
    std::vector<std::vector<int64_t>> items;    // per canvas: indices into the source dataset pasted
    const uint8_t* image(int64_t i) const { return pixels.data() + i * size * size; }
    const uint8_t* label_map(int64_t i) const { return labels.data() + i * size * size; }
};

// Composes options.count canvases from `items` (each item drawn uniformly from it). Throws
// OptionError for inconsistent options (canvas smaller than an item, min_items > max_items, ...).
CanvasSet compose_canvases(const ImageDataset& items, const CanvasOptions& options);

}  // namespace gg::io
