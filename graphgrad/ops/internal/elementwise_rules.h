// Private to the elementwise and activation families: the shape rules and sample sets their
// ops share, so each registration stays a few lines.
//
//   r.define("exp").infer_shape(unary_float_shape())
//       .samples(unary_samples(Domain::AllReals)).error_samples(unary_error_samples());
#pragma once

#include <functional>
#include <vector>

#include "graphgrad/graph/op_def.h"

namespace gg {

class OpRegistry;

// Throws ShapeError unless d is f32 or f64; `what` names the input in the message.
void require_floating(const TensorDesc& d, const char* what = "input");

// One floating input; the output has its desc.
ShapeFn unary_float_shape();

// Every input has the same shape and dtype (floating unless any_dtype); the output has
// their desc. Messages: "shapes differ: [2,3] vs [3,2]", "dtypes differ: f32 vs f64".
ShapeFn equal_shapes(bool any_dtype = false);

// Samples over a few shapes (matrix, vector, scalar [], rank 3 with a size-1 axis, an image).
std::function<std::vector<OpSample>()> unary_samples(Domain d);
std::function<std::vector<OpSample>()> binary_samples(Domain a, Domain b);
// Pairs with explicit data that never tie (|a - b| >= 0.25) for maximum and minimum; with
// with_ties, one more sample where some elements are equal (comparisons).
std::function<std::vector<OpSample>()> distinct_pair_samples(bool with_ties = false);

std::function<std::vector<ErrorSample>()> unary_error_samples();
std::function<std::vector<ErrorSample>()> binary_error_samples(bool any_dtype = false);

// A unary floating op with its kernel, elementwise cost, pointwise reach, samples in `d`,
// error samples and in-place output: the caller adds the gradient.   define_unary(r, "exp", "eˣ", map_unary(...), Domain::AllReals)
OpDef& define_unary(OpRegistry& r, const char* name, const char* summary, KernelFactory kernel, Domain d);

// Defined in elementwise_binary.cpp; called by register_elementwise_ops().
void register_binary_ops(OpRegistry& r);
void register_comparison_ops(OpRegistry& r);

}  // namespace gg
