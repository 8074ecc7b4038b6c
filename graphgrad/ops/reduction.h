// Reductions over any set of axes (empty = all axes), with keepdims.
//
//   auto loss = gg::mean(gg::sum(sq, {1}));
//   auto m = gg::max(x, {-1}, true);        // [N,1]
#pragma once

#include <vector>

#include "graphgrad/graph/node.h"

namespace gg {

Value sum(Value x, std::vector<int64_t> axes = {}, bool keepdims = false);
Value mean(Value x, std::vector<int64_t> axes = {}, bool keepdims = false);
// The gradient goes to the maximal element; ties share it equally.
Value max(Value x, std::vector<int64_t> axes = {}, bool keepdims = false);

}  // namespace gg
