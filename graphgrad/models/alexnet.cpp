// AlexNet (Krizhevsky, Sutskever and Hinton 2012) for 1x28x28 inputs, with torchvision's
// layer indices (features.0/3/6/8/10 convolutions, classifier.1/4/6 linear layers).
//
// The ImageNet network reads 224x224 images with an 11x11 stride-4 first convolution (55x55
// maps), then three overlapping 3x3 stride-2 max poolings down to 6x6. A stride-4 first layer
// on 28x28 would leave 7x7 maps and the second pooling nothing to pool, so here:
//   - the first convolution is 5x5 with stride 1 and padding 2 (28x28 maps): it covers 18% of
//     the image width, where 11x11 covers 5% of 224; the second stays 5x5 (padding 2);
//   - all three overlapping 3x3 stride-2 poolings are kept (the paper's "overlapping pooling"):
//     28 → 13 → 6 → 2, so the classifier reads 2·2·128 = 512 features (9,216 on ImageNet) and
//     torchvision's adaptive 6x6 average pooling has nothing to do (it is left out);
//   - widths are half of torchvision's single-GPU ones (64, 192, 384, 256, 256 → 32, 96, 192,
//     128, 128) and the hidden fc layers have 1,024 units instead of 4,096: one input channel
//     and ten classes, and 2.2 M parameters instead of 57 M train in minutes on a CPU;
//   - local response normalisation is left out, as torchvision does (VGG found it does not
//     help); ReLU after every convolution and hidden fc layer, and dropout 0.5 before each
//     hidden fc layer, as the paper.
#include <string>

#include "graphgrad/models/model_zoo.h"
#include "graphgrad/models/vision_models.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/pooling.h"
#include "graphgrad/ops/random.h"

namespace gg::models {

namespace {

Value overlapping_pool(Value x) { return max_pool2d(x, {.kernel = {3, 3}, .stride = {2, 2}}); }

Value named_dropout(Value x, double p, const std::string& name) {
    NameScope scope(*x.graph, name);  // torchvision's classifier.0 and classifier.3 (no parameters)
    return dropout(x, p);
}

}  // namespace

Value alexnet(Value x, int64_t num_classes, const AlexNetOptions& o) {
    const auto& c = o.channels;
    Value h = overlapping_pool(relu(conv(x, c[0], 5, 1, 2, "features.0")));  // [N, 32, 13, 13]
    h = overlapping_pool(relu(conv(h, c[1], 5, 1, 2, "features.3")));        // [N, 96, 6, 6]
    h = relu(conv(h, c[2], 3, 1, 1, "features.6"));
    h = relu(conv(h, c[3], 3, 1, 1, "features.8"));
    h = overlapping_pool(relu(conv(h, c[4], 3, 1, 1, "features.10")));       // [N, 128, 2, 2]
    h = flatten(h);
    h = relu(linear(named_dropout(h, o.dropout, "classifier.0"), o.hidden, "classifier.1"));
    h = relu(linear(named_dropout(h, o.dropout, "classifier.3"), o.hidden, "classifier.4"));
    return linear(h, num_classes, "classifier.6");
}

}  // namespace gg::models
