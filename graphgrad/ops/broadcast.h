// Broadcasting lives here and only here: broadcast_to and its gradient sum_to.
//
//   gg::Shape s = gg::broadcast_shapes({64, 1}, {10});   // [64,10]
//   auto b2 = gg::broadcast_to(b, {64, 10});
#pragma once

#include "graphgrad/graph/node.h"

namespace gg {

// NumPy rules: align trailing axes, sizes equal or 1. Throws ShapeError naming both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b);

Value broadcast_to(Value x, const Shape& shape);  // identity (no node) when shapes match
Value sum_to(Value x, const Shape& shape);        // sums the broadcast axes away; identity when equal

}  // namespace gg
