// Random ops. dropout is inverted dropout: in training programs each element is kept with
// probability 1 − p and scaled by 1/(1 − p); in evaluation programs it is the identity. The
// mask is a pure function of (graph seed, node, run counter), so runs are reproducible and
// the backward pass reuses exactly the forward mask.
//
//   auto h = gg::dropout(x, 0.5);
#pragma once

#include "graphgrad/graph/node.h"

namespace gg {

Value dropout(Value x, double p);

}  // namespace gg
