// Xception (Chollet 2017), named like Keras's keras.applications.Xception: block1_conv1,
// block1_conv1_bn, block2_sepconv1, block2_sepconv1_bn, block2_sepconv2_act, ... Keras leaves
// the residual 1x1 convolutions unnamed; here they are blockN_residual and blockN_residual_bn.
// Weights are in PyTorch's layout under each layer: "<layer>.weight" for a convolution,
// "<layer>.depthwise.weight" [C, 1, 3, 3] and "<layer>.pointwise.weight" [O, C, 1, 1] for a
// separable one (Keras's depthwise_kernel and pointwise_kernel, transposed).
//
// The network is a linear stack of depthwise-separable convolutions with residual connections:
//   entry flow   conv 3x3 (32), conv 3x3 (64), then three blocks of
//                [ReLU] sep 3x3, BN, ReLU, sep 3x3, BN, max pool 3x3/2, + conv 1x1/2 + BN (128, 256, 728)
//   middle flow  8 blocks of 3 × (ReLU, sep 3x3, BN) + identity (728)
//   exit flow    ReLU, sep (728), BN, ReLU, sep (1024), BN, max pool 3x3/2, + conv 1x1/2 + BN;
//                sep (1536), BN, ReLU, sep (2048), BN, ReLU; global average pooling; logits
// Reduced for 28x28 (XceptionOptions holds every width):
//   - the stem convolutions keep the size (stride 1, padding 1) where the paper's first one has
//     stride 2 and both are unpadded (299 → 149 → 147); the four max poolings then take
//     28 → 14 → 7 → 4 → 2 (the paper ends at 10x10);
//   - 2 middle blocks instead of 8, and narrower layers: stem 16, 32; entry 64, 128, 256;
//     middle 256; exit 256, 384; head 512, 768 (the paper's ÷2 for the first five and about
//     ÷2.7-3 from there, roughly keeping the exit flow's widening); no dropout, as Keras.
#include <string>

#include <fmt/format.h>

#include "graphgrad/models/model_zoo.h"
#include "graphgrad/models/vision_models.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/normalization.h"
#include "graphgrad/ops/pooling.h"

namespace gg::models {

namespace {

Value named_relu(Value x, const std::string& name) {
    NameScope scope(*x.graph, name);  // Keras's blockN_sepconvM_act: a row of its own in summaries
    return relu(x);
}

// ReLU (unless `relu_first` is false), separable conv, BN: Keras's "blockN_sepconvM" triple.
Value act_sep_bn(Value x, int64_t channels, int block, int index, bool relu_first) {
    const std::string name = fmt::format("block{}_sepconv{}", block, index);
    Value h = relu_first ? named_relu(x, name + "_act") : x;
    return batch_norm(separable_conv(h, channels, name), name + "_bn");
}

// Entry/exit-flow block: two separable convs, then max pooling, plus a strided 1x1 projection
// of the block's input: (relu_first) ReLU, sep(a), BN, ReLU, sep(b), BN, pool, + shortcut.
Value downsampling_block(Value x, int64_t a, int64_t b, int block, bool relu_first) {
    Value h = act_sep_bn(x, a, block, 1, relu_first);
    h = act_sep_bn(h, b, block, 2, true);
    {
        NameScope scope(*x.graph, fmt::format("block{}_pool", block));
        // Keras's padding="same": ⌈H/2⌉, which is what padding 1 gives for a 3x3 stride-2 window.
        h = max_pool2d(h, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1, 1, 1}});
    }
    const std::string res = fmt::format("block{}_residual", block);
    return h + batch_norm(conv(x, b, 1, 2, 0, res, 1, false), res + "_bn");
}

}  // namespace

Value separable_conv(Value x, int64_t out_channels, const std::string& name) {
    NameScope scope(*x.graph, name);
    const Value h = conv(x, x.dim(1), 3, 1, 1, "depthwise", /*groups=*/x.dim(1), false);
    return conv(h, out_channels, 1, 1, 0, "pointwise", 1, false);
}

Value xception(Value x, int64_t num_classes, const XceptionOptions& o) {
    // Entry flow.
    Value h = batch_norm(conv(x, o.stem[0], 3, 1, 1, "block1_conv1", 1, false), "block1_conv1_bn", {.relu = true});
    h = batch_norm(conv(h, o.stem[1], 3, 1, 1, "block1_conv2", 1, false), "block1_conv2_bn", {.relu = true});
    int block = 2;
    for (int64_t width : o.entry) {
        h = downsampling_block(h, width, width, block, /*relu_first=*/block > 2);  // block2 follows a ReLU
        ++block;
    }
    // Middle flow: identity shortcuts, every layer the width of the last entry block.
    for (int64_t m = 0; m < o.middle_blocks; ++m, ++block) {
        Value r = h;
        for (int i = 1; i <= 3; ++i) r = act_sep_bn(r, o.entry[2], block, i, true);
        h = h + r;
    }
    // Exit flow.
    h = downsampling_block(h, o.exit[0], o.exit[1], block++, true);
    for (int i = 0; i < 2; ++i) {
        const std::string name = fmt::format("block{}_sepconv{}", block, i + 1);
        h = batch_norm(separable_conv(h, o.head[static_cast<std::size_t>(i)], name), name + "_bn", {.relu = true});
    }
    return linear(flatten(global_avg_pool2d(h)), num_classes, "predictions");
}

}  // namespace gg::models
