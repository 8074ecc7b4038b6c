// Layers shared by the models, initialised like their torch.nn counterparts so a graphgrad
// model starts from the same distribution as the PyTorch one:
//   weight ~ kaiming_uniform(a = √5)  ⇒  U(−1/√fan_in, 1/√fan_in)
//   bias   ~ U(−1/√fan_in, 1/√fan_in)
// with fan_in = in_features (Linear), in/groups·k·k (Conv2d), or weight.shape[1]·k·k = out·k·k
// (ConvTranspose2d, whose weight is [in, out, k, k]: PyTorch computes its fan from dim 1 too).
#include <cmath>

#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/conv.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/linalg.h"
#include "graphgrad/ops/normalization.h"
#include "graphgrad/ops/shape_ops.h"

namespace gg::models {

namespace {

// kaiming_uniform's gain for leaky-ReLU slope a = √5: √(2 / (1 + a²)) = 1/√3. Times the
// initialiser's √(3 / fan_in) this is exactly PyTorch's 1/√fan_in bound.
const double kTorchDefaultGain = 1.0 / std::sqrt(3.0);

Initializer torch_default_weight(init::WeightAxes axes = init::WeightAxes::InOut) {
    return init::kaiming_uniform(kTorchDefaultGain, axes);
}
Initializer torch_default_bias(double fan_in) {
    const double bound = 1.0 / std::sqrt(fan_in);
    return init::uniform(-bound, bound);
}

}  // namespace

Value linear(Value x, int64_t out_features, const std::string& name, bool bias) {
    Graph& g = *x.graph;
    const int64_t in_features = x.dim(-1);
    Value w, b;
    {
        NameScope scope(g, name);
        w = g.parameter("weight", {out_features, in_features}, torch_default_weight(init::WeightAxes::OutIn), x.dtype());
        if (bias) b = g.parameter("bias", {out_features}, torch_default_bias(static_cast<double>(in_features)), x.dtype());
    }
    // W is stored [out, in] like PyTorch; matmul reads it transposed without a copy.
    Value y = matmul(x, w, false, true, name);
    return bias ? y + b : y;
}

Value conv(Value x, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding, const std::string& name,
           int64_t groups, bool bias) {
    Graph& g = *x.graph;
    const int64_t in_per_group = x.dim(1) / groups;
    std::optional<Value> b;
    Value w;
    {
        NameScope scope(g, name);
        w = g.parameter("weight", {out_channels, in_per_group, kernel, kernel}, torch_default_weight(), x.dtype());
        if (bias)
            b = g.parameter("bias", {out_channels}, torch_default_bias(static_cast<double>(in_per_group * kernel * kernel)), x.dtype());
    }
    return conv2d(x, w, b, {.stride = {stride, stride}, .padding = pad_all(padding), .groups = groups}, name);
}

Value conv_transpose(Value x, int64_t out_channels, int64_t kernel, int64_t stride, const std::string& name,
                     bool bias) {
    Graph& g = *x.graph;
    std::optional<Value> b;
    Value w;
    {
        NameScope scope(g, name);
        w = g.parameter("weight", {x.dim(1), out_channels, kernel, kernel}, torch_default_weight(), x.dtype());
        if (bias)
            b = g.parameter("bias", {out_channels}, torch_default_bias(static_cast<double>(out_channels * kernel * kernel)), x.dtype());
    }
    return conv_transpose2d(x, w, b, {.stride = {stride, stride}}, name);
}

Value conv_bn(Value x, int64_t out_channels, int64_t kernel, int64_t stride, const std::string& name, int64_t groups,
              bool relu) {
    NameScope scope(*x.graph, name);
    // No conv bias: batch norm subtracts the mean right after, and β plays the bias's role.
    const Value y = conv(x, out_channels, kernel, stride, (kernel - 1) / 2, "0", groups, false);
    return batch_norm(y, "1", {.relu = relu});
}

Value flatten(Value x) { return reshape(x, {x.dim(0), -1}); }

}  // namespace gg::models
