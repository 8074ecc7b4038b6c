// Softmax and log-softmax over any axis, numerically stable (max subtracted).
//
//   auto p = gg::softmax(scores, -1);
#pragma once

#include "graphgrad/graph/node.h"

namespace gg {

Value softmax(Value x, int64_t axis = -1);
Value log_softmax(Value x, int64_t axis = -1);

}  // namespace gg
