// EfficientNet (Tan and Le 2019) with torchvision's structure, rounding and names:
// features.0 (stem conv 3x3, BN, SiLU), features.1-7 (the seven MBConv stages,
// features.S.I.block.J), features.8 (conv 1x1 to 4x the last stage's width, BN, SiLU), global
// average pooling, classifier.0 (dropout), classifier.1 (linear).
//
// Stage table of B0 (expand ratio, kernel, stride, output channels, repeats):
//   1: 1, 3, 1, 16, 1   2: 6, 3, 2, 24, 2   3: 6, 5, 2, 40, 2   4: 6, 3, 2, 80, 3
//   5: 6, 5, 1, 112, 3  6: 6, 5, 2, 192, 4  7: 6, 3, 1, 320, 1        stem 32, head 1280
// Compound scaling: channels c → make_divisible(c·width_mult, 8), repeats n → ⌈n·depth_mult⌉
// (torchvision's _MBConvConfig.adjust_channels / adjust_depth), and the resolution is the
// input fed (efficientnet_variant gives the paper's B0-B7 coefficients).
// Stochastic depth: block i of the T blocks (counting every repeat from 0) drops its residual
// branch per sample with probability 0.2·i/T, as torchvision (the last block gets 0.2·(T−1)/T).
//
// Adapted to 28x28 by one change: the stem has stride 1 (2 on ImageNet), so the four stride-2
// stages take 28 → 14 → 7 → 4 → 2, where 224 goes 112 → 56 → 28 → 14 → 7. A stride-2 stem on
// 28x28 would leave 1x1 maps for the last two stages, whose 5x5 and 3x3 depthwise kernels would
// then see only padding around one pixel.
// Initialisation is PyTorch's default for every layer (as in the rest of the zoo), not
// torchvision's kaiming-normal(fan_out) convolutions.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "graphgrad/models/model_zoo.h"
#include "graphgrad/models/vision_models.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/broadcast.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/normalization.h"
#include "graphgrad/ops/pooling.h"
#include "graphgrad/ops/random.h"

namespace gg::models {

namespace {

struct Stage {
    int64_t expand, kernel, stride, channels, repeats;
};
constexpr Stage kB0Stages[] = {{1, 3, 1, 16, 1}, {6, 3, 2, 24, 2}, {6, 5, 2, 40, 2}, {6, 3, 2, 80, 3},
                               {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4}, {6, 3, 1, 320, 1}};
constexpr int64_t kB0Stem = 32;

// torchvision's SqueezeExcitation: global pooling, 1x1 conv to `squeeze` (SiLU), 1x1 conv back
// (sigmoid), and the channels of x scaled by the result. Both convolutions have a bias.
Value squeeze_excitation(Value x, int64_t squeeze, const std::string& name) {
    NameScope scope(*x.graph, name);
    Value s = silu(conv(global_avg_pool2d(x), squeeze, 1, 1, 0, "fc1"));
    return x * sigmoid(conv(s, x.dim(1), 1, 1, 0, "fc2"));  // [N, C, 1, 1] broadcast over H, W
}

}  // namespace

int64_t make_divisible(double v, int64_t divisor) {
    const auto d = static_cast<double>(divisor);
    int64_t r = std::max<int64_t>(divisor, static_cast<int64_t>(v + d / 2.0) / divisor * divisor);
    if (static_cast<double>(r) < 0.9 * v) r += divisor;  // rounding down must not lose more than 10%
    return r;
}

EfficientNetVariant efficientnet_variant(int b) {
    // Table of Tan and Le 2019 (width, depth, resolution) with torchvision's dropout rates.
    static constexpr struct {
        double width, depth;
        int64_t resolution;
        double dropout;
    } kVariants[] = {{1.0, 1.0, 224, 0.2}, {1.0, 1.1, 240, 0.2}, {1.1, 1.2, 260, 0.3}, {1.2, 1.4, 300, 0.3},
                     {1.4, 1.8, 380, 0.4}, {1.6, 2.2, 456, 0.4}, {1.8, 2.6, 528, 0.5}, {2.0, 3.1, 600, 0.5}};
    if (b < 0 || b > 7) throw std::invalid_argument(fmt::format("efficientnet_variant: B{} is not one of B0-B7", b));
    const auto& v = kVariants[b];
    EfficientNetOptions o{.width_mult = v.width, .depth_mult = v.depth, .dropout = v.dropout, .stochastic_depth = 0.2};
    const auto side = static_cast<int64_t>(std::lround(28.0 * static_cast<double>(v.resolution) / 224.0));
    return {o, v.resolution, side};
}

Value drop_path(Value x, double p) {
    if (p == 0.0) return x;
    // dropout of a [N, 1, 1, 1] tensor of ones is exactly the per-sample scale (0 or 1/(1 − p))
    // in training programs and 1 in evaluation programs; it broadcasts over C, H, W.
    Shape per_sample(x.shape().size(), 1);
    per_sample[0] = x.dim(0);
    return x * dropout(broadcast_to(scalar_like(x, 1.0), per_sample), p);
}

Value mbconv(Value x, int64_t out_channels, int64_t kernel, int64_t stride, int64_t expand, double drop_path_rate,
             const std::string& name) {
    Graph& g = *x.graph;
    NameScope scope(g, name);
    const int64_t in = x.dim(1);
    const int64_t hidden = make_divisible(static_cast<double>(in * expand));
    Value h = x;
    {
        NameScope block(g, "block");  // torchvision's MBConv.block = Sequential
        int index = 0;
        if (expand != 1) h = silu(conv_bn(h, hidden, 1, 1, std::to_string(index++), 1, false));
        h = silu(conv_bn(h, hidden, kernel, stride, std::to_string(index++), /*groups=*/hidden, false));
        // The squeeze width comes from the block's input channels, not the expanded ones.
        h = squeeze_excitation(h, std::max<int64_t>(1, in / 4), std::to_string(index++));
        h = conv_bn(h, out_channels, 1, 1, std::to_string(index), 1, false);  // linear bottleneck: no activation
    }
    if (stride != 1 || in != out_channels) return h;
    return x + drop_path(h, drop_path_rate);
}

Value efficientnet(Value x, int64_t num_classes, const EfficientNetOptions& o) {
    if (!(o.width_mult > 0.0 && o.depth_mult > 0.0))
        throw std::invalid_argument(fmt::format("efficientnet: width_mult ({}) and depth_mult ({}) must be positive",
                                                o.width_mult, o.depth_mult));
    if (!(o.stochastic_depth >= 0.0 && o.stochastic_depth < 1.0))
        throw std::invalid_argument(fmt::format("efficientnet: stochastic depth rate {} is outside [0, 1)", o.stochastic_depth));
    auto width = [&](int64_t c) { return make_divisible(static_cast<double>(c) * o.width_mult); };
    auto repeats = [&](int64_t n) { return static_cast<int64_t>(std::ceil(static_cast<double>(n) * o.depth_mult)); };
    int64_t total_blocks = 0;
    for (const Stage& s : kB0Stages) total_blocks += repeats(s.repeats);

    Value h = silu(conv_bn(x, width(kB0Stem), 3, 1, "features.0", 1, false));  // stride 2 on ImageNet
    int64_t block_id = 0, stage_index = 1;
    for (const Stage& s : kB0Stages) {
        for (int64_t i = 0; i < repeats(s.repeats); ++i, ++block_id) {
            const double rate = o.stochastic_depth * static_cast<double>(block_id) / static_cast<double>(total_blocks);
            h = mbconv(h, width(s.channels), s.kernel, i == 0 ? s.stride : 1, s.expand, rate,
                       fmt::format("features.{}.{}", stage_index, i));
        }
        ++stage_index;
    }
    h = silu(conv_bn(h, 4 * h.dim(1), 1, 1, "features.8", 1, false));
    h = flatten(global_avg_pool2d(h));
    {
        NameScope scope(*x.graph, "classifier.0");
        h = dropout(h, o.dropout);
    }
    return linear(h, num_classes, "classifier.1");
}

}  // namespace gg::models
