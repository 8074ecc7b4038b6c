// YOLO v1 (Redmon et al. 2016, "You Only Look Once") as graph code: a small convolutional
// backbone that maps an image to an S×S grid, each cell predicting B boxes (x, y relative to
// the cell, √w, √h relative to the image, a confidence) and C class probabilities; and the
// paper's sum-squared loss.
//
// Output layout: predictions [N, B·5 + C, S, S]; channel 5b + k is box b's k-th number
// (x, y, √w, √h, confidence), channels 5B..5B+C−1 the class probabilities (linear outputs, as
// in the paper: no softmax or sigmoid; the loss is sum-squared error on all of them).
//
// The targets are fed per batch (train/yolo.h encodes them from the boxes): every cell
// containing a ground-truth centre holds that box (x, y, √w, √h in the predictions' units) and
// its one-hot class. The responsible predictor and the confidence target are computed in the
// graph from the current predictions, as the paper does: the predictor whose box has the
// highest IoU with the ground truth (ties: the first), and its confidence target that IoU.
// Both go through stop_gradient (targets are constants of the step, as in Darknet).
//
//   Value x = g.input("x", {32, 1, 56, 56});
//   Value pred = gg::models::yolo_v1(x, {.grid = 7, .boxes = 2, .classes = 10});
//   gg::models::YoloV1Loss loss = gg::models::yolo_v1_loss(pred, boxes, object, classes, {.grid = 7, ...});
//   auto grads = gg::grad(loss.total, g.parameters());
#pragma once

#include <cstdint>

#include "graphgrad/graph/node.h"

namespace gg::models {

struct YoloV1Options {
    int64_t grid = 7;     // S: the input must be 8·S pixels square (three 2×2 poolings)
    int64_t boxes = 2;    // B
    int64_t classes = 10; // C
    int64_t width = 32;   // channels of the first convolution (doubling twice)
    double lambda_coord = 5.0, lambda_noobj = 0.5;
};

// Backbone: conv-bn-leaky(0.1) stages at full, 1/2, 1/4 and 1/8 resolution (widths w, 2w,
// 4w, 8w; 1×1 reductions between 3×3 convolutions as in the paper's Darknet), then a 1×1
// convolution to B·5 + C channels per cell. Fully convolutional where the paper has two
// fully connected layers: at 7×7 the last 3×3 convolutions already see the whole 56×56 canvas.
Value yolo_v1(Value x, const YoloV1Options& o = {});

struct YoloV1Loss {
    Value total;        // the sum below, divided by the batch size N
    Value coord;        // λ_coord Σ 1_ij^obj [(x−x̂)² + (y−ŷ)² + (√w−√ŵ)² + (√h−√ĥ)²]
    Value object;       // Σ 1_ij^obj (C − IoU)²
    Value no_object;    // λ_noobj Σ (1 − 1_ij^obj) C²
    Value classes;      // Σ 1_i^obj Σ_c (p(c) − p̂(c))²
};

// pred [N, B·5+C, S, S]; target_boxes [N, 4, S, S] (x, y, √w, √h of the cell's ground truth,
// anything where there is none); object [N, 1, S, S] (1 where a ground-truth centre falls in
// the cell, else 0); target_classes [N, C, S, S] (one-hot where object is 1, else 0).
// Each term is a sum over the batch divided by N, like `total`.
YoloV1Loss yolo_v1_loss(Value pred, Value target_boxes, Value object, Value target_classes, const YoloV1Options& o = {});

}  // namespace gg::models
