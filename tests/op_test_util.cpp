#include "op_test_util.h"

#include <cmath>
#include <cstring>

#include "graphgrad/graph/layout_negotiation.h"

namespace gg::testing {

namespace {
constexpr std::size_t kGuard = 256;
constexpr unsigned char kGuardByte = 0xA5;

// One node's kernel made as compile() makes it, minus layout choices: every output is read,
// so a workspace output gets the bytes its kernel asks for. `fast`: the fast kernel unless it
// declines (then the reference), else the reference.
struct MadeKernel {
    std::unique_ptr<Kernel> kernel;
    bool fast = false;
    std::vector<LayoutPtr> outputs;  // WorkspaceLayouts where the kernel sized a workspace
};

MadeKernel make_node_kernel(const Graph& g, const Node& node, const std::vector<LayoutPtr>& input_layouts, bool fast,
                            KernelResources& resources) {
    const OpDef& op = *node.op;
    std::vector<TensorDesc> in_descs;
    for (const Value& v : node.inputs) in_descs.push_back(v.desc());
    const std::vector<OutputUse> uses(node.outputs.size(), OutputUse{false, true, true});
    MadeKernel m;
    auto attempt = [&](const KernelFactory& f, const char* kind) {
        LayoutNegotiation neg(node, false, LayoutPolicy::Plain, input_layouts, {}, uses);
        KernelContext ctx{node, in_descs, node.outputs, node.attrs, false, g.seed(), resources, &neg};
        m.kernel = f(ctx);
        if (!m.kernel) return false;
        neg.check_workspaces_sized(kind);
        m.outputs = neg.output_layouts();
        return true;
    };
    if (fast && op.fast_factory && op.reference_factory && attempt(op.fast_factory, "fast")) {
        m.fast = true;
        return m;
    }
    if (!attempt(op.reference_factory ? op.reference_factory : op.fast_factory, "reference"))
        throw GraphError(fmt::format("{}: the reference kernel declined", op.name));
    return m;
}

// Fresh output buffers with guard bytes before and after, NaN inside floating outputs; a
// workspace output is as large as its kernel asked.
struct GuardedOutputs {
    std::vector<std::shared_ptr<Buffer>> raw;
    std::vector<std::size_t> bytes;
    std::vector<void*> ptrs;
    std::vector<Tensor> views;

    GuardedOutputs(const Node& node, const std::vector<LayoutPtr>& layouts) {
        for (std::size_t o = 0; o < node.outputs.size(); ++o) {
            const TensorDesc& d = node.outputs[o];
            const auto* ws = o < layouts.size() ? as_workspace(layouts[o]) : nullptr;
            const std::size_t n = ws ? ws->bytes() : d.bytes();
            auto b = std::make_shared<Buffer>(n + 2 * kGuard);
            std::memset(b->data(), kGuardByte, n + 2 * kGuard);
            char* inner = static_cast<char*>(b->data()) + kGuard;
            Tensor view(d, inner, b);
            if (is_floating(d.dtype) && !ws) view.fill(std::nan(""));
            ptrs.push_back(inner);
            raw.push_back(b);
            bytes.push_back(n);
            views.push_back(view);
        }
    }
    bool guards_intact() const {
        for (std::size_t o = 0; o < raw.size(); ++o) {
            auto* p = static_cast<const unsigned char*>(raw[o]->data());
            for (std::size_t i = 0; i < kGuard; ++i)
                if (p[i] != kGuardByte || p[kGuard + bytes[o] + i] != kGuardByte) return false;
        }
        return true;
    }
};

void run(Kernel& k, const std::vector<const void*>& ins, const std::vector<void*>& outs) {
    Buffer scratch(std::max<std::size_t>(k.scratch_bytes(), 1));
    k.run(KernelArgs{ins.data(), outs.data(), k.scratch_bytes() ? scratch.data() : nullptr, 0});
}

}  // namespace

std::vector<const OpDef*> registered_ops(const OpRegistry& registry) {
    register_all_ops();
    std::vector<const OpDef*> out;
    for (const OpDef* d : registry.all())
        if (!d->is_source) out.push_back(d);
    return out;
}

std::vector<Tensor> sample_inputs(const OpSample& s, DType dtype, uint64_t seed) {
    std::vector<Tensor> out;
    for (std::size_t i = 0; i < s.inputs.size(); ++i) out.push_back(make_sample_tensor(s.inputs[i], dtype, seed + i));
    return out;
}

std::string sample_name(const OpDef& op, const OpSample& s, std::size_t index) {
    return fmt::format("{} [{}]", op.name, s.label.empty() ? std::to_string(index) : s.label);
}

KernelRun run_kernel_directly(const OpDef& op, const OpSample& s, const std::vector<Tensor>& inputs, bool fast) {
    Graph g;
    std::vector<Value> xs;
    for (std::size_t i = 0; i < inputs.size(); ++i)
        xs.push_back(g.input(fmt::format("x{}", i), inputs[i].shape(), inputs[i].dtype()));
    std::vector<const void*> in_ptrs;
    for (const auto& t : inputs) in_ptrs.push_back(t.raw());
    std::vector<LayoutPtr> in_layouts(inputs.size());
    KernelResources resources;

    // A producer runs first (same kernel kind); its outputs replace the placeholders they feed.
    std::optional<GuardedOutputs> produced;
    MadeKernel producer;
    if (s.producer) {
        std::vector<Value> pin;
        std::vector<const void*> pptrs;
        for (int i : s.producer->inputs) {
            pin.push_back(xs.at(static_cast<std::size_t>(i)));
            pptrs.push_back(in_ptrs[static_cast<std::size_t>(i)]);
        }
        const std::vector<Value> pout = g.add_node(op_def(s.producer->op), pin, s.producer->attrs, "producer");
        const Node& pnode = g.node(pout.at(0).node);
        producer = make_node_kernel(g, pnode, std::vector<LayoutPtr>(pin.size()), fast, resources);
        produced.emplace(pnode, producer.outputs);
        run(*producer.kernel, pptrs, produced->ptrs);
        for (const auto& [o, i] : s.producer->feeds) {
            const auto ui = static_cast<std::size_t>(i), uo = static_cast<std::size_t>(o);
            xs.at(ui) = pout.at(uo);
            in_ptrs[ui] = produced->ptrs.at(uo);
            in_layouts[ui] = producer.outputs.at(uo);
        }
    }

    auto ys = g.add_node(op, xs, s.attrs);
    const Node& node = g.node(ys.at(0).node);
    MadeKernel made = make_node_kernel(g, node, in_layouts, fast, resources);
    GuardedOutputs outs(node, made.outputs);
    run(*made.kernel, in_ptrs, outs.ptrs);

    KernelRun result;
    result.fast = made.fast;
    result.outputs = outs.views;
    result.guards_intact = outs.guards_intact() && (!produced || produced->guards_intact());
    for (const Tensor& t : result.outputs)
        if (is_floating(t.dtype()))
            for (int64_t i = 0; i < t.numel(); ++i)
                if (std::isnan(t.get(i))) result.all_written = false;
    return result;
}

}  // namespace gg::testing
