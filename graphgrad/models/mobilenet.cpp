// MobileNet v1 (Howard et al. 2017) and MobileNetV2's inverted residual (Sandler et al. 2018).
//
// A depthwise-separable layer factorises a k×k convolution from M to N channels into a
// depthwise k×k convolution (one filter per channel: groups = M) and a pointwise 1x1
// convolution: D_k²·M + M·N weights instead of D_k²·M·N, about 1/N + 1/D_k² of the cost.
//
// MobileNet v1 for 28x28 input. The ImageNet network (224x224) has a stride-2 stem and 13
// separable layers down to 7x7 (÷32). On 28x28 that would leave less than one pixel, so this
// version keeps the stem at stride 1 and uses seven separable layers with three stride-2
// steps, 28 → 14 → 7 → 4, and drops the five repeated 512 layers and the 1024 stage:
//   stem 3x3 32 | dw-sep 64 | 128 s2 | 128 | 256 s2 | 256 | 512 s2 | 512 | avg pool | fc
// The width multiplier α scales every channel count (rounded, at least 8); the resolution
// multiplier ρ is applied by feeding a smaller input (e.g. 1x20x20 for ρ ≈ 0.71), since
// global average pooling accepts any spatial size.
// Names follow a PyTorch nn.Sequential "features" of conv_bn blocks, and "classifier".
#include <algorithm>
#include <cmath>
#include <string>

#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/normalization.h"
#include "graphgrad/ops/pooling.h"

namespace gg::models {

namespace {

// ReLU6 (MobileNetV2): min(max(x, 0), 6), robust under low-precision arithmetic.
Value relu6(Value x) { return minimum(relu(x), scalar_like(x, 6.0)); }

struct SeparableStage {
    int64_t channels;
    int64_t stride;
};
constexpr SeparableStage kStages[] = {{64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2}, {512, 1}};

}  // namespace

Value depthwise_separable(Value x, int64_t out_channels, int64_t stride, const std::string& name) {
    NameScope scope(*x.graph, name);
    Value h = conv_bn(x, x.dim(1), 3, stride, "0", /*groups=*/x.dim(1));  // depthwise: spatial only
    return conv_bn(h, out_channels, 1, 1, "1");                             // pointwise: mixes channels
}

Value mobilenet_v1(Value x, int64_t num_classes, double alpha) {
    auto width = [alpha](int64_t c) { return std::max<int64_t>(8, std::lround(static_cast<double>(c) * alpha)); };
    Value h = conv_bn(x, width(32), 3, 1, "features.0");
    int index = 1;
    for (const SeparableStage& s : kStages)
        h = depthwise_separable(h, width(s.channels), s.stride, "features." + std::to_string(index++));
    return linear(flatten(global_avg_pool2d(h)), num_classes, "classifier");
}

// torchvision's InvertedResidual: expand 1x1 (when expand > 1) → depthwise 3x3 → project 1x1
// without activation (a ReLU on the narrow output would destroy information: the "linear
// bottleneck"); the identity shortcut joins the narrow ends when the shape is unchanged.
Value inverted_residual(Value x, int64_t out_channels, int64_t stride, int64_t expand, const std::string& name) {
    NameScope scope(*x.graph, name + ".conv");  // torchvision: InvertedResidual.conv = Sequential
    const int64_t hidden = x.dim(1) * expand;
    Value h = x;
    int index = 0;
    if (expand != 1) h = relu6(conv_bn(h, hidden, 1, 1, std::to_string(index++), 1, false));
    h = relu6(conv_bn(h, hidden, 3, stride, std::to_string(index++), hidden, false));
    // The projection is a bare conv and batch norm at consecutive indices, as in torchvision.
    h = conv(h, out_channels, 1, 1, 0, std::to_string(index++), 1, false);
    h = batch_norm(h, std::to_string(index));
    return (stride == 1 && x.dim(1) == out_channels) ? x + h : h;
}

}  // namespace gg::models
