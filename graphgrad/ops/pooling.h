// Pooling and resampling over [N, C, H, W]: max pooling (plain loops; its node's second output
// is the i64 argmax), average pooling (oneDNN in f32, loops in f64), global average pooling,
// nearest-neighbour upsampling. Output sizes follow PyTorch's ceil_mode (floor by default; with
// ceil_mode a last partial window counts if it starts inside the input or its left padding);
// each padding must be smaller than the kernel; max pooling may dilate its window.
//
//   auto p = gg::max_pool2d(x, {.kernel = {2, 2}, .stride = {2, 2}});
//   auto q = gg::max_pool2d(x, {.kernel = {3, 3}, .stride = {2, 2}, .ceil_mode = true});
//   auto g = gg::global_avg_pool2d(x);          // [N, C, 1, 1]
#pragma once

#include <array>

#include "graphgrad/graph/node.h"

namespace gg {

struct Pool2dOptions {
    std::array<int64_t, 2> kernel{2, 2};
    std::array<int64_t, 2> stride{0, 0};         // 0 = same as kernel (PyTorch default)
    std::array<int64_t, 4> padding{0, 0, 0, 0};  // top, bottom, left, right
    bool count_include_pad = true;               // avg_pool2d only (PyTorch default)
    bool ceil_mode = false;                      // output sizes round up (PyTorch's ceil_mode)
    std::array<int64_t, 2> dilation{1, 1};       // max_pool2d only: taps dilation apart
};

// Max pooling's node has a second output, the argmax workspace its gradient reads.
Value max_pool2d(Value x, Pool2dOptions o = {});
Value avg_pool2d(Value x, Pool2dOptions o = {});
Value global_avg_pool2d(Value x);                  // mean over H and W, keeps dims: [N, C, 1, 1]
Value upsample_nearest2d(Value x, int64_t scale);  // [N, C, H·s, W·s]

}  // namespace gg
