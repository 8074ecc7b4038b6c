// Workspace values: bytes only a kernel can size, living from a forward node to its backward
// node (oneDNN's RNN, LSTM and GRU workspaces, a max-pool workspace, a fused bn-relu mask).
//
// Design:
// - In the graph a workspace is an ordinary node output, declared by the op bundle
//   (`.workspace_output(o)` on the forward op, `.workspace_input(i)` on every op that reads
//   it). Its graph-level TensorDesc is a placeholder (workspace_placeholder(): f32[0]), so
//   shape rules, grad() and graph code handle it like any value without knowing its size.
//   The reading input is non-differentiable (grad() never sends a gradient into it).
// - Its size is decided at lowering, by the kernel factory of the forward node through the
//   typed KernelContext API: set_workspace(o, bytes, format). The factory may ask
//   output_read(o) first: an inference program that drops the backward node reads nothing, so
//   the forward can skip the workspace (0 bytes, and e.g. forward_inference primitives). The
//   size is carried by a WorkspaceLayout on the value, a Layout like any other, so the one
//   layout mechanism carries it; its `format` names the writer, and a reading kernel checks it
//   (`workspace_input(i)`): a fast (oneDNN) forward and an f64 reference forward size and
//   fill their workspaces differently, and a backward kernel must read what its forward wrote.
// - It is an arena value: the memory planner places it like any activation, alive from the
//   forward step to its last reader (the backward step), and peak_bytes() counts it.
// - It is never converted (a WorkspaceLayout has no plain form), never fetched (compile()
//   rejects a fetch of it with an error naming the op and the node), never read by an input
//   not declared a workspace input, and declared workspace inputs accept nothing else.
//
//   r.define("lstm").workspace_output(3) ...             // forward: (y, h, c, workspace)
//   c.set_workspace(3, pd.workspace_desc().get_size(), "dnnl lstm");   // in its kernel factory
//   r.define("lstm_backward").workspace_input(5) ...
//   const gg::WorkspaceLayout* ws = c.workspace_input(5);   // in the backward's factory
#pragma once

#include <string>

#include "graphgrad/graph/layout.h"
#include "graphgrad/graph/tensor_desc.h"

namespace gg {

// The graph-level descriptor of every workspace output.
inline TensorDesc workspace_placeholder() { return TensorDesc{{0}, DType::F32}; }
inline bool is_workspace_placeholder(const TensorDesc& d) { return d == workspace_placeholder(); }

class WorkspaceLayout final : public Layout {
public:
    WorkspaceLayout(std::size_t bytes, std::string format) : bytes_(bytes), format_(std::move(format)) {}
    std::size_t bytes() const override { return bytes_; }
    bool equals(const Layout& other) const override;
    std::string describe() const override;  // "workspace <format>"
    // A workspace holds kernel-private bytes: it has no plain form.
    std::unique_ptr<Kernel> make_to_plain(KernelResources&) const override { return nullptr; }
    const std::string& format() const { return format_; }

private:
    std::size_t bytes_;
    std::string format_;
};

const WorkspaceLayout* as_workspace(const LayoutPtr& layout);

}  // namespace gg
