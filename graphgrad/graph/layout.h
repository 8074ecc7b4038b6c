// Physical layouts other than plain row-major. A oneDNN convolution runs 1.6–2.5× faster on
// blocked layouts (nChw16c) than on NCHW (TOOLCHAIN.md), so compile() lets consecutive
// layout-aware ops keep the layout their producer chose and converts to plain only where a
// value meets an op that needs plain memory, or is fetched. Layout is decided in compile();
// graph code and gradient rules never see it.
//
// Which inputs an op can read in an opaque layout (OpDef::layout_use):
//   Plain        needs row-major memory: the executor inserts a to_plain conversion.
//   Native       its kernel handles any Layout it is given (oneDNN ops), and may choose an
//                opaque layout for its outputs (KernelContext::output_layouts).
//   Elementwise  works on raw elements whatever their order, when all inputs share one layout
//                and f(0) = 0 (padding of blocked layouts must stay zero); the output takes
//                that layout.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace gg {

class Kernel;
class KernelResources;

class Layout {
public:
    virtual ~Layout() = default;
    virtual std::size_t bytes() const = 0;  // may exceed the plain size (padding to blocks)
    virtual bool equals(const Layout& other) const = 0;
    virtual std::string describe() const = 0;  // e.g. "nChw16c"
    // A kernel reading one input in this layout and writing the plain row-major tensor.
    virtual std::unique_ptr<Kernel> make_to_plain(KernelResources& resources) const = 0;
    // The inverse (padding zeroed), or nullptr when the layout cannot be produced from plain.
    // compile() uses it where an elementwise op meets one plain and one opaque operand, so
    // the opaque chain continues instead of falling back to plain.
    virtual std::unique_ptr<Kernel> make_from_plain(KernelResources&) const { return nullptr; }
};

using LayoutPtr = std::shared_ptr<const Layout>;

enum class LayoutUse { Plain, Native, Elementwise };

inline bool same_layout(const LayoutPtr& a, const LayoutPtr& b) {
    if (!a || !b) return !a && !b;
    return a.get() == b.get() || a->equals(*b);
}

}  // namespace gg
