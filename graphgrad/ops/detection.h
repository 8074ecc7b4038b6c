// Detection ops, with torchvision.ops semantics: pairwise box IoU (differentiable), greedy
// non-maximum suppression, Fast R-CNN's RoI max pooling and Mask R-CNN's RoIAlign (both with
// backward ops that scatter into the feature map). Boxes are (x1, y1, x2, y2); RoIs are
// (batch index, x1, y1, x2, y2) in image coordinates, mapped to feature cells by spatial_scale.
//
//   auto iou  = gg::box_iou(a, b);                              // [N, 4], [M, 4] → [N, M]
//   auto keep = gg::nms(boxes, scores, 0.5);                    // i64 [N]: kept indices, then −1
//   auto p = gg::roi_pool(features, rois, {.output_size = {7, 7}, .spatial_scale = 1.0 / 16});
//   auto q = gg::roi_align(features, rois, {.output_size = {7, 7}, .sampling_ratio = 2, .aligned = true});
#pragma once

#include <array>

#include "graphgrad/graph/node.h"

namespace gg {

// IoU of every pair: a [N, 4], b [M, 4] → [N, M]. Its gradient (to a and b) is the exact
// derivative where IoU is smooth; where it is not: no overlap (or touching edges) gives 0,
// min/max ties send the derivative to a, and a pair with union ≤ 0 (degenerate boxes, where
// torchvision returns NaN) has IoU 0 and gradient 0.
Value box_iou(Value a, Value b);

// Greedy NMS: boxes [N, 4], scores [N] → i64 [N]: the indices of kept boxes by decreasing score
// (equal scores: lower index first), then −1. Shapes are static in graphgrad (every buffer is
// planned at compile time), so the data-dependent count is the number of entries ≥ 0. A box is
// dropped when a kept, higher-scored box overlaps it with IoU > iou_threshold. No gradient.
Value nms(Value boxes, Value scores, double iou_threshold);

struct RoiPoolOptions {
    std::array<int64_t, 2> output_size{7, 7};  // bins per RoI: height, width
    double spatial_scale = 1.0;                // feature cells per image unit
};

struct RoiAlignOptions {
    std::array<int64_t, 2> output_size{7, 7};
    double spatial_scale = 1.0;
    int64_t sampling_ratio = -1;  // sample points per bin side; ≤ 0: ⌈RoI size / bins⌉ per RoI
    bool aligned = false;         // true: pixel-centre alignment (subtract half a cell)
};

// features [N, C, H, W], rois [K, 5] (same dtype) → [K, C, oh, ow]. RoI pooling's node has a
// second output, the i64 argmax its gradient scatters through. Neither has a gradient to the
// RoIs (as torchvision): RoI pooling's is zero almost everywhere, and detectors treat
// proposals as constants.
Value roi_pool(Value features, Value rois, RoiPoolOptions o = {});
Value roi_align(Value features, Value rois, RoiAlignOptions o = {});

}  // namespace gg
