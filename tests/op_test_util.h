// Shared helpers for the registry-driven op tests: build a one-node graph from a sample and
// run its kernel directly with guarded buffers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "graph/op_def.h"
#include "graph/tensor.h"

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
// with guard bytes around every output and NaN sentinels inside.
KernelRun run_kernel_directly(const OpDef& op, const OpSample& s, const std::vector<Tensor>& inputs, bool fast);

std::string sample_name(const OpDef& op, const OpSample& s, std::size_t index);

}  // namespace gg::testing
