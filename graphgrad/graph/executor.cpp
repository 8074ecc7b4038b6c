#include "graphgrad/graph/executor.h"

#include <chrono>
#include <cmath>
#include <map>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/lowering.h"
#include "graphgrad/graph/op_def.h"

namespace gg {

CompiledGraph::CompiledGraph(CompiledGraph&&) noexcept = default;
CompiledGraph& CompiledGraph::operator=(CompiledGraph&&) noexcept = default;
CompiledGraph::~CompiledGraph() = default;

CompiledGraph compile(const Graph& g, const std::vector<Value>& fetches, const CompileOptions& options) {
    for (std::size_t i = 0; i < fetches.size(); ++i) {
        if (!fetches[i].valid()) throw_graph("compile: fetch {} is an empty Value", i);
        if (fetches[i].graph != &g)
            throw_graph("compile: fetch {} (\"{}\") belongs to another graph", i, fetches[i].name());
    }
    CompiledGraph cg;
    cg.graph_ = &g;
    cg.store_ = g.store_ptr();
    cg.resources_ = std::make_unique<KernelResources>();
    cg.check_numerics_ = options.check_numerics;

    // Lowering picks kernels and layouts and inserts layout conversions; the schedule is node
    // id order, a topological order that follows how the user and grad() wrote the program.
    LoweredProgram prog = lower(g, fetches, options, *cg.resources_);
    cg.training_ = prog.training;

    // Lifetimes of arena values in step indices; scratch is a value of its own step.
    using Storage = LoweredValue::Storage;
    auto at = [](auto& vec, auto i) -> auto& { return vec[static_cast<std::size_t>(i)]; };
    std::vector<int> request_of(prog.values.size(), -1);
    std::vector<PlanRequest> requests;
    std::vector<int> scratch_request(prog.steps.size(), -1);
    for (std::size_t s = 0; s < prog.steps.size(); ++s) {
        const LoweredStep& st = prog.steps[s];
        for (int v : st.inputs)
            if (at(request_of, v) >= 0) at(requests, at(request_of, v)).last_step = static_cast<int>(s);
        std::size_t out_bytes = 0;
        for (std::size_t o = 0; o < st.outputs.size(); ++o) {
            const LoweredValue& val = at(prog.values, st.outputs[o]);
            PlanRequest r;
            r.bytes = val.bytes;
            r.first_step = r.last_step = static_cast<int>(s);
            r.pinned = val.pinned;
            if (o == 0 && st.inplace_source >= 0) r.inplace_of = at(request_of, st.inplace_source);
            at(request_of, st.outputs[o]) = static_cast<int>(requests.size());
            requests.push_back(r);
            out_bytes += val.bytes;
        }
        if (std::size_t sb = st.kernel->scratch_bytes()) {
            scratch_request[s] = static_cast<int>(requests.size());
            requests.push_back(PlanRequest{sb, static_cast<int>(s), static_cast<int>(s), false, -1});
        }
        std::string out_layout;
        if (!st.outputs.empty())
            if (const LayoutPtr& l = at(prog.values, st.outputs[0]).layout) out_layout = l->describe();
        cg.step_info_.push_back(
            StepInfo{st.node, out_bytes, st.kernel->scratch_bytes(), st.fast, st.conversion, std::move(out_layout)});
    }

    cg.plan_ = plan_memory(requests);
    // Plan-only programs keep a null base and null arena pointers in steps and fetches (never
    // dereferenced: run() refuses), which keeps one code path below.
    char* base = nullptr;
    if (options.allocate) {
        cg.arena_ = std::make_shared<Buffer>(std::max<std::size_t>(cg.plan_.arena_bytes, 1));
        // Touch every page now: fresh pages cost ~6 µs per 4 KiB on first write (TOOLCHAIN.md).
        std::memset(cg.arena_->data(), 0, cg.plan_.arena_bytes);
        base = static_cast<char*>(cg.arena_->data());
    }
    auto ptr_of = [&](int v) -> void* {
        const LoweredValue& val = at(prog.values, v);
        if (val.storage == Storage::External) return val.external.raw();
        if (val.storage == Storage::Feed) return nullptr;  // patched by run()
        return base ? base + cg.plan_.offsets[static_cast<std::size_t>(at(request_of, v))] : nullptr;
    };
    std::map<int32_t, std::size_t> feed_index;  // input node → feeds_ slot
    auto feed_slot = [&](int v) {
        const LoweredValue& val = at(prog.values, v);
        auto [it, added] = feed_index.emplace(val.node, cg.feeds_.size());
        if (added) cg.feeds_.push_back({val.node, val.desc, g.node(val.node).name, {}});
        return it->second;
    };

    for (std::size_t s = 0; s < prog.steps.size(); ++s) {
        LoweredStep& st = prog.steps[s];
        CompiledGraph::Step step{st.kernel.get(), st.node, {}, {}, nullptr, st.conversion};
        for (std::size_t i = 0; i < st.inputs.size(); ++i) {
            int v = st.inputs[i];
            if (at(prog.values, v).storage == Storage::Feed) cg.feeds_[feed_slot(v)].uses.emplace_back(s, i);
            step.inputs.push_back(ptr_of(v));
        }
        for (int v : st.outputs) step.outputs.push_back(ptr_of(v));
        if (base && scratch_request[s] >= 0)
            step.scratch = base + cg.plan_.offsets[static_cast<std::size_t>(scratch_request[s])];
        cg.kernels_.push_back(std::move(st.kernel));
        cg.steps_.push_back(std::move(step));
    }

    for (int v : prog.fetches) {
        const LoweredValue& val = at(prog.values, v);
        CompiledGraph::Fetch out{CompiledGraph::Fetch::Kind::Arena, val.desc, nullptr, {}, -1};
        if (val.storage == Storage::External) {
            out.kind = CompiledGraph::Fetch::Kind::External;
            out.external = val.external;
        } else if (val.storage == Storage::Feed) {
            out.kind = CompiledGraph::Fetch::Kind::Feed;
            out.feed_node = val.node;
            feed_slot(v);
        } else {
            out.data = ptr_of(v);
        }
        cg.fetches_.push_back(std::move(out));
    }
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
        for (auto [s, a] : feeds_[i].uses) steps_[s].inputs[a] = bound[i]->raw();
    }

    const uint64_t step_no = run_count_++;
    for (std::size_t i = 0; i < steps_.size(); ++i) {
        const Step& s = steps_[i];
        const auto t0 = profiling_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
        s.kernel->run(KernelArgs{s.inputs.data(), s.outputs.data(), s.scratch, step_no});
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
        Tensor view(d, s.outputs[o], nullptr);
        for (int64_t i = 0; i < d.numel(); ++i) {
            double v = view.get(i);
            if (!std::isfinite(v))
                throw_runtime("check_numerics: {} \"{}\" produced {} at output {} index {} (output {}, inputs {})",
                              n.op->name, n.name, v, o, i, d, n.inputs_str());
        }
    }
}

}  // namespace gg
