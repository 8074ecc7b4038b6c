// Shared helpers for the registry-driven op tests: the registered ops, a one-node graph built
// from a sample whose kernel runs directly with guarded buffers, and gradcheck results.
//
//   for (const gg::OpDef* op : gg::testing::registered_ops()) { auto samples = op->make_samples(); ... }
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "graphgrad/graph/gradcheck_op.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/graph/tensor.h"
#include "graphgrad/ops/internal/register_ops.h"

namespace gg::testing {

// Every op of the registry but its source ops (input, parameter, constant), in registration
// order; the process-wide registry after register_all_ops() by default.
std::vector<const OpDef*> registered_ops(const OpRegistry& registry = op_registry());

// A sample's inputs in `dtype` (floating ones converted; integer ones as given).
std::vector<Tensor> sample_inputs(const OpSample& s, DType dtype, uint64_t seed);

struct KernelRun {
    std::vector<Tensor> outputs;
    bool guards_intact = true;   // nothing written outside the inferred output extents
    bool all_written = true;     // no NaN sentinel left in a floating output
    bool fast = false;           // the fast (e.g. oneDNN) kernel ran
};

// Builds op(inputs) in a fresh graph and runs the fast kernel (fast = true; falls back to the
// reference when the fast factory declines) or the reference kernel, once, on fresh buffers
// with guard bytes around every output (workspaces: as large as the kernel asked) and NaN
// sentinels inside. A sample's producer (OpSample::producer) runs first with the same kind of
// kernel, and its outputs are the inputs it feeds.
KernelRun run_kernel_directly(const OpDef& op, const OpSample& s, const std::vector<Tensor>& inputs, bool fast);

std::string sample_name(const OpDef& op, const OpSample& s, std::size_t index);

// Every result passed, and there were at least `min_results` of them: a loop over no results
// would check nothing.
inline void check_gradcheck_results(const std::vector<GradcheckResult>& results, std::size_t min_results = 1) {
    CHECK(results.size() >= min_results);
    for (const GradcheckResult& r : results) {
        INFO(r.describe());
        CHECK(r.passed);
    }
}

}  // namespace gg::testing
