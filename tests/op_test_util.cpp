#include "op_test_util.h"

#include <cmath>
#include <cstring>

namespace gg::testing {

namespace {
constexpr std::size_t kGuard = 256;
constexpr unsigned char kGuardByte = 0xA5;
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
    auto ys = g.add_node(op, xs, s.attrs);
    const Node& node = g.node(ys.at(0).node);

    std::vector<TensorDesc> in_descs;
    for (const auto& t : inputs) in_descs.push_back(t.desc());
    KernelResources resources;
    KernelContext ctx{node, in_descs, node.outputs, node.attrs, false, g.seed(), resources};
    KernelRun result;
    std::unique_ptr<Kernel> kernel = op.create_kernel(ctx, !fast, result.fast);

    // Outputs live inside bigger buffers: guard bytes before and after, NaN inside.
    std::vector<std::shared_ptr<Buffer>> raw;
    std::vector<void*> out_ptrs;
    for (const auto& d : node.outputs) {
        auto b = std::make_shared<Buffer>(d.bytes() + 2 * kGuard);
        std::memset(b->data(), kGuardByte, d.bytes() + 2 * kGuard);
        char* inner = static_cast<char*>(b->data()) + kGuard;
        Tensor view(d, inner, b);
        if (is_floating(d.dtype)) view.fill(std::nan(""));
        out_ptrs.push_back(inner);
        raw.push_back(b);
        result.outputs.push_back(view);
    }
    std::vector<const void*> in_ptrs;
    for (const auto& t : inputs) in_ptrs.push_back(t.raw());
    Buffer scratch(std::max<std::size_t>(kernel->scratch_bytes(), 1));
    kernel->run(KernelArgs{in_ptrs.data(), out_ptrs.data(), kernel->scratch_bytes() ? scratch.data() : nullptr, 0});

    for (std::size_t o = 0; o < raw.size(); ++o) {
        auto* bytes = static_cast<const unsigned char*>(raw[o]->data());
        const std::size_t n = node.outputs[o].bytes();
        for (std::size_t i = 0; i < kGuard; ++i)
            if (bytes[i] != kGuardByte || bytes[kGuard + n + i] != kGuardByte) result.guards_intact = false;
        const Tensor& t = result.outputs[o];
        if (is_floating(t.dtype()))
            for (int64_t i = 0; i < t.numel(); ++i)
                if (std::isnan(t.get(i))) result.all_written = false;
    }
    return result;
}

}  // namespace gg::testing
