// DenseNet-BC (Huang, Liu, van der Maaten and Weinberger 2017), the CIFAR form of the paper's
// §3-4 with torchvision's names (features.conv0, features.denseblock1.denselayer1.norm1/conv1/
// norm2/conv2, features.transition1.norm/conv, features.norm5, classifier).
//
// Each layer of a dense block reads the concatenation of every earlier feature map in the
// block and adds k (the growth rate) new channels. "B" is the bottleneck: BN-ReLU-conv 1x1 to
// 4k channels before the BN-ReLU-conv 3x3 to k, so a layer's 3x3 cost stays 36k² however wide
// its input grows. "C" is compression: a transition layer (BN-ReLU-conv 1x1 to ⌊θ·m⌋ of its m
// channels, then 2x2 average pooling) halves the channels with θ = 0.5.
//
// The paper's CIFAR network fits 28x28 as it is: a 3x3 stem conv with 2k channels at stride 1
// (no ImageNet 7x7 stride-2 stem or max pooling, and, as in the paper, no norm0 after it: every
// layer starts with its own BN-ReLU), three dense blocks of n = (depth − 4)/6 bottleneck layers
// at 28x28, 14x14 and 7x7, transitions between them, then BN-ReLU, global average pooling and
// the classifier. depth counts the weighted layers: stem + 2n per block + 2 transitions + fc.
// DenseNet-BC-40 (k = 12): 3 x 6 layers; channels 24 → 96 → 48 → 120 → 60 → 132.
//
// The concatenations are plain concat nodes: the memory of a block grows as n², which at these
// sizes is smaller than the gradient buffers (the paper's shared-memory version is an
// implementation trick, not part of the model).
#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "graphgrad/models/model_zoo.h"
#include "graphgrad/models/vision_models.h"
#include "graphgrad/ops/normalization.h"
#include "graphgrad/ops/pooling.h"
#include "graphgrad/ops/shape_ops.h"

namespace gg::models {

Value dense_layer(Value x, int64_t growth, int64_t bottleneck, const std::string& name) {
    NameScope scope(*x.graph, name);
    // Convolutions have no bias: a batch norm follows each (the next layer's norm1 for conv2).
    Value h = conv(batch_norm(x, "norm1", {.relu = true}), bottleneck * growth, 1, 1, 0, "conv1", 1, false);
    return conv(batch_norm(h, "norm2", {.relu = true}), growth, 3, 1, 1, "conv2", 1, false);
}

Value densenet_bc(Value x, int64_t num_classes, const DenseNetOptions& o) {
    if (o.depth < 10 || (o.depth - 4) % 6 != 0)
        throw std::invalid_argument(fmt::format("densenet_bc: depth must be 6n + 4 (10, 16, 22, 40, 100, ...), got {}", o.depth));
    if (o.growth < 1 || o.bottleneck < 1)
        throw std::invalid_argument(fmt::format("densenet_bc: growth ({}) and bottleneck ({}) must be positive", o.growth, o.bottleneck));
    if (!(o.compression > 0.0 && o.compression <= 1.0))
        throw std::invalid_argument(fmt::format("densenet_bc: compression θ = {} is outside (0, 1]", o.compression));
    const int64_t layers_per_block = (o.depth - 4) / 6;
    Graph& g = *x.graph;
    Value h;
    {
        NameScope features(g, "features");
        h = conv(x, 2 * o.growth, 3, 1, 1, "conv0", 1, false);
        for (int64_t block = 1; block <= 3; ++block) {
            {
                NameScope dense_block(g, fmt::format("denseblock{}", block));
                for (int64_t l = 1; l <= layers_per_block; ++l)
                    h = concat({h, dense_layer(h, o.growth, o.bottleneck, fmt::format("denselayer{}", l))}, 1);
            }
            if (block == 3) break;
            NameScope transition(g, fmt::format("transition{}", block));
            const auto kept = static_cast<int64_t>(std::floor(o.compression * static_cast<double>(h.dim(1))));
            h = conv(batch_norm(h, "norm", {.relu = true}), kept, 1, 1, 0, "conv", 1, false);
            h = avg_pool2d(h, {.kernel = {2, 2}, .stride = {2, 2}});
        }
        h = batch_norm(h, "norm5", {.relu = true});
    }
    return linear(flatten(global_avg_pool2d(h)), num_classes, "classifier");
}

}  // namespace gg::models
