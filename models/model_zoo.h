// Reference architectures written as graph code with the public API only (they are what users
// copy). Parameter names and layouts follow the equivalent PyTorch module's state_dict
// (conv1.weight [out, in, kh, kw], fc1.weight [out, in], bn1.running_mean, ...), so
// checkpoints interchange with PyTorch.
//
//   gg::Graph g;
//   auto x = g.input("x", {64, 1, 28, 28});
//   auto logits = gg::models::lenet5(x, 10);
//   auto& zoo = gg::models::model_zoo();      // by name, for the CLI
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace gg::models {

// Linear layer like torch.nn.Linear: y = x·Wᵀ + b, W [out, in] named "<name>.weight".
Value linear(Value x, int64_t out_features, const std::string& name, bool bias = true);
// Conv2d like torch.nn.Conv2d (kaiming-uniform init as PyTorch's default).
Value conv(Value x, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding, const std::string& name,
           int64_t groups = 1, bool bias = true);

Value mlp(Value x, const std::vector<int64_t>& hidden, int64_t num_classes);  // flattens x
Value lenet5(Value x, int64_t num_classes = 10);                                // 61,706 params for 1x28x28... see .cpp
Value vgg_block(Value x, int64_t channels, int64_t convs, const std::string& name);
Value resnet(Value x, int64_t depth = 20, int64_t num_classes = 10, int64_t width = 16);  // CIFAR-style 6n+2
Value mobilenet_v1(Value x, int64_t num_classes = 10, double alpha = 1.0);
Value inverted_residual(Value x, int64_t out_channels, int64_t stride, int64_t expand, const std::string& name);
Value inception_module(Value x, int64_t c1, int64_t c3r, int64_t c3, int64_t c5r, int64_t c5, int64_t pool_proj,
                       const std::string& name);
Value unet(Value x, int64_t out_channels, int64_t base = 16, int64_t depth = 3);
Value autoencoder(Value x, int64_t bottleneck = 32);        // returns the reconstruction
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
