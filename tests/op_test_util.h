// Shared helpers for the registry-driven op tests: build a one-node graph from a sample and
// run its kernel directly with guarded buffers; gradcheck a family's ops by name.
//
//   gg::testing::check_op_gradients({"max_pool2d", "avg_pool2d"});
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "graphgrad/graph/gradcheck_op.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/graph/tensor.h"
#include "graphgrad/ops/internal/register_ops.h"

namespace gg::testing {

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

// gradcheck_op (f64, first and second order, every sample) for each named op.
inline void check_op_gradients(std::initializer_list<const char*> ops, std::size_t min_results = 1) {
    for (const char* op : ops) {
        INFO(op);
        check_gradcheck_results(gradcheck_op(op_def(op)), min_results);
    }
}

}  // namespace gg::testing
