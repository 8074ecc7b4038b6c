// What configures compile()'s passes (prune → schedule → lower → plan memory → allocate and
// bind; graph/passes/). Everything that steers kernels or layouts is an option here, never an
// environment variable.
//
//   gg::CompileOptions o;
//   o.layout_policy = gg::LayoutPolicy::Plain;   // every value row-major (a measurement baseline)
//   auto step = gg::compile(g, {loss, dw}, o);
#pragma once

#include <cstddef>
#include <optional>

namespace gg {

// Where values may take an opaque physical layout (e.g. oneDNN's blocked nChw16c).
enum class LayoutPolicy {
    Auto,    // kernels choose, weighing their speed against the conversions a layout costs
    Plain,   // no opaque layouts: every value is row-major and no conversion is inserted
    Opaque,  // kernels run on their preferred layout whenever they have one (measurements)
};

// The order the schedule pass gives the kept nodes.
enum class ScheduleOrder {
    // Node ids: the order in which the user and grad() wrote the program (a topological order,
    // since inputs are always added before their users). The forward pass runs before the
    // backward pass, which walks the forward in reverse, so activations die soon after use.
    Program,
};

struct CompileOptions {
    bool reference_kernels = false;  // plain loops only (gradcheck, kernel comparisons)
    bool check_numerics = false;     // name the first node producing NaN or Inf
    std::optional<bool> training;    // default: true when the program holds gradient nodes
    bool inplace = true;             // let elementwise outputs reuse dying inputs
    // false: lower, create kernels (their scratch sizes feed the plan) and plan memory, but
    // allocate no arena, so peak_bytes() and memory_plan() can report programs far larger
    // than this machine's memory (bench lambda-vs-attention --plan-only). run() then throws.
    bool allocate = true;
    // Bytes the arena may take, 0 = whatever the allocator gives. A larger plan fails exactly
    // as a failed allocation does (OutOfMemoryError): what tests use to see that error
    // without exhausting the machine, and a guard for a process sharing memory with others.
    std::size_t arena_limit_bytes = 0;
    LayoutPolicy layout_policy = LayoutPolicy::Auto;
    ScheduleOrder schedule = ScheduleOrder::Program;
};

const char* layout_policy_name(LayoutPolicy p);  // "auto", "plain", "opaque"
const char* schedule_order_name(ScheduleOrder s);  // "program"

}  // namespace gg
