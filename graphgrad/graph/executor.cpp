#include "graphgrad/graph/executor.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/graph/passes/passes.h"

namespace gg {

CompiledGraph::CompiledGraph(CompiledGraph&&) noexcept = default;
CompiledGraph& CompiledGraph::operator=(CompiledGraph&&) noexcept = default;
CompiledGraph::~CompiledGraph() = default;

Program::Program() = default;
Program::Program(Program&&) noexcept = default;
Program& Program::operator=(Program&&) noexcept = default;
Program::~Program() = default;

double CompileReport::total_microseconds() const {
    double t = 0;
    for (const PassTime& p : passes) t += p.microseconds;
    return t;
}

const char* layout_policy_name(LayoutPolicy p) {
    switch (p) {
        case LayoutPolicy::Auto: return "auto";
        case LayoutPolicy::Plain: return "plain";
        case LayoutPolicy::Opaque: return "opaque";
    }
    return "?";
}

const char* schedule_order_name(ScheduleOrder s) {
    switch (s) {
        case ScheduleOrder::Program: return "program";
    }
    return "?";
}

namespace {

// Bytes malloc has handed out and not taken back (small chunks and mmapped blocks); 0 where
// the C library cannot say.
std::size_t heap_in_use() {
#if defined(__GLIBC__)
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
#else
    return 0;
#endif
}

// Records each pass's wall time in the report, in the order the passes ran.
class PassClock {
public:
    void lap(CompileReport& report, const char* pass) {
        const auto now = std::chrono::steady_clock::now();
        report.passes.push_back({pass, std::chrono::duration<double, std::micro>(now - start_).count()});
        start_ = now;
    }

private:
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

CompiledGraph compile(const Graph& g, const std::vector<Value>& fetches, const CompileOptions& options) {
    const std::size_t heap_before = heap_in_use();
    PassClock clock;
    Program p = passes::prune(g, fetches, options);
    clock.lap(p.report, "prune");
    p = passes::schedule(std::move(p));
    clock.lap(p.report, "schedule");
    if (options.memory_budget) {
        // Chooses recomputations, lowering and planning until the arena fits (one lap for all).
        p = passes::fit_memory_budget(std::move(p));
        clock.lap(p.report, "remat, lower and plan to the budget");
    } else {
        p = passes::rematerialize(std::move(p));
        clock.lap(p.report, "remat");
        p = passes::lower(std::move(p));
        clock.lap(p.report, "lower");
        p = passes::plan_memory(std::move(p));
        clock.lap(p.report, "plan memory");
    }
    CompiledGraph cg = passes::allocate_and_bind(std::move(p));
    clock.lap(cg.report_, "allocate and bind");
    // Everything compile() allocated and kept, less the arena: what the program costs on top
    // of its plan (trial programs of a budget search are freed by now).
    const std::size_t heap_after = heap_in_use();
    const std::size_t grown = heap_after - std::min(heap_after, heap_before);
    cg.report_.bind.program_bytes = grown - std::min(grown, cg.report_.bind.arena_bytes);
    return cg;
}

std::vector<Tensor> CompiledGraph::run(const Feeds& feeds) {
    if (!arena_)
        throw_runtime("run: this program was compiled with CompileOptions::allocate = false (plan only: {} "
                      "bytes planned, no arena); compile it again with allocate = true to run it",
                      plan_.arena_bytes);
    // Bind feeds: every input the program reads must be fed once, with its exact desc.
    std::vector<const Tensor*> bound(feeds_.size(), nullptr);
    for (const auto& [value, tensor] : feeds) {
        if (!value.valid()) throw_runtime("run: a feed key is an empty Value");
        if (value.graph != graph_) throw_runtime("run: feed \"{}\" belongs to another graph", value.name());
        const Node& n = value.producer();
        if (n.op->name != "input")
            throw_runtime("run: \"{}\" is a {} node; only inputs can be fed", n.name, n.op->name);
        if (tensor.desc() != n.outputs[0])
            throw_runtime("run: feed \"{}\" is {}, the input is declared {}", n.name, tensor.desc(), n.outputs[0]);
        for (std::size_t i = 0; i < feeds_.size(); ++i)
            if (feeds_[i].node == n.id) {
                if (bound[i]) throw_runtime("run: input \"{}\" is fed twice", n.name);
                bound[i] = &tensor;
            }
    }
    for (std::size_t i = 0; i < feeds_.size(); ++i) {
        if (!bound[i]) throw_runtime("run: missing feed for input \"{}\" {}", feeds_[i].name, feeds_[i].desc);
        for (auto [s, a] : feeds_[i].uses) pointers_[steps_[s].first + a] = const_cast<void*>(bound[i]->raw());
    }

    const uint64_t step_no = run_count_++;
    for (std::size_t i = 0; i < steps_.size(); ++i) {
        const Step& s = steps_[i];
        const auto t0 = profiling_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
        void* const* in = pointers_.data() + s.first;
        s.kernel->run(KernelArgs{in, in + s.num_inputs, s.scratch, step_no});
        if (profiling_) step_ns_[i] += std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
        if (check_numerics_) check_step_numerics(s);
    }

    std::vector<Tensor> results;
    results.reserve(fetches_.size());
    for (const Fetch& f : fetches_) {
        switch (f.kind) {
            case Fetch::Kind::Arena: results.emplace_back(f.desc, f.data, arena_); break;
            case Fetch::Kind::External: results.push_back(f.external); break;
            case Fetch::Kind::Feed:
                for (std::size_t i = 0; i < feeds_.size(); ++i)
                    if (feeds_[i].node == f.feed_node) results.push_back(*bound[i]);
                break;
        }
    }
    return results;
}

void CompiledGraph::set_profiling(bool on) {
    profiling_ = on;
    step_ns_.assign(steps_.size(), 0.0);
}

void CompiledGraph::check_step_numerics(const Step& s) const {
    if (s.conversion) return;  // converts a value that was checked when it was produced
    const Node& n = graph_->node(s.node);
    for (std::size_t o = 0; o < n.outputs.size(); ++o) {
        const TensorDesc& d = n.outputs[o];
        if (!is_floating(d.dtype)) continue;
        Tensor view(d, pointers_[s.first + s.num_inputs + o], nullptr);
        for (int64_t i = 0; i < d.numel(); ++i) {
            double v = view.get(i);
            if (!std::isfinite(v))
                throw_runtime("check_numerics: {} \"{}\" produced {} at output {} index {} (output {}, inputs {})",
                              n.op->name, n.name, v, o, i, d, n.inputs_str());
        }
    }
}

}  // namespace gg
