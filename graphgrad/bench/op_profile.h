// Where a compiled program's run() goes: the time per op type from the executor's per-step
// timings (CompiledGraph::set_profiling), largest first. Layout conversions count as
// "(layout conversion)", reference kernels of ops that have a fast one as "op (reference)".
//
//   step.set_profiling(true);
//   for (int r = 0; r < 10; ++r) step.run(feeds);
//   nlohmann::json rows = gg::bench::op_profile(g, step, 10);   // [{"op", "ms", "steps"}, ...]
#pragma once

#include <nlohmann/json.hpp>

#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"

namespace gg::bench {

// ms per run (the summed timings divided by `runs`) and the number of steps, per op type.
nlohmann::json op_profile(const Graph& g, const CompiledGraph& step, int runs);

}  // namespace gg::bench
