// Convolutions on oneDNN (f32) with plain-loop reference kernels (f32, f64). Layouts follow
// PyTorch: x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O]; conv_transpose2d weight
// [C, O/groups, kh, kw]. Padding may be asymmetric; groups == C gives depthwise.
//
//   auto y = gg::conv2d(x, w, b, {.stride = {2, 2}, .padding = {1, 1, 1, 1}});
//   auto z = gg::conv2d(x, w, std::nullopt, {.groups = 32});        // depthwise, no bias
#pragma once

#include <array>
#include <optional>
#include <string>

#include "graphgrad/graph/node.h"

namespace gg {

struct Conv2dOptions {
    std::array<int64_t, 2> stride{1, 1};
    std::array<int64_t, 4> padding{0, 0, 0, 0};  // top, bottom, left, right
    std::array<int64_t, 2> dilation{1, 1};       // 1 = dense (PyTorch convention)
    int64_t groups = 1;
    std::array<int64_t, 2> output_padding{0, 0};  // conv_transpose2d only
};

// Symmetric padding helper: {p, p, p, p}.
inline std::array<int64_t, 4> pad_all(int64_t p) { return {p, p, p, p}; }

Value conv2d(Value x, Value weight, std::optional<Value> bias = std::nullopt, Conv2dOptions o = {},
             const std::string& name = {});
Value conv_transpose2d(Value x, Value weight, std::optional<Value> bias = std::nullopt, Conv2dOptions o = {},
                       const std::string& name = {});

// Output size of one spatial axis: (in + pad_lo + pad_hi − dilation·(k − 1) − 1) / stride + 1.
int64_t conv_output_size(int64_t in, int64_t k, int64_t stride, int64_t pad_lo, int64_t pad_hi, int64_t dilation);

}  // namespace gg
