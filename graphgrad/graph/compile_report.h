// What each compile pass did, for `graphgrad compile-report` and for tests: nodes pruned,
// nodes scheduled, steps and conversions lowered, kernels chosen, bytes planned, the arena.
//
//   auto step = gg::compile(g, {loss, dw});
//   const gg::CompileReport& r = step.compile_report();
//   r.lower.conversions;  r.plan.arena_bytes;  r.passes[2].microseconds;   // lower's time
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gg {

struct CompileReport {
    struct Prune {
        int32_t graph_nodes = 0;   // in the graph
        int32_t kept_nodes = 0;    // some fetch depends on them
        int32_t source_nodes = 0;  // of the kept: inputs, parameters, constants (no kernel)
        int32_t pruned_nodes() const { return graph_nodes - kept_nodes; }
    } prune;
    struct Schedule {
        std::string order;                // the ScheduleOrder used
        std::size_t scheduled_nodes = 0;  // compute nodes in the schedule (with recomputations)
        std::size_t recomputed_nodes = 0; // schedule entries that repeat a node
    } schedule;
    // What the rematerialisation pass chose to recompute (graph/passes/remat.cpp).
    struct Remat {
        std::string mode = "none";          // "none", "checkpoints" or "budget"
        std::size_t budget = 0;             // CompileOptions::memory_budget, 0 when unset
        std::size_t unconstrained_bytes = 0;  // budget: the arena recomputing only checkpoints
        std::size_t attempts = 0;           // budget: schedules lowered and planned
        std::vector<std::string> recomputed;  // names of the nodes recomputed, in schedule order
        int64_t extra_macs = 0, extra_flops = 0;  // their cost rules' sum: the extra compute
    } remat;
    // Kernels of one kind for one op, e.g. conv2d, fast, "brg:avx512_core", 19 steps.
    struct KernelUse {
        std::string op;      // the op, or "(layout conversion)"
        std::string kind;    // "fast", "reference" (an op's fast kernel declined or was not asked
                             // for), "loops" (an op's only kernel: plain loops) or "conversion"
        std::string impl;    // the kernel's own description (oneDNN implementation), may be empty
        std::size_t steps = 0;
    };
    struct Lower {
        std::size_t steps = 0;
        std::size_t fast_kernels = 0, reference_kernels = 0, loop_kernels = 0;
        std::size_t conversions = 0;      // layout conversion steps inserted
        std::size_t opaque_values = 0;    // values held in an opaque layout
        std::size_t workspace_values = 0; // kernel-sized values living forward → backward
        std::vector<KernelUse> kernels;   // by op, kind and implementation, in first-use order
    } lower;
    struct Plan {
        std::size_t requests = 0;         // arena values and scratch buffers planned
        std::size_t total_bytes = 0;      // their sum: what no reuse would need
        std::size_t arena_bytes = 0;      // the peak, the arena's size
        std::size_t scratch_bytes = 0;    // sum of kernels' scratch
        std::size_t workspace_bytes = 0;  // sum of workspace values
        std::size_t inplace_reuses = 0;   // outputs that took over a dying input's block
        std::string strategy;             // the planner's that won: "best fit" or "by size"
    } plan;
    struct Bind {
        bool allocated = false;
        std::size_t arena_bytes = 0;  // allocated (0 when plan only)
        std::size_t feeds = 0, fetches = 0;
        // The heap the compiled program holds besides its arena: steps, kernels, oneDNN
        // primitives, this report (malloc's count of the growth over compile(); 0 where malloc
        // cannot say). An unrolled recurrence's 50,000 steps make it megabytes.
        std::size_t program_bytes = 0;
    } bind;
    struct PassTime {
        std::string pass;  // "prune", "schedule", "remat", "lower", "plan memory", "allocate and bind"
        double microseconds = 0;
    };
    std::vector<PassTime> passes;  // in the order they ran
    double total_microseconds() const;
};

}  // namespace gg
