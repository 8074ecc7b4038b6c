// Reference architectures written as graph code with the public API only (they are what users
// copy). Parameter names and layouts follow the equivalent PyTorch module's state_dict
// (conv1.weight [out, in, kh, kw], fc1.weight [out, in], bn1.running_mean, ...), so
// checkpoints interchange with PyTorch. Every builder adds its layers to x's graph, under the
// graph's current NameScope.
//
//   gg::Graph g;
//   auto x = g.input("x", {64, 1, 28, 28});
//   auto logits = gg::models::lenet5(x, 10);
//   auto& zoo = gg::models::model_zoo();      // by name, for the CLI
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "graphgrad/graph/graph.h"

namespace gg::models {

// --- layers (layers.cpp): torch.nn modules, with PyTorch's default initialisation -----------
// Parameters take x's dtype (an f64 model for gradient checks and loop references).
// Linear layer like torch.nn.Linear: y = x·Wᵀ + b, W [out, in] named "<name>.weight".
Value linear(Value x, int64_t out_features, const std::string& name, bool bias = true);
// Conv2d like torch.nn.Conv2d, square kernel, symmetric padding: W [out, in/groups, k, k].
Value conv(Value x, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding, const std::string& name,
           int64_t groups = 1, bool bias = true);
// ConvTranspose2d like torch.nn.ConvTranspose2d (no padding): W [in, out, k, k].
Value conv_transpose(Value x, int64_t out_channels, int64_t kernel, int64_t stride, const std::string& name,
                     bool bias = true);
// torchvision's Conv2dNormActivation: "<name>.0" conv without bias and "same" padding (k−1)/2,
// "<name>.1" batch norm, then ReLU when `relu` (false: the caller picks, e.g. ReLU6 or none).
Value conv_bn(Value x, int64_t out_channels, int64_t kernel, int64_t stride, const std::string& name,
              int64_t groups = 1, bool relu = true);
Value flatten(Value x);  // [N, ...] → [N, prod(...)]

// --- models ---------------------------------------------------------------------------------
Value mlp(Value x, const std::vector<int64_t>& hidden, int64_t num_classes);  // flattens x; fc1..fcN
Value lenet5(Value x, int64_t num_classes = 10);  // conv1 padded by 2: 61,706 params for 1x28x28
// d2l's vgg_block: `convs` × (3x3 conv, ReLU) then 2x2 max pooling; convs "<name>.0", ".2", ...
Value vgg_block(Value x, int64_t channels, int64_t convs, const std::string& name);
Value vgg(Value x, int64_t num_classes = 10);  // two VGG blocks (32, 64) and a 2-layer classifier
// CIFAR-style ResNet (He et al. 2016, §4.2), depth = 6n + 2, BasicBlocks with 1x1 conv + BN
// projection shortcuts where the shape changes (option B); torchvision names.
Value resnet(Value x, int64_t depth = 20, int64_t num_classes = 10, int64_t width = 16);
// torchvision's BasicBlock: two 3x3 conv + BN (ReLU between), plus the identity or, where the
// shape changes, a 1x1 conv + BN shortcut ("<name>.downsample.0/.1"), then ReLU.
Value basic_block(Value x, int64_t channels, int64_t stride, const std::string& name);
// MobileNet v1: width multiplier α scales every layer's channels; the resolution multiplier ρ
// is the input size (global average pooling accepts any H, W). Stage list reduced for 28x28.
Value mobilenet_v1(Value x, int64_t num_classes = 10, double alpha = 1.0);
// Depthwise 3x3 (groups = channels) + BN + ReLU, then pointwise 1x1 + BN + ReLU:
// D_k²·M + M·N conv weights. "<name>.0" and "<name>.1" are conv_bn blocks.
Value depthwise_separable(Value x, int64_t out_channels, int64_t stride, const std::string& name);
// MobileNetV2 inverted residual, torchvision names ("<name>.conv.N").
Value inverted_residual(Value x, int64_t out_channels, int64_t stride, int64_t expand, const std::string& name);
// GoogLeNet's Inception module; the result has c1 + c3 + c5 + pool_proj channels.
Value inception_module(Value x, int64_t c1, int64_t c3r, int64_t c3, int64_t c5r, int64_t c5, int64_t pool_proj,
                       const std::string& name);
Value inception(Value x, int64_t num_classes = 10);  // stem, one module, classifier
// U-Net (Ronneberger et al. 2015) with `depth` poolings: H and W must be divisible by 2^depth.
Value unet(Value x, int64_t out_channels, int64_t base = 16, int64_t depth = 3);
Value autoencoder(Value x, int64_t bottleneck = 32);  // returns the reconstruction, shaped like x
// The same autoencoder fed dropout(x, noise_p): corruption in training programs only.
Value denoising_autoencoder(Value x, double noise_p, int64_t bottleneck = 32);

// Classifiers by name for `graphgrad train|summary|dot|eval`.
struct ModelEntry {
    std::string name;
    std::string description;
    Shape default_input;  // C, H, W
    std::function<Value(Value x, int64_t num_classes)> build;
};
const std::vector<ModelEntry>& model_zoo();
const ModelEntry& find_model(const std::string& name);  // throws listing the known names

}  // namespace gg::models
