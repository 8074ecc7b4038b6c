// Parameter initialisers. Each is seeded from the graph's seed and the parameter's name, so
// the same graph code always starts from the same weights.
//
//   auto w = g.parameter("fc1.weight", {256, 784}, gg::init::kaiming_uniform());
//
// Fans follow PyTorch: for a 2-D [in, out] matmul weight fan_in = shape[0]; for [out, in, kh, kw]
// convolution weights fan_in = in·kh·kw. Pass WeightAxes::OutIn for a 2-D weight stored
// [out, in] (read transposed, like PyTorch's Linear).
#pragma once

#include <cstdint>
#include <functional>

#include "graphgrad/graph/tensor.h"

namespace gg {

using Initializer = std::function<void(Tensor&, uint64_t seed)>;

namespace init {

// Which axis of a 2-D weight is the input: x·W ([in, out]) or x·Wᵀ ([out, in]).
enum class WeightAxes { InOut, OutIn };

Initializer zeros();
Initializer ones();
Initializer constant(double value);
Initializer uniform(double low, double high);
Initializer normal(double mean = 0.0, double stddev = 1.0);
// Glorot: variance gain²·2/(fan_in + fan_out).
Initializer xavier_uniform(double gain = 1.0, WeightAxes axes = WeightAxes::InOut);
Initializer xavier_normal(double gain = 1.0, WeightAxes axes = WeightAxes::InOut);
// He: variance gain²/fan_in; gain sqrt(2) (ReLU) by default.
Initializer kaiming_uniform(double gain = 1.4142135623730951, WeightAxes axes = WeightAxes::InOut);
Initializer kaiming_normal(double gain = 1.4142135623730951, WeightAxes axes = WeightAxes::InOut);

// fan_in and fan_out of a weight shape (see the header comment).
std::pair<double, double> fans(const Shape& shape, WeightAxes axes);

}  // namespace init
}  // namespace gg
