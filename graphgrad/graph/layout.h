// Physical layouts other than plain row-major. A oneDNN convolution runs 1.6–2.5× faster on
// blocked layouts (nChw16c) than on NCHW (TOOLCHAIN.md), so compile() lets consecutive
// layout-aware ops keep the layout their producer chose and converts only where a value meets
// an op that needs another layout, or is fetched. This is the one layout mechanism: layouts
// are decided at compile time (lowering, graph/passes/lower.cpp), every conversion is a
// visible step, and kernels never reorder behind the graph's back. Graph code and gradient
// rules never see layouts. Kernel factories negotiate through graph/layout_negotiation.h.
//
// Which inputs an op can read in an opaque layout (OpDef::layout_use):
//   Plain        needs row-major memory: compile() converts opaque inputs first.
//   Native       its kernel reads any Layout it is given, may ask for inputs in another layout
//                (compile() inserts the conversion) and may choose its outputs' layouts.
//   Elementwise  works on raw elements whatever their order, when all inputs share one layout
//                and f(0) = 0 (padding of blocked layouts must stay zero; a generic test
//                checks every such op); the output takes that layout.
//
//   if (auto* d = gg::dnn::as_dnn(ctx.input_layout(0))) src = d->desc();   // see ops/dnn/layout.h
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
    // A kernel converting straight from this layout to `to` (both opaque), or nullptr: compile()
    // then goes through plain memory (two conversions).
    virtual std::unique_ptr<Kernel> make_conversion_to(const Layout&, KernelResources&) const { return nullptr; }
};

using LayoutPtr = std::shared_ptr<const Layout>;

enum class LayoutUse { Plain, Native, Elementwise };

inline bool same_layout(const LayoutPtr& a, const LayoutPtr& b) {
    if (!a || !b) return !a && !b;
    return a.get() == b.get() || a->equals(*b);
}

}  // namespace gg
