// CIFAR-style ResNet (He et al. 2016, §4.2): a 3x3 stem, three stages of n BasicBlocks with
// widths w, 2w, 4w (the first block of stages 2 and 3 has stride 2), global average pooling
// and a linear classifier: depth = 6n + 2 weighted layers (ResNet-20: n = 3).
// Where a block changes shape its shortcut is a 1x1 stride-2 conv + BN projection (the
// paper's option B); elsewhere it is the identity. Names follow torchvision's ResNet:
// conv1, bn1, layer1.0.conv1.weight, layer1.0.bn1.running_mean, layer2.0.downsample.0/1, fc.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/normalization.h"
#include "graphgrad/ops/pooling.h"

namespace gg::models {

// torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
Value basic_block(Value x, int64_t channels, int64_t stride, const std::string& name) {
    NameScope scope(*x.graph, name);
    // Convolutions have no bias: the batch norm after each one has its own (β).
    Value h = batch_norm(conv(x, channels, 3, stride, 1, "conv1", 1, false), "bn1", {.relu = true});
    h = batch_norm(conv(h, channels, 3, 1, 1, "conv2", 1, false), "bn2");
    Value shortcut = x;
    if (stride != 1 || x.dim(1) != channels) {
        NameScope ds(*x.graph, "downsample");  // nn.Sequential(conv1x1, BatchNorm2d)
        shortcut = batch_norm(conv(x, channels, 1, stride, 0, "0", 1, false), "1");
    }
    return relu(h + shortcut);
}

Value resnet(Value x, int64_t depth, int64_t num_classes, int64_t width) {
    if (depth < 8 || (depth - 2) % 6 != 0)
        throw std::invalid_argument(fmt::format("resnet: depth must be 6n + 2 (8, 14, 20, 32, ...), got {}", depth));
    const int64_t blocks_per_stage = (depth - 2) / 6;
    Value h = batch_norm(conv(x, width, 3, 1, 1, "conv1", 1, false), "bn1", {.relu = true});
    for (int64_t stage = 0; stage < 3; ++stage) {
        const int64_t channels = width << stage;  // 16, 32, 64 for width 16
        for (int64_t b = 0; b < blocks_per_stage; ++b) {
            const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
            h = basic_block(h, channels, stride, fmt::format("layer{}.{}", stage + 1, b));
        }
    }
    return linear(flatten(global_avg_pool2d(h)), num_classes, "fc");
}

}  // namespace gg::models
