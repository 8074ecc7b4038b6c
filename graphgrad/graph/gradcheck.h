// Numerical gradient checking: central differences in f64 on reference kernels against the
// gradient graph grad() builds. Small problems compare the full Jacobian; large ones compare
// random directional derivatives (JAX-style: <J·v, u> both ways). Second order checks the
// gradient of <∂f/∂x, u> the same way.
//
//   auto f = [](gg::Graph&, const std::vector<gg::Value>& in) { return std::vector{gg::tanh(in[0])}; };
//   for (auto& r : gg::gradcheck_function("tanh", "sample", f, {x}, {true}))
//       if (!r.passed) fmt::print("{}\n", r.describe());
//
// (Registered ops are checked over their samples by gradcheck_op, graph/gradcheck_op.h.)
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "graphgrad/graph/node.h"
#include "graphgrad/graph/tensor.h"

namespace gg {

struct GradcheckOptions {
    double eps = 1e-6;                 // central-difference step
    double atol = 1e-6;                // pass when |a − n| ≤ atol + rtol·max(|a|, |n|)
    double rtol = 1e-5;
    int64_t full_jacobian_limit = 4096;  // inputs·outputs elements up to which the full Jacobian is compared
    int directions = 4;                // random directions otherwise (and always for second order)
    bool second_order = true;
    uint64_t seed = 1234;
};

struct GradcheckResult {
    std::string op;
    std::string sample;
    int order = 1;                     // 1: gradient, 2: gradient of the gradient
    std::string mode;                  // "jacobian" or "directional"
    bool passed = false;
    double max_abs_error = 0;
    double max_rel_error = 0;
    int input = -1;                    // worst element: which input, flat index, both values
    int64_t index = -1;
    double analytic = 0;
    double numeric = 0;
    int64_t evaluations = 0;           // program runs used
    std::string error;                 // set when building or running threw
    double atol = 0, rtol = 0;

    std::string describe() const;      // one line with op, sample, worst element, tolerances
};

// A function from input values to output values, written with the graph API.
using GraphFunction = std::function<std::vector<Value>(Graph&, const std::vector<Value>& inputs)>;

// Checks f at `inputs` (converted to f64). differentiable[i] false: input i is fed but not
// checked (indices, labels). Returns the first-order result, then the second-order one when
// options.second_order.
std::vector<GradcheckResult> gradcheck_function(const std::string& op, const std::string& sample,
                                                const GraphFunction& f, const std::vector<Tensor>& inputs,
                                                const std::vector<bool>& differentiable,
                                                const GradcheckOptions& options = {});

}  // namespace gg
