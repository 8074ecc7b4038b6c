// The course's classic image classifiers as graph code, adapted to 28x28 inputs (Fashion-MNIST):
// AlexNet, DenseNet-BC, Xception and EfficientNet (B0 and its compound scaling). Parameter
// names follow torchvision where it has the model (features.0.weight, features.denseblock1.
// denselayer1.conv1.weight, features.1.0.block.2.fc1.weight, classifier.1.weight); Xception
// follows the layer names of Keras's keras.applications.Xception (block2_sepconv1, ...). Each
// .cpp file says how its network was adapted to 28x28 and why.
//
//   auto logits = gg::models::densenet_bc(x, 10, {.depth = 40, .growth = 12});
//   auto b1 = gg::models::efficientnet(x, 10, gg::models::efficientnet_variant(1).options);
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "graphgrad/graph/graph.h"

namespace gg::models {

// --- AlexNet (Krizhevsky et al. 2012; alexnet.cpp) ------------------------------------------
struct AlexNetOptions {
    std::array<int64_t, 5> channels{32, 96, 192, 128, 128};  // torchvision's 64, 192, 384, 256, 256 halved
    int64_t hidden = 1024;                                    // the two hidden fc layers (4096 in the paper)
    double dropout = 0.5;                                     // before each hidden fc layer, as the paper
};
Value alexnet(Value x, int64_t num_classes = 10, const AlexNetOptions& o = {});

// --- DenseNet-BC (Huang et al. 2017; densenet.cpp) ------------------------------------------
struct DenseNetOptions {
    int64_t depth = 40;         // 6n + 4: three dense blocks of n bottleneck layers
    int64_t growth = 12;        // k: channels each layer adds
    double compression = 0.5;   // θ: a transition keeps ⌊θ·m⌋ of its m channels
    int64_t bottleneck = 4;     // the 1x1 conv produces bottleneck·k channels
};
Value densenet_bc(Value x, int64_t num_classes = 10, const DenseNetOptions& o = {});
// One bottleneck layer, BN-ReLU-conv1x1(bottleneck·k)-BN-ReLU-conv3x3(k): the k new channels
// (the dense block concatenates them to x). torchvision's names norm1, conv1, norm2, conv2.
Value dense_layer(Value x, int64_t growth, int64_t bottleneck, const std::string& name);

// --- Xception (Chollet 2017; xception.cpp) ---------------------------------------------------
// Widths of the reduced network; the paper's in the comments.
struct XceptionOptions {
    std::array<int64_t, 2> stem{16, 32};         // block1_conv1, block1_conv2 (32, 64)
    std::array<int64_t, 3> entry{64, 128, 256};  // residual blocks 2-4 (128, 256, 728); entry[2] is the middle width
    int64_t middle_blocks = 2;                   // identity-residual blocks of 3 separable convs (8)
    std::array<int64_t, 2> exit{256, 384};       // the exit flow's residual block (728, 1024)
    std::array<int64_t, 2> head{512, 768};       // the two separable convs before pooling (1536, 2048)
};
Value xception(Value x, int64_t num_classes = 10, const XceptionOptions& o = {});
// Keras's SeparableConv2D without bias: depthwise 3x3 ("<name>.depthwise") then pointwise 1x1
// ("<name>.pointwise"), no activation or normalisation between them (the paper's finding).
Value separable_conv(Value x, int64_t out_channels, const std::string& name);

// --- EfficientNet (Tan & Le 2019; efficientnet.cpp) -----------------------------------------
struct EfficientNetOptions {
    double width_mult = 1.0;        // channels × width_mult, rounded to a multiple of 8
    double depth_mult = 1.0;        // repeats of each stage × depth_mult, rounded up
    double dropout = 0.2;           // before the classifier
    double stochastic_depth = 0.2;  // drop-path rate, rising linearly from 0 over the blocks
};
// The paper's B0-B7 coefficients: width, depth, dropout, and the ImageNet resolution with the
// matching 28x28-scale input side, round(28·r / 224) (the resolution multiplier is the input).
struct EfficientNetVariant {
    EfficientNetOptions options;
    int64_t imagenet_resolution;  // 224, 240, 260, 300, 380, 456, 528, 600
    int64_t input_side;           // 28, 30, 33, 38, 48, 57, 66, 75
};
EfficientNetVariant efficientnet_variant(int b);  // b in 0..7
// torchvision's _make_divisible: the nearest multiple of `divisor`, at least `divisor`, and
// never below 90% of v.
int64_t make_divisible(double v, int64_t divisor = 8);
Value efficientnet(Value x, int64_t num_classes = 10, const EfficientNetOptions& o = {});
// MBConv (torchvision's names "<name>.block.N"): expand 1x1 (when expand ≠ 1), depthwise k×k,
// squeeze-and-excitation to max(1, in/4) channels, project 1x1 without activation; SiLU after
// the first two; the identity shortcut with stochastic depth (drop_path) when the shape holds.
Value mbconv(Value x, int64_t out_channels, int64_t kernel, int64_t stride, int64_t expand, double drop_path_rate,
             const std::string& name);
// Stochastic depth (Huang et al. 2016) per sample: in training programs each sample's x is
// zeroed with probability p and scaled by 1/(1 − p) otherwise; the identity in evaluation.
Value drop_path(Value x, double p);

}  // namespace gg::models
