#include "graphgrad/graph/lowering.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/graph_algorithms.h"
#include "graphgrad/graph/op_def.h"

namespace gg {

namespace {

using Key = std::pair<int32_t, int32_t>;  // (node, slot)

void check_state_inputs(const Node& n) {
    for (int i : n.op->state_inputs) {
        // State must live outside the arena: persistent state, or a fed input (gradcheck and
        // tests feed it; the caller's tensor is then updated).
        const Node& src = n.inputs.at(static_cast<std::size_t>(i)).producer();
        bool is_state = src.op->name == "parameter" && !std::any_cast<const ParameterAttrs&>(src.attrs).trainable;
        if (!is_state && src.op->name != "input")
            throw_graph("compile: {} \"{}\" updates input {} in place, which must be persistent state "
                        "(Graph::state), but \"{}\" is a {} node",
                        n.op->name, n.name, i, src.name, src.op->name);
    }
}

class Lowering {
public:
    Lowering(const Graph& g, const CompileOptions& o, KernelResources& r) : g_(g), options_(o), resources_(r) {}

    LoweredProgram run(const std::vector<Value>& fetches) {
        std::vector<int32_t> order = reachable_nodes(g_, fetches);
        bool has_grad = false;
        for (int32_t id : order) has_grad = has_grad || g_.node(id).is_gradient;
        p_.training = options_.training.value_or(has_grad);
        for (const Value& f : fetches) fetched_[{f.node, f.slot}] = true;
        // Does every consumer of a value read opaque layouts?
        for (int32_t id : order)
            for (const Value& in : g_.node(id).inputs)
                if (g_.node(id).op->layout_use == LayoutUse::Plain) plain_consumer_[{in.node, in.slot}] = true;

        for (int32_t id : order) {
            const Node& n = g_.node(id);
            if (n.op->is_source) add_source(n);
            else add_compute(n);
        }
        for (const Value& f : fetches) {
            int v = plain_version(value_of_.at({f.node, f.slot}));
            if (p_.values[static_cast<std::size_t>(v)].storage == LoweredValue::Storage::Arena)
                p_.values[static_cast<std::size_t>(v)].pinned = true;
            p_.fetches.push_back(v);
        }
        return std::move(p_);
    }

private:
    int add_value(LoweredValue v) {
        p_.values.push_back(std::move(v));
        return static_cast<int>(p_.values.size()) - 1;
    }

    void add_source(const Node& n) {
        LoweredValue v;
        v.desc = n.outputs[0];
        v.bytes = v.desc.bytes();
        v.node = n.id;
        if (n.op->name == "parameter") {
            v.storage = LoweredValue::Storage::External;
            v.external = g_.store().get(std::any_cast<const ParameterAttrs&>(n.attrs).name);
        } else if (n.op->name == "constant") {
            v.storage = LoweredValue::Storage::External;
            v.external = std::any_cast<const ConstantAttrs&>(n.attrs).value;
        } else {
            v.storage = LoweredValue::Storage::Feed;
        }
        value_of_[{n.id, 0}] = add_value(std::move(v));
    }

    // Value v in layout `to` (null: plain), through one conversion step made once per (value,
    // layout); -1 when the layout cannot be produced from v's (Layout::make_from_plain).
    int converted(int v, const LayoutPtr& to) {
        std::vector<Conversion>& made = conversions_[v];  // usually none or one per value
        for (const Conversion& c : made)
            if (same_layout(c.to, to)) return c.result;
        const LoweredValue& src = p_.values[static_cast<std::size_t>(v)];
        LoweredStep step;
        step.kernel = to ? to->make_from_plain(resources_) : src.layout->make_to_plain(resources_);
        if (!step.kernel) return -1;
        LoweredValue copy;
        copy.desc = src.desc;
        copy.layout = to;
        copy.bytes = to ? to->bytes() : src.desc.bytes();
        copy.node = src.node;
        copy.slot = src.slot;
        step.node = src.node;
        step.conversion = true;
        step.inputs = {v};
        const int c = add_value(std::move(copy));
        step.outputs = {c};
        p_.steps.push_back(std::move(step));
        made.push_back({to, c});
        return c;
    }

    // The plain row-major version of value v: v itself, or its conversion.
    int plain_version(int v) { return p_.values[static_cast<std::size_t>(v)].layout ? converted(v, nullptr) : v; }

    // The one opaque layout among n's operands when bringing the plain operands into it needs
    // no more conversions than the reverse, and the result is read only by layout-aware ops.
    LayoutPtr common_opaque_layout(const Node& n, const std::vector<int>& ins) {
        // A result that is fetched or read by a plain op would convert right back.
        const Key out{n.id, 0};
        if (fetched_.count(out) || plain_consumer_.count(out)) return nullptr;
        LayoutPtr target;
        int plain = 0, opaque = 0;
        for (int i : ins) {
            const LoweredValue& v = p_.values[static_cast<std::size_t>(i)];
            if (v.desc.dtype != n.outputs[0].dtype || v.desc.shape != n.outputs[0].shape) return nullptr;
            if (!v.layout) {
                ++plain;
            } else {
                ++opaque;
                if (!target) target = v.layout;
                else if (!same_layout(target, v.layout)) return nullptr;
            }
        }
        return plain <= opaque ? target : nullptr;
    }

    void add_compute(const Node& n) {
        check_state_inputs(n);
        const LayoutUse use = n.op->layout_use;
        std::vector<int> ins;
        for (const Value& in : n.inputs) ins.push_back(value_of_.at({in.node, in.slot}));
        auto layout_of = [&](int v) { return p_.values[static_cast<std::size_t>(v)].layout; };

        std::vector<LayoutPtr> out_layouts(n.outputs.size());
        if (use == LayoutUse::Plain) {
            for (int& v : ins) v = plain_version(v);
        } else if (use == LayoutUse::Elementwise) {
            bool shared = true;
            for (int v : ins) shared = shared && same_layout(layout_of(v), layout_of(ins[0]));
            if (!shared) {
                // Mixed operands: bring the plain ones into the opaque layout when that costs
                // no more conversions than the reverse (the chain then stays opaque, e.g. a
                // loss gradient meeting blocked activations), else make everything plain.
                // Every plain operand converts with the same kernel kind, so the first
                // conversion tells whether the layout can be produced at all.
                bool joined = false;
                if (LayoutPtr target = common_opaque_layout(n, ins)) {
                    joined = true;
                    for (int& v : ins)
                        if (!layout_of(v) && joined) {
                            const int c = converted(v, target);
                            if (c >= 0) v = c;
                            else joined = false;
                        }
                }
                if (!joined)
                    for (int& v : ins) v = plain_version(v);
            }
            for (auto& l : out_layouts) l = layout_of(ins[0]);
        }
        std::vector<TensorDesc> in_descs;
        for (const Value& in : n.inputs) in_descs.push_back(in.desc());
        std::vector<char> free(n.outputs.size(), 0), aware(n.outputs.size(), 0);
        for (std::size_t o = 0; o < n.outputs.size(); ++o) {
            Key k{n.id, static_cast<int32_t>(o)};
            free[o] = use == LayoutUse::Native && !fetched_.count(k);
            aware[o] = free[o] && !plain_consumer_.count(k);
        }
        LoweredStep step;
        step.node = n.id;
        auto build = [&] {
            std::vector<LayoutPtr> in_layouts;
            for (int v : ins) in_layouts.push_back(layout_of(v));
            KernelContext ctx{n, in_descs, n.outputs, n.attrs, p_.training, g_.seed(), resources_,
                              in_layouts, &out_layouts, free, aware};
            step.kernel = n.op->create_kernel(ctx, options_.reference_kernels, step.fast);
        };
        build();
        // A Native op's fast kernel handles opaque inputs; when it declined (or reference
        // kernels were asked for), the inputs are converted to plain and the reference loops
        // run on them.
        if (use == LayoutUse::Native && !step.fast && n.op->reference_factory) {
            bool opaque = false;
            for (int v : ins) opaque = opaque || layout_of(v) != nullptr;
            if (opaque) {
                for (int& v : ins) v = plain_version(v);
                std::fill(out_layouts.begin(), out_layouts.end(), nullptr);
                build();
            }
        }
        step.inputs = ins;
        for (std::size_t o = 0; o < n.outputs.size(); ++o) {
            if (out_layouts[o] && use == LayoutUse::Native && !free[o])
                throw_graph("compile: {} \"{}\" chose a layout for output {}, which must stay plain", n.op->name,
                            n.name, o);
            LoweredValue v;
            v.desc = n.outputs[o];
            v.layout = out_layouts[o];
            v.bytes = v.layout ? v.layout->bytes() : v.desc.bytes();
            v.node = n.id;
            v.slot = static_cast<int32_t>(o);
            int idx = add_value(std::move(v));
            value_of_[{n.id, static_cast<int32_t>(o)}] = idx;
            step.outputs.push_back(idx);
        }
        if (options_.inplace && n.op->inplace_input >= 0)
            step.inplace_source = ins.at(static_cast<std::size_t>(n.op->inplace_input));
        p_.steps.push_back(std::move(step));
    }

    const Graph& g_;
    const CompileOptions& options_;
    KernelResources& resources_;
    LoweredProgram p_;
    std::map<Key, int> value_of_;
    struct Conversion {
        LayoutPtr to;  // null: plain
        int result;
    };
    std::unordered_map<int, std::vector<Conversion>> conversions_;  // by source value
    std::map<Key, bool> fetched_, plain_consumer_;
};

}  // namespace

LoweredProgram lower(const Graph& g, const std::vector<Value>& fetches, const CompileOptions& options,
                     KernelResources& resources) {
    return Lowering(g, options, resources).run(fetches);
}

}  // namespace gg
