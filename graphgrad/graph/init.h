// Parameter initialisers. Each is seeded from the graph's seed and the parameter's name, so
// the same graph code always starts from the same weights.
//
//   auto w = g.parameter("fc1.weight", {256, 784}, gg::init::kaiming_uniform());
//
// Fans follow PyTorch: for a 2-D [in, out] matmul weight fan_in = shape[0]; for [out, in, kh, kw]
// convolution weights fan_in = in·kh·kw. Pass FanMode explicitly when the layout differs.
#pragma once

#include <cstdint>
#include <functional>

#include "graphgrad/graph/tensor.h"

namespace gg {


using Initializer = std::function<void(Tensor&, uint64_t seed)>;

namespace init {

enum class Layout { InOut, OutIn };  // 2-D weight layout: x·W ([in,out]) or W·x ([out,in])

Initializer zeros();
Initializer ones();
Initializer constant(double value);
Initializer uniform(double low, double high);
Initializer normal(double mean = 0.0, double stddev = 1.0);
Initializer xavier_uniform(double gain = 1.0, Layout layout = Layout::InOut);
Initializer xavier_normal(double gain = 1.0, Layout layout = Layout::InOut);
// gain sqrt(2) (ReLU) by default; mode fan_in.
Initializer kaiming_uniform(double gain = 1.4142135623730951, Layout layout = Layout::InOut);
Initializer kaiming_normal(double gain = 1.4142135623730951, Layout layout = Layout::InOut);

// fan_in and fan_out of a weight shape (see the header comment).
std::pair<double, double> fans(const Shape& shape, Layout layout);

}  // namespace init
}  // namespace gg
