// The negotiation between compile()'s lowering and one kernel factory over layouts
// (graph/layout.h) and workspace sizes (graph/workspace.h). Lowering states the facts (the
// layout each input arrives in, how each output is used, the policy); a Native op's fast
// kernel decides (the layout it wants each input in, the layout it writes each output in);
// lowering then inserts the conversions those decisions need as visible steps. Kernel
// factories use it through KernelContext (graph/kernel.h):
//
//   if (c.may_choose_layouts()) {
//       if (c.input_layout(0) != mine) c.require_input_layout(0, mine);   // converted before the step
//       c.set_output_layout(0, mine);      // converted after it where a reader needs plain
//   }
#pragma once

#include <string>
#include <vector>

#include "graphgrad/graph/compile_options.h"
#include "graphgrad/graph/layout.h"

namespace gg {

struct Node;

// How the program uses one output: what a kernel weighs when it chooses the output's layout.
struct OutputUse {
    bool fetched = false;
    bool read = false;        // some scheduled step reads it
    bool read_plain = false;  // some reader needs plain memory (a Plain op)
};

class LayoutNegotiation {
public:
    // may_choose: a Native op's fast kernel under a policy other than Plain. outputs: layouts
    // lowering already decided (an Elementwise op's shared layout), null elsewhere.
    LayoutNegotiation(const Node& node, bool may_choose, LayoutPolicy policy, std::vector<LayoutPtr> inputs,
                      std::vector<LayoutPtr> outputs, std::vector<OutputUse> uses);

    // ---- facts ----
    LayoutPolicy policy() const { return policy_; }
    bool may_choose() const { return may_choose_; }
    // The layout input i is read in: as it arrives, or as required. Null: plain.
    LayoutPtr input(std::size_t i) const;
    LayoutPtr output(std::size_t o) const;
    // An opaque output layout costs no conversion: nothing fetches the output and every
    // reader takes opaque layouts.
    bool output_conversion_free(std::size_t o) const;
    // Anything reads or fetches output o (a workspace nobody reads can be left empty).
    bool output_read(std::size_t o) const;

    // ---- decisions (layouts: only when may_choose(); workspaces: any kernel) ----
    // Read input i in `layout` (null: plain); compile() converts it before the step.
    void require_input(std::size_t i, LayoutPtr layout);
    // Write output o in `layout` (null: plain); compile() converts it where a reader or the
    // fetch needs another layout.
    void set_output(std::size_t o, LayoutPtr layout);
    // Size a declared workspace output: `bytes` in the kernel's own `format`.
    void set_workspace(std::size_t o, std::size_t bytes, std::string format);

    // ---- for lowering ----
    const std::vector<LayoutPtr>& input_layouts() const { return inputs_; }
    const std::vector<LayoutPtr>& output_layouts() const { return outputs_; }
    // Throws unless every declared workspace output was sized (kernel: "fast" or "reference").
    void check_workspaces_sized(const char* kernel) const;

private:
    void check_output(std::size_t o, const char* what) const;

    const Node& node_;
    bool may_choose_;
    LayoutPolicy policy_;
    std::vector<LayoutPtr> inputs_, outputs_;
    std::vector<OutputUse> uses_;
};

}  // namespace gg
