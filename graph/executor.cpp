#include "graph/executor.h"

#include <cmath>
#include <map>

#include "graph/graph.h"
#include "graph/graph_algorithms.h"
#include "graph/op_def.h"

namespace gg {

CompiledGraph::CompiledGraph(CompiledGraph&&) noexcept = default;
CompiledGraph& CompiledGraph::operator=(CompiledGraph&&) noexcept = default;
CompiledGraph::~CompiledGraph() = default;

namespace {

using Key = std::pair<int32_t, int32_t>;  // (node, slot)

std::unique_ptr<Kernel> make_node_kernel(const Node& n, const KernelContext& ctx, bool reference_only, bool& fast) {
    const OpDef& op = *n.op;
    fast = false;
    if (!reference_only && op.fast_kernel && op.reference_kernel) {
        if (auto k = op.fast_kernel(ctx)) {
            fast = true;
            return k;
        }
    }
    if (op.reference_kernel) return op.reference_kernel(ctx);
    if (op.fast_kernel) return op.fast_kernel(ctx);  // a plain-loop kernel is its own reference
    throw_graph("compile: op {} (node \"{}\") has no kernel", op.name, n.name);
}

}  // namespace

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

    // Schedule: node ids are already a topological order (inputs precede users) and follow
    // the order the user and grad() wrote the program, which keeps lifetimes short.
    std::vector<int32_t> order = reachable_nodes(g, fetches);
    bool has_grad = false;
    for (int32_t id : order) has_grad = has_grad || g.node(id).is_gradient;
    cg.training_ = options.training.value_or(has_grad);

    std::map<Key, bool> fetched;
    for (const Value& f : fetches) fetched[{f.node, f.slot}] = true;

    // Value bookkeeping for arena values.
    std::map<Key, std::size_t> request_of;  // arena value → plan request index
    std::vector<PlanRequest> requests;
    std::map<Key, const void*> external;    // parameters and constants
    std::vector<int32_t> compute_nodes;
    for (int32_t id : order) {
        const Node& n = g.node(id);
        if (n.op->name == "parameter") {
            external[{id, 0}] = g.store().get(std::any_cast<const ParameterAttrs&>(n.attrs).name).raw();
        } else if (n.op->name == "constant") {
            external[{id, 0}] = std::any_cast<const ConstantAttrs&>(n.attrs).value.raw();
        } else if (!n.op->is_source) {
            compute_nodes.push_back(id);
        }
    }

    // Kernels first: their scratch sizes are part of the plan.
    std::vector<std::size_t> scratch_request(compute_nodes.size(), SIZE_MAX);
    for (std::size_t s = 0; s < compute_nodes.size(); ++s) {
        const Node& n = g.node(compute_nodes[s]);
        for (int i : n.op->state_inputs) {
            // State must live outside the arena: persistent state, or a fed input (gradcheck
            // and tests feed it; the caller's tensor is then updated).
            const Node& src = n.inputs.at(static_cast<std::size_t>(i)).producer();
            bool is_state = src.op->name == "parameter" && !std::any_cast<const ParameterAttrs&>(src.attrs).trainable;
            if (!is_state && src.op->name != "input")
                throw_graph("compile: {} \"{}\" updates input {} in place, which must be persistent state "
                            "(Graph::state), but \"{}\" is a {} node",
                            n.op->name, n.name, i, src.name, src.op->name);
        }
        std::vector<TensorDesc> in_descs;
        for (const Value& v : n.inputs) in_descs.push_back(v.desc());
        KernelContext ctx{n, in_descs, n.outputs, n.attrs, cg.training_, g.seed(), *cg.resources_};
        bool fast = false;
        auto kernel = make_node_kernel(n, ctx, options.reference_kernels, fast);
        std::size_t out_bytes = 0;
        for (std::size_t o = 0; o < n.outputs.size(); ++o) {
            PlanRequest r;
            r.bytes = n.outputs[o].bytes();
            r.first_step = r.last_step = static_cast<int>(s);
            r.pinned = fetched.count({n.id, static_cast<int32_t>(o)}) > 0;
            if (o == 0 && options.inplace && n.op->inplace_input >= 0) {
                const Value& src = n.inputs.at(static_cast<std::size_t>(n.op->inplace_input));
                if (auto it = request_of.find({src.node, src.slot}); it != request_of.end())
                    r.inplace_of = static_cast<int>(it->second);
            }
            request_of[{n.id, static_cast<int32_t>(o)}] = requests.size();
            requests.push_back(r);
            out_bytes += r.bytes;
        }
        if (std::size_t sb = kernel->scratch_bytes()) {
            scratch_request[s] = requests.size();
            requests.push_back(PlanRequest{sb, static_cast<int>(s), static_cast<int>(s), false, -1});
        }
        for (const Value& v : n.inputs)
            if (auto it = request_of.find({v.node, v.slot}); it != request_of.end())
                requests[it->second].last_step = static_cast<int>(s);
        cg.step_info_.push_back(StepInfo{n.id, out_bytes, kernel->scratch_bytes(), fast});
        cg.kernels_.push_back(std::move(kernel));
    }

    cg.plan_ = plan_memory(requests);
    cg.arena_ = std::make_shared<Buffer>(std::max<std::size_t>(cg.plan_.arena_bytes, 1));
    // Touch every page now: fresh pages cost ~6 µs per 4 KiB on first write (TOOLCHAIN.md).
    std::memset(cg.arena_->data(), 0, cg.plan_.arena_bytes);
    auto* base = static_cast<char*>(cg.arena_->data());
    auto arena_ptr = [&](const Key& k) -> void* { return base + cg.plan_.offsets[request_of.at(k)]; };

    std::map<int32_t, std::size_t> feed_index;
    for (std::size_t s = 0; s < compute_nodes.size(); ++s) {
        const Node& n = g.node(compute_nodes[s]);
        CompiledGraph::Step step{cg.kernels_[s].get(), n.id, {}, {}, nullptr};
        for (std::size_t i = 0; i < n.inputs.size(); ++i) {
            const Value& v = n.inputs[i];
            Key k{v.node, v.slot};
            if (auto e = external.find(k); e != external.end()) {
                step.inputs.push_back(e->second);
            } else if (request_of.count(k)) {
                step.inputs.push_back(arena_ptr(k));
            } else {  // an input node: patched at run time
                auto [it, added] = feed_index.emplace(v.node, cg.feeds_.size());
                if (added) cg.feeds_.push_back({v.node, v.desc(), v.name(), {}});
                cg.feeds_[it->second].uses.emplace_back(s, i);
                step.inputs.push_back(nullptr);
            }
        }
        for (std::size_t o = 0; o < n.outputs.size(); ++o) step.outputs.push_back(arena_ptr({n.id, static_cast<int32_t>(o)}));
        if (scratch_request[s] != SIZE_MAX) step.scratch = base + cg.plan_.offsets[scratch_request[s]];
        cg.steps_.push_back(std::move(step));
    }

    for (const Value& f : fetches) {
        Key k{f.node, f.slot};
        CompiledGraph::Fetch out{CompiledGraph::Fetch::Kind::Arena, f.desc(), nullptr, {}, -1};
        const Node& n = g.node(f.node);
        if (request_of.count(k)) {
            out.data = arena_ptr(k);
        } else if (n.op->name == "parameter") {
            out.kind = CompiledGraph::Fetch::Kind::External;
            out.external = g.store().get(std::any_cast<const ParameterAttrs&>(n.attrs).name);
        } else if (n.op->name == "constant") {
            out.kind = CompiledGraph::Fetch::Kind::External;
            out.external = std::any_cast<const ConstantAttrs&>(n.attrs).value;
        } else {
            out.kind = CompiledGraph::Fetch::Kind::Feed;
            out.feed_node = f.node;
            if (!feed_index.count(f.node)) {
                feed_index[f.node] = cg.feeds_.size();
                cg.feeds_.push_back({f.node, f.desc(), f.name(), {}});
            }
        }
        cg.fetches_.push_back(std::move(out));
    }
    return cg;
}

std::vector<Tensor> CompiledGraph::run(const Feeds& feeds) {
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
    for (const Step& s : steps_) {
        s.kernel->run(KernelArgs{s.inputs.data(), s.outputs.data(), s.scratch, step_no});
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

void CompiledGraph::check_step_numerics(const Step& s) const {
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
