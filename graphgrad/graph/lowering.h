// Lowering, the first half of compile(): pruned, ordered nodes become steps with kernels, and
// every value gets a storage class and a layout. Where an opaque layout (graph/layout.h) meets
// an op that needs plain memory, or a fetch, a conversion step is inserted. Memory planning
// and pointer binding happen afterwards (executor.cpp).
//
//   LoweredProgram p = lower(g, fetches, options, resources);
//   p.steps[i].kernel->run(...);   // after the executor bound pointers
#pragma once

#include <memory>
#include <vector>

#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/kernel.h"
#include "graphgrad/graph/layout.h"
#include "graphgrad/graph/tensor.h"

namespace gg {

class Graph;

struct LoweredValue {
    enum class Storage { Arena, External, Feed };
    TensorDesc desc;
    LayoutPtr layout;              // null: plain row-major
    std::size_t bytes = 0;         // storage size (padded for opaque layouts)
    Storage storage = Storage::Arena;
    Tensor external;               // External: the parameter or constant tensor
    int32_t node = -1;             // the graph value this holds (or is a plain copy of)
    int32_t slot = 0;
    bool pinned = false;           // fetched: never reused
};

struct LoweredStep {
    int32_t node = -1;
    bool conversion = false;       // a layout conversion (to or from plain) inserted by lowering
    std::unique_ptr<Kernel> kernel;
    bool fast = false;
    std::vector<int> inputs, outputs;  // value indices
    int inplace_source = -1;       // value output 0 may take over (when it dies here)
};

struct LoweredProgram {
    std::vector<LoweredValue> values;
    std::vector<LoweredStep> steps;
    std::vector<int> fetches;      // value index per fetch (plain)
    bool training = false;
};

LoweredProgram lower(const Graph& g, const std::vector<Value>& fetches, const CompileOptions& options,
                     KernelResources& resources);

}  // namespace gg
