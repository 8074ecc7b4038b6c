// U-Net (Ronneberger et al. 2015): an encoder that halves the resolution `depth` times, a
// bottleneck, and a decoder that doubles it back with 2x2 stride-2 transposed convolutions,
// concatenating at each level the encoder's features of the same size (the skip connections
// carry the fine detail pooling threw away). Returns per-pixel scores [N, out_channels, H, W].
// Unlike the paper, the 3x3 convolutions are padded ("same"), so skips need no cropping and
// the output has the input's size; batch norm follows each convolution.
//
// Names follow a PyTorch module with ModuleLists in the order they are applied:
//   down.I.*   encoder double convs      bottleneck.*
//   up.I.*     transposed convs          up_conv.I.*   decoder double convs      head.*
// where a double conv is nn.Sequential(conv, bn, relu, conv, bn, relu): ".0", ".1", ".3", ".4".
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/normalization.h"
#include "graphgrad/ops/pooling.h"
#include "graphgrad/ops/shape_ops.h"

namespace gg::models {

namespace {

Value double_conv(Value x, int64_t channels, const std::string& name) {
    NameScope scope(*x.graph, name);
    Value h = batch_norm(conv(x, channels, 3, 1, 1, "0", 1, false), "1", {.relu = true});
    return batch_norm(conv(h, channels, 3, 1, 1, "3", 1, false), "4", {.relu = true});
}

}  // namespace

Value unet(Value x, int64_t out_channels, int64_t base, int64_t depth) {
    const int64_t multiple = int64_t{1} << depth;
    if (depth < 1 || x.rank() != 4 || x.dim(2) % multiple != 0 || x.dim(3) % multiple != 0)
        throw std::invalid_argument(fmt::format("unet: input must be [N, C, H, W] with H and W divisible by 2^depth = {}, got {}",
                                                multiple, shape_str(x.shape())));
    std::vector<Value> skips;  // encoder outputs, finest first
    Value h = x;
    for (int64_t level = 0; level < depth; ++level) {
        h = double_conv(h, base << level, fmt::format("down.{}", level));
        skips.push_back(h);
        h = max_pool2d(h);
    }
    h = double_conv(h, base << depth, "bottleneck");
    for (int64_t i = 0; i < depth; ++i) {
        const int64_t level = depth - 1 - i;  // coarsest first
        h = conv_transpose(h, base << level, 2, 2, fmt::format("up.{}", i));
        h = concat({skips[static_cast<std::size_t>(level)], h}, 1);  // [skip, upsampled] on channels
        h = double_conv(h, base << level, fmt::format("up_conv.{}", i));
    }
    return conv(h, out_channels, 1, 1, 0, "head");  // 1x1: per-pixel class scores
}

}  // namespace gg::models
