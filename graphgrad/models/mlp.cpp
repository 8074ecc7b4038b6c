// Multi-layer perceptron: flatten, then Linear + ReLU per hidden width, then a Linear
// classifier. Layers are fc1, fc2, ..., fcN like a PyTorch module with named Linear members.
//
//   auto logits = gg::models::mlp(x, {256, 128}, 10);   // fc1 784→256, fc2 256→128, fc3 128→10
#include <string>

#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/activation.h"

namespace gg::models {

Value mlp(Value x, const std::vector<int64_t>& hidden, int64_t num_classes) {
    Value h = flatten(x);
    int layer = 1;
    for (int64_t width : hidden) h = relu(linear(h, width, "fc" + std::to_string(layer++)));
    return linear(h, num_classes, "fc" + std::to_string(layer));  // logits: no activation
}

}  // namespace gg::models
