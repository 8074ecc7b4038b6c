// Normalisation layers.
// batch_norm over [N, C, ...] per channel: in training programs (compile() of a graph with
// gradient nodes, or CompileOptions::training) it normalises with batch statistics and
// updates the running statistics in place (PyTorch momentum: r ← (1−m)·r + m·batch, running
// variance unbiased); in evaluation programs it uses the running statistics.
// layer_norm normalises over the trailing dimensions given by normalized_shape.
//
//   auto y = gg::batch_norm(x, "bn1");        // bn1.weight/bias/running_mean/running_var/num_batches_tracked
//   auto z = gg::layer_norm(x, {512}, "ln");  // ln.weight, ln.bias
#pragma once

#include <optional>
#include <string>

#include "graphgrad/graph/graph.h"

namespace gg {

struct BatchNormOptions {
    double momentum = 0.1;
    double eps = 1e-5;
    bool affine = true;  // learnable weight (γ, init 1) and bias (β, init 0)
    // y = max(0, batch_norm(x)), in the same pass (oneDNN's fuse_norm_relu on blocked
    // layouts): the usual conv → bn → relu without a separate relu over memory.
    bool relu = false;
};

// Creates the parameters and state under `name` ("name.weight", "name.bias",
// "name.running_mean", "name.running_var", "name.num_batches_tracked" like PyTorch) and adds the node.
Value batch_norm(Value x, const std::string& name, BatchNormOptions o = {});

// The op on explicit values (what the builder above uses; also for tests): running_mean,
// running_var [C] and num_batches_tracked (i64 scalar) are graph.state(...) values (or fed
// inputs) that the kernel updates in place in training programs. Without affine, pass ones
// and zeros constants for weight and bias.
// The node's outputs are (y, save_mean, save_invstd); gradients follow the training formula.
// The node holds `o` (gg::node_attributes<BatchNormOptions>(node), e.g. eps to turn
// save_invstd back into the batch variance 1/invstd² − eps).
Value batch_norm(Value x, Value weight, Value bias, Value running_mean, Value running_var, Value num_batches_tracked,
                 BatchNormOptions o = {}, const std::string& name = {});


struct LayerNormOptions {
    double eps = 1e-5;
    bool affine = true;
};
// Creates "name.weight" (ones) and "name.bias" (zeros) shaped normalized_shape when affine.
Value layer_norm(Value x, const Shape& normalized_shape, const std::string& name, LayerNormOptions o = {});
// Explicit parameters (either may be absent; o.affine is then ignored).
Value layer_norm(Value x, const Shape& normalized_shape, std::optional<Value> weight, std::optional<Value> bias,
                 LayerNormOptions o = {});

}  // namespace gg
