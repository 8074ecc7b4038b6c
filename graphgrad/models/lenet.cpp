// LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, as in the PyTorch tutorials.
// conv1 is padded by 2 so a 28x28 image behaves like the original 32x32 input and fc1 sees
// 16·5·5 = 400 features. Parameters for 1x28x28 input and 10 classes:
//   conv1 6·1·5·5 + 6 = 156      conv2 16·6·5·5 + 16 = 2,416
//   fc1 400·120 + 120 = 48,120   fc2 120·84 + 84 = 10,164   fc3 84·10 + 10 = 850   total 61,706
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/pooling.h"

namespace gg::models {

Value lenet5(Value x, int64_t num_classes) {
    Value h = max_pool2d(relu(conv(x, 6, 5, 1, 2, "conv1")));   // [N, 6, 14, 14]
    h = max_pool2d(relu(conv(h, 16, 5, 1, 0, "conv2")));         // [N, 16, 5, 5]
    h = flatten(h);                                              // [N, 400]
    h = relu(linear(h, 120, "fc1"));
    h = relu(linear(h, 84, "fc2"));
    return linear(h, num_classes, "fc3");
}

}  // namespace gg::models
