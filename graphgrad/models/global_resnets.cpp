// Bottleneck blocks whose 3x3 convolution is replaced by a global layer (a lambda layer, as in
// LambdaResNets, or multi-head self-attention, as in BoTNet), and two small Fashion-MNIST
// classifiers built from them. Sizes for 1x28x28 (the zoo's default):
//
//   conv1 3x3 32 + bn1 + ReLU                   [32, 28, 28]
//   layer1.0  BasicBlock 32 (two 3x3 convs)     [32, 28, 28]
//   layer2.0  bottleneck, stride 2, planes 64   [256, 14, 14]   global layer at 14x14 (n = 196)
//   layer3.0  bottleneck, stride 2, planes 64   [256, 7, 7]     global layer at 7x7 (n = 49)
//   global average pooling, fc
//
// Names follow torchvision's ResNet (conv1, bn1, layerL.B.convK/bnK, downsample, fc), the global
// layer taking conv2's place; the shortcut is ResNet-D's (avg pool, 1x1 conv, BN).
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "graphgrad/models/attention_layers.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/normalization.h"
#include "graphgrad/ops/pooling.h"

namespace gg::models {

namespace {

constexpr int64_t kExpansion = 4;  // torchvision's Bottleneck: out = 4·planes
constexpr int64_t kStemWidth = 32;
constexpr int64_t kPlanes = 64;    // the global layers' dim

Value pool2(Value x) { return avg_pool2d(x, {.kernel = {2, 2}, .stride = {2, 2}}); }

// relu(bn3(conv3(relu(bn2(layer(relu(bn1(conv1(pool?(x))))))))) + shortcut(pool?(x))).
template <typename Layer>
Value bottleneck(Value x, int64_t planes, int64_t stride, const std::string& name, const char* kind, Layer&& layer) {
    Graph& g = *x.graph;
    if (x.rank() != 4 || planes < 1 || (stride != 1 && stride != 2))
        throw std::invalid_argument(fmt::format("{} \"{}\": needs x [N, C, H, W], planes >= 1 and stride 1 or 2, got "
                                                "x {}, planes {}, stride {}",
                                                kind, g.scoped(name), x.desc(), planes, stride));
    NameScope scope(g, name);
    // Stride 2 pools the block's input once, for conv1 and the shortcut: conv1, the quadratic
    // layer and everything after run at the output size (pooling conv1's output instead costs
    // 4x in conv1 and bn1, and a second pooling of a wider tensor).
    Value xs = stride == 2 ? pool2(x) : x;
    Value h = batch_norm(conv(xs, planes, 1, 1, 0, "conv1", 1, false), "bn1", {.relu = true});
    h = batch_norm(layer(h, "conv2"), "bn2", {.relu = true});
    h = batch_norm(conv(h, planes * kExpansion, 1, 1, 0, "conv3", 1, false), "bn3");
    Value shortcut = x;
    if (stride != 1 || x.dim(1) != planes * kExpansion) {
        NameScope ds(g, "downsample");  // nn.Sequential(AvgPool2d or Identity, Conv2d 1x1, BatchNorm2d)
        shortcut = batch_norm(conv(xs, planes * kExpansion, 1, 1, 0, "1", 1, false), "2");
    }
    return relu(h + shortcut);
}

template <typename Block>
Value global_resnet(Value x, int64_t num_classes, Block&& block) {
    Value h = batch_norm(conv(x, kStemWidth, 3, 1, 1, "conv1", 1, false), "bn1", {.relu = true});
    h = basic_block(h, kStemWidth, 1, "layer1.0");
    h = block(h, "layer2.0");  // → H/2 (14x14)
    h = block(h, "layer3.0");  // → H/4 (7x7)
    return linear(flatten(global_avg_pool2d(h)), num_classes, "fc");
}

}  // namespace

Value lambda_bottleneck(Value x, int64_t planes, int64_t stride, const LambdaOptions& o, const std::string& name) {
    return bottleneck(x, planes, stride, name, "lambda_bottleneck", [&](Value h, const std::string& layer_name) {
        LambdaOptions lo = o;
        lo.dim = planes;
        return lambda_layer(h, lo, layer_name);
    });
}

Value attention_bottleneck(Value x, int64_t planes, int64_t stride, const AttentionOptions& o,
                           const std::string& name) {
    return bottleneck(x, planes, stride, name, "attention_bottleneck", [&](Value h, const std::string& layer_name) {
        AttentionOptions ao = o;
        ao.dim = planes;
        return self_attention(h, ao, layer_name);
    });
}

Value lambda_resnet(Value x, int64_t num_classes) {
    // The paper's defaults: k = 16, 4 heads, u = 1, global context with relative positions
    // (the bottleneck sets dim to its planes).
    const LambdaOptions o{.k = 16, .heads = 4, .u = 1, .r = 0};
    return global_resnet(x, num_classes,
                         [&](Value h, const std::string& name) { return lambda_bottleneck(h, kPlanes, 2, o, name); });
}

Value attention_resnet(Value x, int64_t num_classes) {
    // As BoTNet: 4 heads, relative position bias, no output projection (conv3 follows).
    const AttentionOptions o{.heads = 4, .relative_bias = true, .out_proj = false};
    return global_resnet(x, num_classes,
                         [&](Value h, const std::string& name) { return attention_bottleneck(h, kPlanes, 2, o, name); });
}

}  // namespace gg::models
