// The training step `graphgrad bench rnn` measures (bench_rnn.cpp, bench_rnn_memory.cpp): one
// recurrent layer over x [T, N, I], a linear decoder to `classes` at every step, the mean
// cross-entropy against labels [T·N], and the gradient of every parameter — as the fused op
// (ops/rnn.h) or as the unrolled graph code (models/recurrent.h), the same parameters.
//
//   gg::bench::RnnStepShape s{.cell = gg::RnnCell::Lstm, .seq = 100};
//   gg::bench::RnnStepProgram p = gg::bench::build_rnn_step(s, /*fused=*/true);
//   gg::CompiledGraph step = gg::compile(*p.graph, p.fetches, {.training = true});
//   auto out = step.run(gg::bench::rnn_step_feeds(p, s));   // loss, then the gradients
#pragma once

#include <memory>
#include <vector>

#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/ops/rnn_cell.h"

namespace gg::bench {

struct RnnStepShape {
    RnnCell cell = RnnCell::Lstm;
    int64_t input = 64, hidden = 256, seq = 100, batch = 32, classes = 96;
};

struct RnnStepProgram {
    std::unique_ptr<Graph> graph;  // Graph is immovable (values point at it)
    Value x, labels, loss;
    std::vector<Value> params;   // the layer's, then the decoder's
    std::vector<Value> fetches;  // loss, then the gradients of params in order
};

RnnStepProgram build_rnn_step(const RnnStepShape& s, bool fused);

// x uniform in [-1, 1], labels uniform over the classes: fixed seeds, the same for both
// implementations.
Feeds rnn_step_feeds(const RnnStepProgram& p, const RnnStepShape& s);

}  // namespace gg::bench
