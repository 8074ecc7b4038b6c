// The kernel interface between compile() and run(). A KernelFactory runs once, in compile(),
// with every shape known; it returns a Kernel whose run() only computes (no allocation, no
// primitive creation). Scratch memory is requested up front and planned into the arena.
//
//   return gg::make_kernel([n](const gg::KernelArgs& a) {
//       auto* y = static_cast<float*>(a.outputs[0]);
//       ...
//   });
#pragma once

#include <any>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <typeindex>
#include <unordered_map>
#include <vector>

#include "graphgrad/graph/layout_negotiation.h"
#include "graphgrad/graph/workspace.h"
#include "graphgrad/graph/tensor_desc.h"

namespace gg {

struct Node;

// Pointers for one execution of one node. Inputs are never written (except an op's declared
// state inputs); outputs may alias input 0 when the op declared .inplace().
struct KernelArgs {
    const void* const* inputs;
    void* const* outputs;
    void* scratch;      // scratch_bytes() bytes, 64-byte aligned, or nullptr
    uint64_t step;      // run counter: random ops key their draws on it
};

// Kernels carving several buffers out of their scratch keep each at this alignment (the
// arena's, what oneDNN and vector loads want).
constexpr std::size_t kScratchAlignment = 64;
inline std::size_t scratch_aligned(std::size_t bytes) {
    return (bytes + kScratchAlignment - 1) / kScratchAlignment * kScratchAlignment;
}

class Kernel {
public:
    virtual ~Kernel() = default;
    virtual void run(const KernelArgs& args) = 0;
    virtual std::size_t scratch_bytes() const { return 0; }
    // What runs, for compile reports: e.g. oneDNN's implementation ("brg:avx512_core").
    virtual std::string describe() const { return {}; }
};

// Shared, lazily created runtime objects (e.g. the oneDNN engine and stream), owned by one
// CompiledGraph. graph/ only knows them as types; ops/dnn defines them.
class KernelResources {
public:
    template <typename T>
    T& get() {
        auto& slot = items_[std::type_index(typeid(T))];
        if (!slot) slot = std::make_shared<T>();
        return *static_cast<T*>(slot.get());
    }

private:
    std::unordered_map<std::type_index, std::shared_ptr<void>> items_;
};

// What a kernel factory sees at compile time, and how it negotiates layouts and workspace
// sizes with compile() (graph/layout_negotiation.h). Without a negotiation (kernels made
// outside compile(), e.g. by tests) every value is plain and nothing may be chosen.
struct KernelContext {
    const Node& node;
    std::span<const TensorDesc> inputs;
    std::span<const TensorDesc> outputs;
    const std::any& attrs;
    bool training;               // graph holds gradient nodes / compile option
    uint64_t seed;               // graph seed, for random ops
    KernelResources& resources;
    LayoutNegotiation* layouts = nullptr;
    // A recomputation of the node for the backward pass (graph/passes/remat.cpp): it must
    // write bitwise what the first computation wrote and leave state alone (an op that updates
    // state declares OpDef::recomputable_state and honours this).
    bool recompute = false;

    template <typename T>
    const T& attrs_as() const;

    // ---- layouts: facts ----
    LayoutPolicy layout_policy() const { return layouts ? layouts->policy() : LayoutPolicy::Plain; }
    LayoutPtr input_layout(std::size_t i) const { return layouts ? layouts->input(i) : nullptr; }
    // Set by compile() for Elementwise ops; by the kernel itself for Native ones.
    LayoutPtr output_layout(std::size_t o) const { return layouts ? layouts->output(o) : nullptr; }
    // Whether this kernel may require input layouts and choose output layouts: a Native op's
    // fast kernel, layout policy not Plain.
    bool may_choose_layouts() const { return layouts && layouts->may_choose(); }
    // Nothing fetches output o and every reader takes opaque layouts: an opaque layout for it
    // costs no conversion.
    bool output_conversion_free(std::size_t o) const { return layouts && layouts->output_conversion_free(o); }
    // Anything reads or fetches output o. Without a negotiation: assumed read.
    bool output_read(std::size_t o) const { return !layouts || layouts->output_read(o); }
    // Elements a loop over output o's memory covers: the padded count in an opaque layout.
    int64_t output_elements(std::size_t o) const {
        if (auto l = output_layout(o)) return static_cast<int64_t>(l->bytes() / dtype_size(outputs[o].dtype));
        return outputs[o].numel();
    }

    // ---- layouts: decisions (throw unless may_choose_layouts()) ----
    // Read input i in `layout` (null: plain): compile() inserts the conversion step before.
    void require_input_layout(std::size_t i, LayoutPtr layout) const { negotiation().require_input(i, std::move(layout)); }
    // Write output o in `layout`: compile() converts where a reader or a fetch needs another.
    void set_output_layout(std::size_t o, LayoutPtr layout) const { negotiation().set_output(o, std::move(layout)); }

    // ---- workspaces (graph/workspace.h) ----
    // Size declared workspace output o: `bytes` in this kernel's `format` (e.g. "dnnl lstm").
    void set_workspace(std::size_t o, std::size_t bytes, std::string format) const {
        negotiation().set_workspace(o, bytes, std::move(format));
    }
    // The workspace arriving at input i (its size and its writer's format), or nullptr.
    const WorkspaceLayout* workspace_input(std::size_t i) const { return as_workspace(input_layout(i)); }

private:
    LayoutNegotiation& negotiation() const;
};

using KernelFactory = std::function<std::unique_ptr<Kernel>(const KernelContext&)>;

// A kernel from a callable; the common case for plain loops.
template <typename F>
class FunctionKernel final : public Kernel {
public:
    explicit FunctionKernel(F f, std::size_t scratch = 0) : f_(std::move(f)), scratch_(scratch) {}
    void run(const KernelArgs& a) override { f_(a); }
    std::size_t scratch_bytes() const override { return scratch_; }

private:
    F f_;
    std::size_t scratch_;
};

template <typename F>
std::unique_ptr<Kernel> make_kernel(F f, std::size_t scratch_bytes = 0) {
    return std::make_unique<FunctionKernel<F>>(std::move(f), scratch_bytes);
}

}  // namespace gg
