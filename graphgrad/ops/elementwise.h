// Elementwise math. The registered binary ops take equal shapes; these user-facing builders
// broadcast NumPy-style first (broadcast_to), so gradients reduce back with sum_to.
//
//   auto y = gg::tanh(x) * 0.5 + b;         // operators broadcast too
//   auto m = gg::where(gg::greater(x, 0.0), x, 0.01 * x);
#pragma once

#include "graphgrad/graph/node.h"

namespace gg {

Value neg(Value x);
Value exp(Value x);
Value log(Value x);
Value sqrt(Value x);
Value abs(Value x);
Value tanh(Value x);
Value sigmoid(Value x);
// Their input gradients from the output y: dy·y·(1 − y) and dy·(1 − y²), one node each.
Value sigmoid_backward(Value dy, Value y);
Value tanh_backward(Value dy, Value y);
Value log_sigmoid(Value x);  // log σ(x), stable for large |x| (torch.nn.functional.logsigmoid)
Value erf(Value x);  // the error function, 2/√π ∫₀ˣ e^(−t²) dt (exact GELU's building block)

Value add(Value a, Value b);
Value sub(Value a, Value b);
Value mul(Value a, Value b);
Value div(Value a, Value b);
Value pow(Value a, Value b);
Value pow(Value a, double exponent);
Value maximum(Value a, Value b);
Value minimum(Value a, Value b);

// cond is any dtype; nonzero selects a. a and b broadcast with cond.
Value where(Value cond, Value a, Value b);

// Comparisons: 1 where true, 0 where false, in the (common) dtype of the inputs. Not
// differentiable (their derivative is zero almost everywhere).
Value equal(Value a, Value b);
Value not_equal(Value a, Value b);
Value less(Value a, Value b);
Value less_equal(Value a, Value b);
Value greater(Value a, Value b);
Value greater_equal(Value a, Value b);
Value greater(Value a, double b);
Value less(Value a, double b);

// A scalar constant with x's dtype (shape []), broadcast where used.
Value scalar_like(Value x, double v);

Value operator-(Value x);
Value operator+(Value a, Value b);
Value operator-(Value a, Value b);
Value operator*(Value a, Value b);
Value operator/(Value a, Value b);
Value operator+(Value a, double b);
Value operator-(Value a, double b);
Value operator*(Value a, double b);
Value operator/(Value a, double b);
Value operator+(double a, Value b);
Value operator-(double a, Value b);
Value operator*(double a, Value b);
Value operator/(double a, Value b);

}  // namespace gg
