// Gradient checks of a registered op over its samples (internal: it needs the op's bundle).
// The generic registry tests and `graphgrad gradcheck` call it; users check their own graph
// code with gradcheck_function (graph/gradcheck.h).
//
//   for (auto& r : gg::gradcheck_op(gg::op_def("tanh"))) REQUIRE(r.passed);
#pragma once

#include <vector>

#include "graphgrad/graph/gradcheck.h"
#include "graphgrad/graph/op_def.h"

namespace gg {

// Every sample of a registered, differentiable op.
std::vector<GradcheckResult> gradcheck_op(const OpDef& op, const GradcheckOptions& options = {});

}  // namespace gg
