// The classifiers the command-line program knows by name. Each takes x [N, C, H, W] (default
// 1x28x28, Fashion-MNIST) and returns logits [N, num_classes].
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "graphgrad/models/attention_layers.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/models/vision_models.h"

namespace gg::models {

const std::vector<ModelEntry>& model_zoo() {
    static const std::vector<ModelEntry> zoo = {
        {"mlp", "MLP 784-256-128-C with ReLU", {1, 28, 28},
         [](Value x, int64_t c) { return mlp(x, {256, 128}, c); }},
        {"lenet5", "LeNet-5: 2 conv (5x5, ReLU, max pool) + 3 fc, 61,706 params", {1, 28, 28},
         [](Value x, int64_t c) { return lenet5(x, c); }},
        {"resnet20", "CIFAR-style ResNet-20: 3 stages x 3 BasicBlocks, widths 16/32/64, batch norm", {1, 28, 28},
         [](Value x, int64_t c) { return resnet(x, 20, c); }},
        {"resnet110", "CIFAR-style ResNet-110: 3 stages x 18 BasicBlocks, widths 16/32/64 (a deep chain: checkpointing)",
         {1, 28, 28}, [](Value x, int64_t c) { return resnet(x, 110, c); }},
        {"mobilenet_v1", "MobileNet v1 (alpha 1), 7 depthwise-separable layers for 28x28", {1, 28, 28},
         [](Value x, int64_t c) { return mobilenet_v1(x, c, 1.0); }},
        {"vgg", "small VGG: 2 blocks of 2 3x3 convs (32, 64) + 2 fc", {1, 28, 28},
         [](Value x, int64_t c) { return vgg(x, c); }},
        {"inception", "3x3 stem + one Inception module + global pooling + fc", {1, 28, 28},
         [](Value x, int64_t c) { return inception(x, c); }},
        {"lambda_resnet", "3x3 stem + BasicBlock + 2 bottlenecks with global lambda layers (k 16, 4 heads) at 14x14 and 7x7",
         {1, 28, 28}, [](Value x, int64_t c) { return lambda_resnet(x, c); }},
        {"attention_resnet", "lambda_resnet with 4-head self-attention (relative position bias) instead of lambda layers",
         {1, 28, 28}, [](Value x, int64_t c) { return attention_resnet(x, c); }},
        {"vit", "ViT: 4x4 patches, dim 64, 4 pre-norm blocks of 4 heads, class token", {1, 28, 28},
         [](Value x, int64_t c) { return vit(x, c); }},
        // The course's classic architectures adapted to 28x28 (models/vision_models.h).
        {"alexnet", "AlexNet for 28x28: 5x5/1 first conv, 3 overlapping 3x3/2 max pools, half widths, fc 1024 + dropout 0.5",
         {1, 28, 28}, [](Value x, int64_t c) { return alexnet(x, c); }},
        {"densenet_bc", "DenseNet-BC-40, k = 12, theta = 0.5: 3 dense blocks of 6 bottleneck layers at 28, 14, 7 px",
         {1, 28, 28}, [](Value x, int64_t c) { return densenet_bc(x, c); }},
        {"xception", "Xception for 28x28: stride-1 stem, entry 64/128/256, 2 middle blocks, exit 256/384 + 512/768",
         {1, 28, 28}, [](Value x, int64_t c) { return xception(x, c); }},
        {"efficientnet_b0", "EfficientNet-B0 (MBConv + SE, SiLU, stochastic depth 0.2) with a stride-1 stem for 28x28",
         {1, 28, 28}, [](Value x, int64_t c) { return efficientnet(x, c); }},
    };
    return zoo;
}

const ModelEntry& find_model(const std::string& name) {
    std::string known;
    for (const ModelEntry& m : model_zoo()) {
        if (m.name == name) return m;
        known += (known.empty() ? "" : ", ") + m.name;
    }
    throw std::invalid_argument(fmt::format("unknown model \"{}\" (known: {})", name, known));
}

}  // namespace gg::models
