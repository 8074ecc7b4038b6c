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
#include <typeindex>
#include <unordered_map>
#include <vector>

#include "graphgrad/graph/layout.h"
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

// What a kernel factory sees at compile time.
struct KernelContext {
    const Node& node;
    std::span<const TensorDesc> inputs;
    std::span<const TensorDesc> outputs;
    const std::any& attrs;
    bool training;               // graph holds gradient nodes / compile option
    uint64_t seed;               // graph seed, for random ops
    KernelResources& resources;
    // Layouts (see graph/layout.h). Empty or null entries mean plain row-major.
    std::span<const LayoutPtr> input_layouts = {};
    // Native ops may set entries of *output_layouts for outputs whose output_layout_free
    // entry is 1 (not fetched); Elementwise ops find their output layout already set.
    std::vector<LayoutPtr>* output_layouts = nullptr;
    std::span<const char> output_layout_free = {};
    // 1 when every consumer of the output reads opaque layouts (choosing one costs no reorder).
    std::span<const char> output_consumers_layout_aware = {};

    template <typename T>
    const T& attrs_as() const;
    LayoutPtr input_layout(std::size_t i) const { return i < input_layouts.size() ? input_layouts[i] : nullptr; }
    // Whether a Native kernel may set output o's layout (see output_layout_free).
    bool output_layout_settable(std::size_t o) const {
        return output_layouts && o < output_layout_free.size() && output_layout_free[o];
    }
    LayoutPtr output_layout(std::size_t o) const {
        return output_layouts && o < output_layouts->size() ? (*output_layouts)[o] : nullptr;
    }
    // Elements a loop over output o's memory covers: the padded count in an opaque layout.
    int64_t output_elements(std::size_t o) const {
        if (auto l = output_layout(o)) return static_cast<int64_t>(l->bytes() / dtype_size(outputs[o].dtype));
        return outputs[o].numel();
    }
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
