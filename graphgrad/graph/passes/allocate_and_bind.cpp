// The last pass: the arena is allocated once (unless CompileOptions::allocate is false) and
// every step gets the pointers it will read and write in every run. Feeds are patched in by
// run(); fetches become views of the arena, parameters or the fed tensors.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/graph/passes/passes.h"

namespace gg::passes {

// Fills a CompiledGraph's step, feed and fetch tables (a friend of CompiledGraph).
class Binder {
public:
    Binder(Program& p, CompiledGraph& cg) : p_(p), cg_(cg), feed_of_node_(p.graph->num_nodes(), -1) {}

    void allocate() {
        // Plan-only programs keep a null base and null arena pointers in steps and fetches
        // (never dereferenced: run() refuses), which keeps one code path below.
        if (!p_.options.allocate) return;
        const std::size_t bytes = std::max<std::size_t>(p_.plan.arena_bytes, 1), limit = p_.options.arena_limit_bytes;
        if (limit > 0 && bytes > limit) throw_out_of_memory(fmt::format("exceeds the arena limit of {}", mib(limit)));
        try {
            cg_.arena_ = std::make_shared<Buffer>(bytes);
        } catch (const std::bad_alloc&) {
            throw_out_of_memory("could not be allocated");
        }
        // Touch every page now: fresh pages cost ~6 µs per 4 KiB on first write (TOOLCHAIN.md).
        std::memset(cg_.arena_->data(), 0, p_.plan.arena_bytes);
        base_ = static_cast<char*>(cg_.arena_->data());
    }

    void bind_steps() {
        cg_.steps_.reserve(p_.steps.size());
        cg_.step_info_.reserve(p_.steps.size());
        cg_.kernels_.reserve(p_.steps.size());
        for (std::size_t s = 0; s < p_.steps.size(); ++s) {
            ProgramStep& st = p_.steps[s];
            if (cg_.pointers_.size() + st.inputs.size() + st.outputs.size() > UINT32_MAX || st.inputs.size() > UINT16_MAX ||
                st.outputs.size() > UINT16_MAX)
                throw_runtime("compile: {} steps with {} buffer pointers exceed what a program indexes", p_.steps.size(),
                              cg_.pointers_.size());
            CompiledGraph::Step step{st.kernel.get(),
                                     st.node,
                                     static_cast<uint32_t>(cg_.pointers_.size()),
                                     static_cast<uint16_t>(st.inputs.size()),
                                     static_cast<uint16_t>(st.outputs.size()),
                                     nullptr,
                                     st.kind == StepKind::Conversion};
            for (std::size_t i = 0; i < st.inputs.size(); ++i) {
                const int v = st.inputs[i];
                if (value(v).storage == ProgramValue::Storage::Feed) cg_.feeds_[feed_slot(v)].uses.emplace_back(s, i);
                cg_.pointers_.push_back(pointer(v));
            }
            for (int v : st.outputs) cg_.pointers_.push_back(pointer(v));
            if (base_ && p_.scratch_request[s] >= 0) step.scratch = base_ + offset(p_.scratch_request[s]);
            cg_.step_info_.push_back(step_info(st));
            cg_.kernels_.push_back(std::move(st.kernel));
            cg_.steps_.push_back(std::move(step));
        }
        cg_.pointers_.shrink_to_fit();
    }

    void bind_fetches() {
        using Kind = CompiledGraph::Fetch::Kind;
        for (int v : p_.fetch_values) {
            const ProgramValue& val = value(v);
            CompiledGraph::Fetch out{Kind::Arena, val.desc, nullptr, {}, -1};
            if (val.storage == ProgramValue::Storage::External) {
                out.kind = Kind::External;
                out.external = val.external;
            } else if (val.storage == ProgramValue::Storage::Feed) {
                out.kind = Kind::Feed;
                out.feed_node = val.node;
                feed_slot(v);
            } else {
                out.data = pointer(v);
            }
            cg_.fetches_.push_back(std::move(out));
        }
    }

private:

    // The planner's figure, the five largest buffers (by the node that writes them) and a
    // hint: what a user needs to make the program fit.
    [[noreturn]] void throw_out_of_memory(const std::string& why) const {
        std::vector<std::pair<std::size_t, std::string>> buffers;
        for (std::size_t v = 0; v < p_.values.size(); ++v)
            if (p_.value_request[v] >= 0)
                buffers.emplace_back(p_.values[v].bytes, fmt::format("\"{}\"", p_.graph->node(p_.values[v].node).name));
        for (std::size_t s = 0; s < p_.steps.size(); ++s)
            if (p_.scratch_request[s] >= 0)
                buffers.emplace_back(p_.requests[static_cast<std::size_t>(p_.scratch_request[s])].bytes,
                                     fmt::format("\"{}\" scratch", p_.graph->node(p_.steps[s].node).name));
        const std::size_t shown = std::min<std::size_t>(buffers.size(), 5);
        std::partial_sort(buffers.begin(), buffers.begin() + static_cast<std::ptrdiff_t>(shown), buffers.end(),
                          [](const auto& a, const auto& b) { return a.first > b.first; });
        std::string largest;
        for (std::size_t i = 0; i < shown; ++i)
            largest += fmt::format("{}{} {}", i ? ", " : "", buffers[i].second, mib(buffers[i].first));
        throw OutOfMemoryError(fmt::format(
            "out of memory: the program's arena of {} (the memory plan's peak over {} buffers; {} without reuse) {}. "
            "Largest buffers: {}. Use a smaller batch, or a memory budget (--memory-budget) that trades recomputation "
            "for memory.",
            mib(p_.plan.arena_bytes), buffers.size(), mib(p_.plan.total_bytes), why, largest));
    }

    const ProgramValue& value(int v) const { return p_.values[static_cast<std::size_t>(v)]; }
    std::size_t offset(int request) const { return p_.plan.offsets[static_cast<std::size_t>(request)]; }

    void* pointer(int v) const {
        const ProgramValue& val = value(v);
        if (val.storage == ProgramValue::Storage::External) return val.external.raw();
        if (val.storage == ProgramValue::Storage::Feed) return nullptr;  // patched by run()
        return base_ ? base_ + offset(p_.value_request[static_cast<std::size_t>(v)]) : nullptr;
    }

    std::size_t feed_slot(int v) {
        const ProgramValue& val = value(v);
        int& slot = feed_of_node_[static_cast<std::size_t>(val.node)];
        if (slot < 0) {
            slot = static_cast<int>(cg_.feeds_.size());
            cg_.feeds_.push_back({val.node, val.desc, p_.graph->node(val.node).name, {}});
        }
        return static_cast<std::size_t>(slot);
    }

    StepInfo step_info(const ProgramStep& st) const {
        std::size_t out_bytes = 0;
        for (int v : st.outputs) out_bytes += value(v).bytes;
        std::string layout;
        if (!st.outputs.empty())
            if (const LayoutPtr& l = value(st.outputs[0]).layout) layout = l->describe();
        return StepInfo{st.node, out_bytes, st.kernel->scratch_bytes(), st.fast, st.kind == StepKind::Conversion,
                        kept(std::move(layout)), kept(st.kernel->describe()), st.copy};
    }

    // The program's one copy of a description (node-based set: views survive moves).
    std::string_view kept(std::string s) const { return *cg_.descriptions_.insert(std::move(s)).first; }

    Program& p_;
    CompiledGraph& cg_;
    char* base_ = nullptr;
    std::vector<int> feed_of_node_;  // by node: its feeds_ slot
};

CompiledGraph allocate_and_bind(Program p) {
    CompiledGraph cg;
    cg.graph_ = p.graph;
    cg.store_ = p.graph->store_ptr();
    cg.check_numerics_ = p.options.check_numerics;
    cg.training_ = p.training;
    Binder b(p, cg);
    b.allocate();
    b.bind_steps();
    b.bind_fetches();
    cg.plan_ = std::move(p.plan);
    cg.resources_ = std::move(p.resources);  // outlives the kernels, moved out above
    p.report.bind.allocated = cg.arena_ != nullptr;
    p.report.bind.arena_bytes = cg.arena_ ? cg.plan_.arena_bytes : 0;
    p.report.bind.feeds = cg.feeds_.size();
    p.report.bind.fetches = cg.fetches_.size();
    cg.report_ = std::move(p.report);
    return cg;
}

}  // namespace gg::passes
