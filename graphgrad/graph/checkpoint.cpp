#include "graphgrad/graph/checkpoint.h"

#include <algorithm>

#include "graphgrad/graph/errors.h"

namespace gg {

void CheckpointScope::keep(Value v) {
    if (!v.valid() || v.graph != &g_) throw_graph("checkpoint: a kept output is empty or belongs to another graph");
    outputs_.push_back(v);
}

Value checkpoint(const Block& f, Value x) {
    if (!x.valid()) throw_graph("checkpoint: the input is an empty Value");
    CheckpointScope scope(*x.graph);
    Value y = f(x);
    scope.keep(y);
    return y;
}

std::vector<Value> checkpoint(const std::function<std::vector<Value>(const std::vector<Value>&)>& f,
                              const std::vector<Value>& inputs) {
    if (inputs.empty() || !inputs[0].valid()) throw_graph("checkpoint: needs at least one input Value");
    CheckpointScope scope(*inputs[0].graph);
    std::vector<Value> out = f(inputs);
    for (const Value& v : out) scope.keep(v);
    return out;
}

Value checkpoint_sequential(const std::vector<Block>& blocks, int segments, Value x) {
    const auto n = static_cast<int>(blocks.size());
    if (segments < 1 || segments > std::max(n, 1))
        throw_graph("checkpoint_sequential: {} segments for a chain of {} blocks (need 1 to {})", segments, n,
                    std::max(n, 1));
    int begin = 0;
    for (int s = 0; s < segments; ++s) {
        const int end = static_cast<int>(static_cast<int64_t>(n) * (s + 1) / segments);
        auto run = [&](Value h) {
            for (int b = begin; b < end; ++b) h = blocks[static_cast<std::size_t>(b)](h);
            return h;
        };
        x = s + 1 < segments ? checkpoint(run, x) : run(x);
        begin = end;
    }
    return x;
}

}  // namespace gg
