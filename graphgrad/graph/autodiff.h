// Reverse-mode automatic differentiation that appends the backward pass to the same graph.
// Every op's gradient rule only adds nodes, so gradients are ordinary values: they compile,
// run and can be differentiated again (Hessian-vector products, gradcheck's second order).
//
//   auto grads = gg::grad(loss, {w1, b1});          // loss must be a scalar
//   auto hvp   = gg::grad({grads[0]}, {w1}, {v});   // d<∂loss/∂w1, v>/dw1 = H·v
//   auto gs    = gg::gradients(loss, {table});       // gs[0].sparse: indices + rows
#pragma once

#include <vector>

#include "graphgrad/graph/gradient.h"
#include "graphgrad/graph/node.h"

namespace gg {

// Gradient of a scalar `loss` with respect to each value in `wrt`. A value the loss does not
// depend on gets a zero gradient of its own shape.
std::vector<Value> grad(Value loss, const std::vector<Value>& wrt);

// Vector-Jacobian product: ∂(Σᵢ <ysᵢ, seedsᵢ>)/∂wrt. Seeds have the shapes of ys.
std::vector<Value> grad(const std::vector<Value>& ys, const std::vector<Value>& wrt, const std::vector<Value>& seeds);

// Like grad(loss, wrt), but a value whose every contribution is row-sparse gets its parts
// (graph/gradient.h); the others are dense.
std::vector<Gradient> gradients(Value loss, const std::vector<Value>& wrt);

}  // namespace gg
