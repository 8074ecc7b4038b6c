// The program every compile pass reads and returns (graph/passes/):
//
//   prune     keeps the nodes some fetch depends on                   → nodes, training
//   schedule  orders them (a node listed twice is recomputed there)   → schedule
//   lower     steps with kernels, values with layouts and sizes,      → values, steps,
//             conversions as steps of their own                         fetch_values
//   plan      lifetimes over the steps → offsets in one arena         → requests, plan
//   bind      allocates the arena and points every step at its buffers → CompiledGraph
//
// A later pass (rematerialisation, fusion) goes between two of these and only rewrites the
// fields its successors read. Steps refer to values by index, never to graph values, so a
// node scheduled twice yields two steps whose outputs are distinct values (a copy): readers
// scheduled after the copy read it, readers before read the first.
//
//   Program p = passes::prune(g, fetches, options);
//   p = passes::schedule(std::move(p));  p = passes::lower(std::move(p));
//   p = passes::plan_memory(std::move(p));
//   CompiledGraph cg = passes::allocate_and_bind(std::move(p));
#pragma once

#include <memory>
#include <vector>

#include "graphgrad/graph/compile_options.h"
#include "graphgrad/graph/compile_report.h"
#include "graphgrad/graph/kernel.h"
#include "graphgrad/graph/memory_plan.h"
#include "graphgrad/graph/node.h"
#include "graphgrad/graph/tensor.h"

namespace gg {

class Graph;

// Compute nodes in execution order. A node id may repeat: the later entry recomputes it
// (rematerialisation), and readers after it read the recomputed outputs.
using Schedule = std::vector<int32_t>;

// One buffer of the program: a graph value (or its copy in another layout, or a recomputed
// copy), a feed, a parameter or constant.
struct ProgramValue {
    enum class Storage { Arena, External, Feed };
    TensorDesc desc;        // graph-level descriptor
    LayoutPtr layout;       // null: plain row-major; a WorkspaceLayout for workspaces
    std::size_t bytes = 0;  // storage size (padded for opaque layouts; kernel-sized workspaces)
    Storage storage = Storage::Arena;
    Tensor external;        // External: the parameter or constant tensor
    int32_t node = -1;      // the graph value this holds (or is a copy of)
    int32_t slot = 0;
    int step = -1;          // the step writing it (-1: outside the arena)
    bool pinned = false;    // fetched: never reused
    bool workspace = false;
};

enum class StepKind { Compute, Conversion };

struct ProgramStep {
    StepKind kind = StepKind::Compute;
    int32_t node = -1;   // the node computed, or whose value is converted
    int copy = 0;        // 0: the node's first computation; k: its k-th recomputation
    std::unique_ptr<Kernel> kernel;
    bool fast = false;   // false: the op's reference loops (or a conversion)
    std::vector<int> inputs, outputs;  // value indices
    int inplace_source = -1;           // value output 0 may take over (when it dies here)
};

struct Program {
    // Declared first: kernels hold references into the resources, which must outlive them.
    std::unique_ptr<KernelResources> resources;
    const Graph* graph = nullptr;
    CompileOptions options;
    std::vector<Value> fetches;
    CompileReport report;

    // prune
    bool training = false;
    std::vector<int32_t> nodes;  // every node some fetch depends on, ascending id

    // schedule
    Schedule schedule;

    // lower
    std::vector<ProgramValue> values;
    std::vector<ProgramStep> steps;
    std::vector<int> fetch_values;  // value index per fetch (plain)

    // plan memory
    std::vector<PlanRequest> requests;
    std::vector<int> value_request;    // per value: its request, -1 outside the arena
    std::vector<int> scratch_request;  // per step: its scratch request, -1 without scratch
    MemoryPlan plan;

    Program();
    Program(Program&&) noexcept;
    Program& operator=(Program&&) noexcept;
    ~Program();
};

}  // namespace gg
