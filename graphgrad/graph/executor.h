// compile() and run(). compile() runs the passes of graph/passes/ — prune to what the fetches
// need, schedule, lower (kernels and every oneDNN primitive made once, layouts, conversions),
// plan memory into one arena, allocate and bind — configured by CompileOptions and reported
// by compile_report(); run() then only executes.
//
//   auto step = gg::compile(g, {loss, dw});
//   auto out  = step.run({{x, batch_x}, {y, batch_y}});   // out[0] loss, out[1] dw
//   step.peak_bytes();                                    // the planned arena
//   step.compile_report().lower.conversions;              // what the passes did
//
// Fetched results are views into the arena, valid until the next run(); clone() to keep.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "graphgrad/graph/compile_options.h"
#include "graphgrad/graph/compile_report.h"
#include "graphgrad/graph/memory_plan.h"
#include "graphgrad/graph/node.h"
#include "graphgrad/graph/tensor.h"

namespace gg {

class Graph;
class Kernel;
class KernelResources;
class ParameterStore;
class CompiledGraph;
struct Program;
namespace passes {
CompiledGraph allocate_and_bind(Program p);
class Binder;
}  // namespace passes

using Feeds = std::vector<std::pair<Value, Tensor>>;

// Per compiled step, for summaries and reports. The two descriptions view strings the
// CompiledGraph keeps once each (a program of 40,000 steps has a handful of distinct ones):
// valid while it lives.
struct StepInfo {
    int32_t node;
    std::size_t output_bytes;
    std::size_t scratch_bytes;
    bool fast_kernel;  // false: the reference loops run
    bool conversion = false;  // a layout conversion inserted by compile(), not a graph node
    std::string_view output_layout;  // output 0's opaque layout (Layout::describe()), empty if plain
    std::string_view kernel;         // what runs, where the kernel says (e.g. oneDNN's implementation)
    int copy = 0;                    // > 0: a recomputation of the node (a repeated schedule entry)
};

class CompiledGraph {
public:
    CompiledGraph(CompiledGraph&&) noexcept;
    CompiledGraph& operator=(CompiledGraph&&) noexcept;
    ~CompiledGraph();

    std::vector<Tensor> run(const Feeds& feeds = {});

    std::size_t peak_bytes() const { return plan_.arena_bytes; }  // the arena: every activation,
                                                                   // gradient and scratch buffer
    const MemoryPlan& memory_plan() const { return plan_; }
    const std::vector<StepInfo>& steps() const { return step_info_; }
    const CompileReport& compile_report() const { return report_; }
    std::size_t num_steps() const { return step_info_.size(); }
    bool training() const { return training_; }
    bool allocated() const { return arena_ != nullptr; }  // false after allocate = false
    uint64_t runs() const { return run_count_; }

    // Per-step wall time, summed over the runs since profiling was enabled (index = steps()).
    // Off by default: two clock reads per step cost ~40 ns.
    void set_profiling(bool on);
    const std::vector<double>& step_nanoseconds() const { return step_ns_; }

private:
    friend CompiledGraph compile(const Graph&, const std::vector<Value>&, const CompileOptions&);
    friend CompiledGraph passes::allocate_and_bind(Program p);
    friend class passes::Binder;
    CompiledGraph() = default;

    // Buffer pointers live in one array (pointers_), inputs then outputs per step: an
    // unrolled recurrence has 60,000 steps, and two vectors each cost ~100 bytes of heap.
    struct Step {
        Kernel* kernel;
        int32_t node;
        uint32_t first;  // the step's first input pointer in pointers_
        uint16_t num_inputs, num_outputs;
        void* scratch;
        bool conversion;
    };
    struct FeedSlot {  // where an input's pointer goes in the steps
        int32_t node;
        TensorDesc desc;
        std::string name;
        std::vector<std::pair<std::size_t, std::size_t>> uses;  // (step, input index)
    };
    struct Fetch {
        enum class Kind { Arena, External, Feed } kind;
        TensorDesc desc;
        void* data = nullptr;
        Tensor external;
        int32_t feed_node = -1;
    };

    void check_step_numerics(const Step& s) const;

    const Graph* graph_ = nullptr;
    std::unique_ptr<KernelResources> resources_;  // outlives kernels (declared first)
    std::vector<std::unique_ptr<Kernel>> kernels_;
    std::vector<Step> steps_;
    std::vector<void*> pointers_;  // per step: its inputs' buffers, then its outputs'
    std::vector<StepInfo> step_info_;
    std::set<std::string, std::less<>> descriptions_;  // what step_info_'s views point into
    std::vector<FeedSlot> feeds_;
    std::vector<Fetch> fetches_;
    std::shared_ptr<Buffer> arena_;
    std::shared_ptr<ParameterStore> store_;  // keeps parameters alive
    MemoryPlan plan_;
    CompileReport report_;
    bool training_ = false;
    bool check_numerics_ = false;
    uint64_t run_count_ = 0;
    bool profiling_ = false;
    std::vector<double> step_ns_;
};

CompiledGraph compile(const Graph& g, const std::vector<Value>& fetches, const CompileOptions& options = {});

}  // namespace gg
