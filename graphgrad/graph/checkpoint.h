// Gradient checkpointing: forward values computed inside a checkpoint region are not kept for
// the backward pass but recomputed there, just before their first backward reader (the
// compile pass graph/passes/remat.cpp repeats their nodes in the schedule). The region's
// outputs and inputs are kept. Recomputation is exact: a recomputed node is the same node, so
// random ops draw the same numbers (they key on the node, the graph seed and the run), and
// state updates (batch-norm running statistics) happen once per step.
//
//   gg::Value y = gg::checkpoint([](gg::Value h) { return block2(block1(h)); }, x);
//   gg::Value z = gg::checkpoint_sequential(blocks, 4, x);   // 4 segments, the last one kept
//   auto step = gg::compile(g, {loss, dw});                  // smaller planned peak
#pragma once

#include <functional>
#include <vector>

#include "graphgrad/graph/graph.h"

namespace gg {

// Nodes added while a scope lives form one checkpoint region; keep() names its outputs (kept
// for the backward pass, like torch.utils.checkpoint's). Nested scopes join the outermost.
class CheckpointScope {
public:
    explicit CheckpointScope(Graph& g) : g_(g) { g_.begin_checkpoint(); }
    ~CheckpointScope() { g_.end_checkpoint(outputs_); }
    CheckpointScope(const CheckpointScope&) = delete;
    CheckpointScope& operator=(const CheckpointScope&) = delete;
    // Throws unless v is a value of this scope's graph (checked here: the destructor must not).
    void keep(Value v);

private:
    Graph& g_;
    std::vector<Value> outputs_;
};

using Block = std::function<Value(Value)>;

// f(x) in a checkpoint region; its result is kept, its intermediate values recomputed.
Value checkpoint(const Block& f, Value x);
std::vector<Value> checkpoint(const std::function<std::vector<Value>(const std::vector<Value>&)>& f,
                              const std::vector<Value>& inputs);

// The chain blocks[n-1](…blocks[0](x)) split into `segments` consecutive runs of about equal
// length; every segment but the last is a checkpoint region (the last one's backward comes
// first, so recomputing it would save nothing). segments = 1: no checkpointing;
// √n segments: O(√n) activations kept for O(n) extra forward compute.
Value checkpoint_sequential(const std::vector<Block>& blocks, int segments, Value x);

}  // namespace gg
