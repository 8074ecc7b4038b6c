// VGG (Simonyan & Zisserman 2015): stacks of 3x3 convolutions, each block halving the
// resolution with 2x2 max pooling. Two 3x3 layers see a 5x5 window with fewer parameters
// (2·9·C² vs 25·C²) and one more non-linearity than a single 5x5 layer.
// Names follow a PyTorch nn.Sequential: in vgg_block the convolutions sit at indices 0, 2, 4,
// ... (ReLUs between), and vgg() has "features.B.*" and "classifier.0" / "classifier.2".
#include <string>

#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/pooling.h"

namespace gg::models {

Value vgg_block(Value x, int64_t channels, int64_t convs, const std::string& name) {
    NameScope scope(*x.graph, name);
    for (int64_t i = 0; i < convs; ++i) x = relu(conv(x, channels, 3, 1, 1, std::to_string(2 * i)));
    return max_pool2d(x);
}

// A small VGG-style classifier for 1x28x28: 28 → 14 → 7, then 64·7·7 → 128 → classes.
Value vgg(Value x, int64_t num_classes) {
    Value h = vgg_block(x, 32, 2, "features.0");
    h = vgg_block(h, 64, 2, "features.1");
    h = relu(linear(flatten(h), 128, "classifier.0"));
    return linear(h, num_classes, "classifier.2");
}

}  // namespace gg::models
