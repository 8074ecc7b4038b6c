#include "graphgrad/graph/layout_negotiation.h"

#include <algorithm>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/kernel.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/graph/workspace.h"

namespace gg {

bool WorkspaceLayout::equals(const Layout& other) const {
    const auto* w = dynamic_cast<const WorkspaceLayout*>(&other);
    return w && w->bytes_ == bytes_ && w->format_ == format_;
}

std::string WorkspaceLayout::describe() const { return "workspace " + format_; }

const WorkspaceLayout* as_workspace(const LayoutPtr& layout) {
    return dynamic_cast<const WorkspaceLayout*>(layout.get());
}

LayoutNegotiation::LayoutNegotiation(const Node& node, bool may_choose, LayoutPolicy policy,
                                     std::vector<LayoutPtr> inputs, std::vector<LayoutPtr> outputs,
                                     std::vector<OutputUse> uses)
    : node_(node),
      may_choose_(may_choose && policy != LayoutPolicy::Plain),
      policy_(policy),
      inputs_(std::move(inputs)),
      outputs_(std::move(outputs)),
      uses_(std::move(uses)) {
    outputs_.resize(node.outputs.size());
    uses_.resize(node.outputs.size());
}

LayoutPtr LayoutNegotiation::input(std::size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
LayoutPtr LayoutNegotiation::output(std::size_t o) const { return o < outputs_.size() ? outputs_[o] : nullptr; }

bool LayoutNegotiation::output_conversion_free(std::size_t o) const {
    return o < uses_.size() && !uses_[o].fetched && !uses_[o].read_plain;
}

bool LayoutNegotiation::output_read(std::size_t o) const {
    return o < uses_.size() && (uses_[o].fetched || uses_[o].read);
}

void LayoutNegotiation::require_input(std::size_t i, LayoutPtr layout) {
    if (!may_choose_)
        throw_graph("compile: {} \"{}\": its kernel asked for input {} in another layout, but this kernel may not "
                    "choose layouts (a Native op's fast kernel, layout policy not plain)",
                    node_.op->name, node_.name, i);
    if (i >= inputs_.size())
        throw_graph("compile: {} \"{}\": its kernel asked for input {} of {}", node_.op->name, node_.name, i,
                    inputs_.size());
    if (node_.op->is_workspace_input(static_cast<int>(i)) || as_workspace(inputs_[i]))
        throw_graph("compile: {} \"{}\": input {} is a workspace, which has no other layout", node_.op->name,
                    node_.name, i);
    inputs_[i] = std::move(layout);
}

void LayoutNegotiation::check_output(std::size_t o, const char* what) const {
    if (o >= outputs_.size())
        throw_graph("compile: {} \"{}\": its kernel set {} of output {}, the op has {} outputs", node_.op->name,
                    node_.name, what, o, outputs_.size());
}

void LayoutNegotiation::set_output(std::size_t o, LayoutPtr layout) {
    check_output(o, "the layout");
    if (!may_choose_)
        throw_graph("compile: {} \"{}\": its kernel chose a layout for output {}, but this kernel may not choose "
                    "layouts (a Native op's fast kernel, layout policy not plain)",
                    node_.op->name, node_.name, o);
    if (node_.op->is_workspace_output(static_cast<int>(o)))
        throw_graph("compile: {} \"{}\": output {} is a workspace; size it with set_workspace", node_.op->name,
                    node_.name, o);
    outputs_[o] = std::move(layout);
}

void LayoutNegotiation::set_workspace(std::size_t o, std::size_t bytes, std::string format) {
    check_output(o, "the workspace size");
    if (!node_.op->is_workspace_output(static_cast<int>(o)))
        throw_graph("compile: {} \"{}\": its kernel sized output {} as a workspace, but the op does not declare it "
                    "one (OpDef::workspace_output)",
                    node_.op->name, node_.name, o);
    outputs_[o] = std::make_shared<WorkspaceLayout>(bytes, std::move(format));
}

void LayoutNegotiation::check_workspaces_sized(const char* kernel) const {
    for (int o : node_.op->workspace_outputs)
        if (!as_workspace(output(static_cast<std::size_t>(o))))
            throw_graph("compile: {} \"{}\" declares output {} a workspace, but its {} kernel did not size it "
                        "(KernelContext::set_workspace)",
                        node_.op->name, node_.name, o, kernel);
}

LayoutNegotiation& KernelContext::negotiation() const {
    if (!layouts)
        throw_graph("{} \"{}\": its kernel negotiated layouts or a workspace outside compile() (no negotiation)",
                    node.op->name, node.name);
    return *layouts;
}

}  // namespace gg
