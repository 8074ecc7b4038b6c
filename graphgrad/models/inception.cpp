// GoogLeNet's Inception module (Szegedy et al. 2015): four parallel branches over the same
// input, concatenated on channels, so the next layer chooses among 1x1, 3x3 and 5x5 features.
// The 1x1 "reduce" convolutions before the 3x3 and 5x5 ones (and after the pooling) keep the
// expensive convolutions narrow. Each convolution is torchvision's BasicConv2d (conv without
// bias, batch norm with eps 0.001, ReLU), named like torchvision's Inception:
//   branch1.conv | branch2.0, branch2.1 | branch3.0, branch3.1 | branch4.1 (branch4.0 is the pool)
// Unlike torchvision (which uses 3x3 there) branch3 has the paper's 5x5 convolution.
#include <string>

#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/normalization.h"
#include "graphgrad/ops/pooling.h"
#include "graphgrad/ops/shape_ops.h"

namespace gg::models {

namespace {

Value basic_conv(Value x, int64_t out_channels, int64_t kernel, int64_t stride, const std::string& name) {
    NameScope scope(*x.graph, name);
    Value h = conv(x, out_channels, kernel, stride, (kernel - 1) / 2, "conv", 1, false);
    return batch_norm(h, "bn", {.eps = 1e-3, .relu = true});
}

}  // namespace

Value inception_module(Value x, int64_t c1, int64_t c3r, int64_t c3, int64_t c5r, int64_t c5, int64_t pool_proj,
                       const std::string& name) {
    NameScope scope(*x.graph, name);
    Value b1 = basic_conv(x, c1, 1, 1, "branch1");
    Value b2 = basic_conv(basic_conv(x, c3r, 1, 1, "branch2.0"), c3, 3, 1, "branch2.1");
    Value b3 = basic_conv(basic_conv(x, c5r, 1, 1, "branch3.0"), c5, 5, 1, "branch3.1");
    // 3x3 max pooling with stride 1 and padding 1 keeps H and W, so all four branches align.
    Value pooled = max_pool2d(x, {.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1, 1, 1}});
    Value b4 = basic_conv(pooled, pool_proj, 1, 1, "branch4.1");
    return concat({b1, b2, b3, b4}, 1);
}

// A small classifier around one module, for 1x28x28: a 3x3 stem of 32 channels and max
// pooling (28 → 14), inception3a at a quarter of GoogLeNet's widths (16 + 32 + 8 + 8 = 64
// channels), global average pooling and fc.
Value inception(Value x, int64_t num_classes) {
    Value h = max_pool2d(basic_conv(x, 32, 3, 1, "conv1"));
    h = inception_module(h, 16, 24, 32, 4, 8, 8, "inception3a");
    return linear(flatten(global_avg_pool2d(h)), num_classes, "fc");
}

}  // namespace gg::models
