// The lower pass: scheduled nodes become steps with kernels; every value gets a storage class,
// a layout and a size. Layouts are negotiated with each kernel factory (graph/layout.h,
// graph/layout_negotiation.h) and every conversion they need is a step of its own:
// - a Plain op reads plain memory: opaque inputs are converted first;
// - an Elementwise op reads one shared layout: mixed operands join the opaque layout when that
//   costs no more conversions than the reverse (a loss gradient joins the blocked chain),
//   else everything is read plain;
// - a Native op's fast kernel reads what arrives or asks for another layout, and chooses its
//   outputs' layouts; when it declines, the reference loops run on plain inputs;
// - a fetched value is converted to plain right after the step that writes it.
// Conversions a Plain or Elementwise reader needs are made once and shared by later such
// readers (the opaque original usually dies there, so the copy replaces it); the conversions a
// Native kernel asks for are made per reader, just before it, like the reorders such kernels
// used to do inside their scratch, so a padded copy of a parameter or of a fed image never
// stays alive from the forward to the backward pass. Any reader reuses a conversion that the
// previous compute step read (one more step of lifetime instead of a second conversion).
#include <string>
#include <unordered_map>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/graph/passes/passes.h"

namespace gg::passes {

namespace {

// Dense keys for graph values: (node, slot) → node's first key + slot.
class ValueKeys {
public:
    explicit ValueKeys(const Graph& g) : first_(static_cast<std::size_t>(g.num_nodes()) + 1, 0) {
        for (int32_t id = 0; id < g.num_nodes(); ++id)
            first_[static_cast<std::size_t>(id) + 1] =
                first_[static_cast<std::size_t>(id)] + static_cast<int>(g.node(id).outputs.size());
    }
    std::size_t operator()(int32_t node, int32_t slot) const {
        return static_cast<std::size_t>(first_[static_cast<std::size_t>(node)] + slot);
    }
    std::size_t size() const { return static_cast<std::size_t>(first_.back()); }

private:
    std::vector<int> first_;
};

class Lowering {
public:
    explicit Lowering(Program& p)
        : p_(p), g_(*p.graph), keys_(g_), current_(keys_.size(), -1), uses_(keys_.size()),
          copies_(static_cast<std::size_t>(g_.num_nodes()), 0) {}

    void run() {
        find_uses();
        for (int32_t id : p_.schedule) lower_node(g_.node(id));
        for (const Value& f : p_.fetches) {
            const int v = plain(value_of(f));
            ProgramValue& val = at(v);
            if (val.storage == ProgramValue::Storage::Arena) val.pinned = true;
            p_.fetch_values.push_back(v);
        }
    }

private:
    struct Chosen {
        std::unique_ptr<Kernel> kernel;
        bool fast = false;
        std::vector<LayoutPtr> inputs, outputs;  // the layouts the kernel reads and writes
    };
    struct Conversion {
        LayoutPtr to;  // null: plain
        int result;
        bool shared;   // made for (or reused by) a Plain or Elementwise reader, or a fetch
        int read_by;   // the last compute step reading it (counted in compute steps)
    };

    ProgramValue& at(int v) { return p_.values[static_cast<std::size_t>(v)]; }
    const LayoutPtr& layout_of(int v) { return at(v).layout; }

    // How the program uses every graph value: fetched, read, read by a plain op.
    void find_uses() {
        for (const Value& f : p_.fetches) uses_[keys_(f.node, f.slot)].fetched = true;
        for (int32_t id : p_.schedule) {
            const Node& n = g_.node(id);
            for (std::size_t i = 0; i < n.inputs.size(); ++i) {
                OutputUse& u = uses_[keys_(n.inputs[i].node, n.inputs[i].slot)];
                u.read = true;
                if (n.op->layout_use == LayoutUse::Plain && !n.op->is_workspace_input(static_cast<int>(i)))
                    u.read_plain = true;
            }
        }
    }

    int add_value(ProgramValue v) {
        p_.values.push_back(std::move(v));
        conversions_.emplace_back();
        return static_cast<int>(p_.values.size()) - 1;
    }

    // The program value holding graph value v now (a source gets one on first use).
    int value_of(const Value& v) {
        int& idx = current_[keys_(v.node, v.slot)];
        if (idx < 0) idx = add_source(v.producer());
        return idx;
    }

    int add_source(const Node& n) {
        if (!n.op->is_source)
            throw_graph("internal error: compile: \"{}\" is read before its step", n.name);
        ProgramValue v;
        v.desc = n.outputs[0];
        v.bytes = v.desc.bytes();
        v.node = n.id;
        switch (n.kind()) {
            case NodeKind::Parameter:
            case NodeKind::State:
                v.storage = ProgramValue::Storage::External;
                v.external = g_.store().get(std::any_cast<const ParameterAttrs&>(n.attrs).name);
                break;
            case NodeKind::Constant:
                v.storage = ProgramValue::Storage::External;
                v.external = std::any_cast<const ConstantAttrs&>(n.attrs).value;
                break;
            default: v.storage = ProgramValue::Storage::Feed; break;
        }
        return add_value(std::move(v));
    }

    // A conversion kernel from `from` to `to` (either may be null: plain), or nullptr.
    std::unique_ptr<Kernel> conversion_kernel(const LayoutPtr& from, const LayoutPtr& to) {
        KernelResources& r = *p_.resources;
        if (!from) return to->make_from_plain(r);
        if (!to) return from->make_to_plain(r);
        return from->make_conversion_to(*to, r);
    }

    // A conversion of v to `to` made earlier that this reader may use: a shared one by a
    // shared reader; any one read by this compute step or the one before (reusing it costs
    // one step of lifetime instead of a second conversion).
    Conversion* reusable(int v, const LayoutPtr& to, bool shared) {
        for (Conversion& c : conversions_[static_cast<std::size_t>(v)])
            if (same_layout(c.to, to) && ((shared && c.shared) || c.read_by + 1 >= computed_)) return &c;
        return nullptr;
    }

    // Value v in layout `to`, through conversion steps added now (or one made earlier, see
    // reusable()); -1 when no kernel converts it. shared: the reader is a Plain or Elementwise
    // op or a fetch, whose conversions later such readers reuse (see the top of the file).
    int try_convert(int v, const LayoutPtr& to, bool shared) {
        if (same_layout(layout_of(v), to)) return v;
        if (Conversion* c = reusable(v, to, shared)) {
            c->shared = c->shared || shared;
            c->read_by = computed_;
            return c->result;
        }
        std::unique_ptr<Kernel> kernel = conversion_kernel(layout_of(v), to);
        if (!kernel) {
            // Between two opaque layouts without a direct kernel: through plain memory.
            if (!layout_of(v) || !to) return -1;
            const int via = try_convert(v, nullptr, shared);
            return via < 0 ? -1 : try_convert(via, to, shared);
        }
        ProgramValue copy = at(v);
        copy.storage = ProgramValue::Storage::Arena;
        copy.external = Tensor();
        copy.layout = to;
        copy.bytes = to ? to->bytes() : copy.desc.bytes();
        copy.pinned = false;
        copy.step = static_cast<int>(p_.steps.size());
        ProgramStep step;
        step.kind = StepKind::Conversion;
        step.node = copy.node;
        step.kernel = std::move(kernel);
        step.inputs = {v};
        const int c = add_value(std::move(copy));
        step.outputs = {c};
        p_.steps.push_back(std::move(step));
        conversions_[static_cast<std::size_t>(v)].push_back({to, c, shared, computed_});
        return c;
    }

    int convert(int v, const LayoutPtr& to, bool shared) {
        const int c = try_convert(v, to, shared);
        if (c < 0) {
            const Node& n = g_.node(at(v).node);
            throw_graph("compile: no conversion of {} \"{}\" output {} from {} to {}", n.op->name, n.name, at(v).slot,
                        layout_of(v) ? layout_of(v)->describe() : "plain", to ? to->describe() : "plain");
        }
        return c;
    }

    int plain(int v) { return at(v).workspace ? v : convert(v, nullptr, true); }

    // The one opaque layout among an elementwise node's operands when bringing the plain
    // operands into it needs no more conversions than the reverse, and the result is read
    // only by layout-aware ops (else it would convert right back).
    LayoutPtr common_opaque_layout(const Node& n, const std::vector<int>& ins) {
        const OutputUse& out = uses_of_output(n, 0);
        if (out.fetched || out.read_plain) return nullptr;
        LayoutPtr target;
        int plains = 0, opaques = 0;
        for (int v : ins) {
            if (at(v).desc != n.outputs[0]) return nullptr;
            if (!layout_of(v)) {
                ++plains;
            } else {
                ++opaques;
                if (!target) target = layout_of(v);
                else if (!same_layout(target, layout_of(v))) return nullptr;
            }
        }
        return plains <= opaques ? target : nullptr;
    }

    // The layout an Elementwise node reads and writes; converts `ins` to it.
    LayoutPtr join_layouts(const Node& n, std::vector<int>& ins) {
        bool shared = true;
        for (int v : ins) shared = shared && same_layout(layout_of(v), layout_of(ins[0]));
        if (shared) return layout_of(ins[0]);
        if (LayoutPtr target = common_opaque_layout(n, ins)) {
            // Every plain operand converts with the same kernel kind: the first tells.
            std::vector<int> joined = ins;
            bool ok = true;
            for (int& v : joined)
                if (ok && !layout_of(v)) ok = (v = try_convert(v, target, true)) >= 0;
            if (ok) {
                ins = joined;
                return target;
            }
        }
        for (int& v : ins) v = plain(v);
        return nullptr;
    }

    const OutputUse& uses_of_output(const Node& n, std::size_t o) { return uses_[keys_(n.id, static_cast<int32_t>(o))]; }
    std::vector<OutputUse> uses_of(const Node& n) {
        std::vector<OutputUse> u;
        for (std::size_t o = 0; o < n.outputs.size(); ++o) u.push_back(uses_of_output(n, o));
        return u;
    }
    std::vector<LayoutPtr> layouts_of(const std::vector<int>& ins) {
        std::vector<LayoutPtr> out;
        for (int v : ins) out.push_back(layout_of(v));
        return out;
    }

    // Workspace values go exactly where an op declares a workspace input, and one that a
    // reader overwrites (oneDNN's RNN backward) has no other reader.
    void check_workspace_inputs(const Node& n, const std::vector<int>& ins) {
        for (std::size_t i = 0; i < ins.size(); ++i) {
            const bool declared = n.op->is_workspace_input(static_cast<int>(i));
            const ProgramValue& v = at(ins[i]);
            if (declared && v.workspace) check_single_reader(n, static_cast<int>(i), ins[i]);
            if (declared == v.workspace) continue;
            const Node& src = g_.node(v.node);
            if (declared)
                throw_graph("compile: {} \"{}\" reads a workspace at input {}, but \"{}\" ({} output {}) is not one",
                            n.op->name, n.name, i, src.name, src.op->name, v.slot);
            throw_graph("compile: {} \"{}\" reads the workspace output {} of {} \"{}\" at input {}, which is not a "
                        "workspace input (OpDef::workspace_input)",
                        n.op->name, n.name, v.slot, src.op->name, src.name, i);
        }
    }

    void check_single_reader(const Node& n, int input, int v) {
        const bool overwrites = n.op->overwrites_workspace(input);
        auto [it, first] = workspace_readers_.try_emplace(v, WorkspaceReader{&n, overwrites});
        if (first || it->second.node == &n) return;
        if (!overwrites && !it->second.overwrites) return;
        const Node& other = *it->second.node;
        const Node& src = g_.node(at(v).node);
        const Node& writer = overwrites ? n : other;
        throw_graph("compile: {} \"{}\" and {} \"{}\" both read the workspace of {} \"{}\", which {} \"{}\" "
                    "overwrites: one forward node serves one backward node (differentiate it once, or build the "
                    "forward again for a second gradient)",
                    other.op->name, other.name, n.op->name, n.name, src.op->name, src.name, writer.op->name, writer.name);
    }

    // The op's kernel (a Native op's may negotiate layouts) unless reference kernels are asked
    // for; when it declines, the reference loops on plain inputs. An op with one kernel only
    // (.cpu_kernel without .reference) has plain loops that are their own reference: they run
    // in both roles and count as reference loops.
    Chosen choose_kernel(const Node& n, std::vector<int>& ins, const std::vector<LayoutPtr>& preset) {
        const OpDef& op = *n.op;
        std::vector<TensorDesc> in_descs;
        for (const Value& in : n.inputs) in_descs.push_back(in.desc());
        auto attempt = [&](const KernelFactory& factory, bool may_choose, const char* kind, Chosen& out) {
            LayoutNegotiation neg(n, may_choose, p_.options.layout_policy, layouts_of(ins), preset, uses_of(n));
            KernelContext ctx{n, in_descs, n.outputs, n.attrs, p_.training, g_.seed(), *p_.resources, &neg,
                              copies_[static_cast<std::size_t>(n.id)] > 0};
            out.kernel = factory(ctx);
            if (!out.kernel) return false;
            neg.check_workspaces_sized(kind);
            out.inputs = neg.input_layouts();
            out.outputs = neg.output_layouts();
            return true;
        };
        Chosen c;
        if (!p_.options.reference_kernels && op.fast_factory &&
            attempt(op.fast_factory, op.layout_use == LayoutUse::Native, "fast", c)) {
            // Only test ops have a fast factory without reference loops: theirs is not "fast".
            c.fast = static_cast<bool>(op.reference_factory);
            return c;
        }
        if (op.layout_use == LayoutUse::Native)
            for (int& v : ins) v = plain(v);
        const KernelFactory& f = op.reference_factory ? op.reference_factory : op.fast_factory;
        if (!f) throw_graph("compile: op {} (node \"{}\") has no kernel", op.name, n.name);
        if (!attempt(f, false, "reference", c))
            throw_graph("compile: {} \"{}\": its reference kernel declined inputs {}", op.name, n.name, n.inputs_str());
        return c;
    }

    void lower_node(const Node& n) {
        std::vector<int> ins;
        for (const Value& in : n.inputs) ins.push_back(value_of(in));
        check_workspace_inputs(n, ins);
        std::vector<LayoutPtr> preset(n.outputs.size());
        if (n.op->layout_use == LayoutUse::Plain) {
            for (int& v : ins) v = plain(v);
        } else if (n.op->layout_use == LayoutUse::Elementwise) {
            const LayoutPtr shared = join_layouts(n, ins);
            for (LayoutPtr& l : preset) l = shared;
        }
        Chosen chosen = choose_kernel(n, ins, preset);
        for (std::size_t i = 0; i < ins.size(); ++i)
            ins[i] = convert(ins[i], chosen.inputs[i], false);  // what the kernel asked for
        ProgramStep step;
        step.node = n.id;
        step.copy = copies_[static_cast<std::size_t>(n.id)]++;
        step.kernel = std::move(chosen.kernel);
        step.fast = chosen.fast;
        step.inputs = ins;
        if (p_.options.inplace && n.op->inplace_input >= 0)
            step.inplace_source = ins.at(static_cast<std::size_t>(n.op->inplace_input));
        const int index = static_cast<int>(p_.steps.size());
        for (std::size_t o = 0; o < n.outputs.size(); ++o) step.outputs.push_back(add_output(n, o, chosen.outputs[o], index));
        p_.steps.push_back(std::move(step));
        for (std::size_t o = 0; o < n.outputs.size(); ++o)
            if (uses_of_output(n, o).fetched) plain(current_[keys_(n.id, static_cast<int32_t>(o))]);
        ++computed_;
    }

    int add_output(const Node& n, std::size_t o, const LayoutPtr& layout, int step) {
        ProgramValue v;
        v.desc = n.outputs[o];
        v.layout = layout;
        v.workspace = n.op->is_workspace_output(static_cast<int>(o));
        v.bytes = layout ? layout->bytes() : v.desc.bytes();
        v.node = n.id;
        v.slot = static_cast<int32_t>(o);
        v.step = step;
        const int idx = add_value(std::move(v));
        current_[keys_(n.id, static_cast<int32_t>(o))] = idx;
        return idx;
    }

    Program& p_;
    const Graph& g_;
    ValueKeys keys_;
    std::vector<int> current_;       // by value key: the program value holding it now
    std::vector<OutputUse> uses_;    // by value key
    std::vector<int> copies_;        // by node: steps computing it so far
    std::vector<std::vector<Conversion>> conversions_;  // by program value: conversions made
    int computed_ = 0;                                  // compute steps lowered so far
    struct WorkspaceReader {
        const Node* node;
        bool overwrites;
    };
    std::unordered_map<int, WorkspaceReader> workspace_readers_;  // by workspace value: its first reader
};

void report_lowering(Program& p) {
    CompileReport::Lower& r = p.report.lower;
    r = {};
    r.steps = p.steps.size();
    std::unordered_map<std::string, std::size_t> index;  // "op|kind|impl" → kernels entry
    for (const ProgramStep& s : p.steps) {
        const OpDef& op = *p.graph->node(s.node).op;
        const char* kind = s.kind == StepKind::Conversion              ? "conversion"
                           : s.fast                                     ? "fast"
                           : op.fast_factory && op.reference_factory ? "reference"
                                                                        : "loops";
        r.conversions += kind[0] == 'c';
        r.fast_kernels += kind[0] == 'f';
        r.reference_kernels += kind[0] == 'r';
        r.loop_kernels += kind[0] == 'l';
        CompileReport::KernelUse use{s.kind == StepKind::Conversion ? "(layout conversion)" : op.name, kind,
                                     s.kernel->describe(), 0};
        const std::string key = use.op + '|' + use.kind + '|' + use.impl;
        auto [it, added] = index.emplace(key, r.kernels.size());
        if (added) r.kernels.push_back(std::move(use));
        ++r.kernels[it->second].steps;
    }
    for (const ProgramValue& v : p.values) {
        r.workspace_values += v.workspace;
        r.opaque_values += v.layout && !v.workspace;
    }
}

}  // namespace

Program lower(Program p) {
    p.values.clear();
    p.steps.clear();
    p.fetch_values.clear();
    Lowering(p).run();
    report_lowering(p);
    return p;
}

}  // namespace gg::passes
