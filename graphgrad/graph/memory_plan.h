// The memory planner: a pure function from value lifetimes over a schedule to offsets in one
// arena. Best-fit reuse of freed blocks (with coalescing), optional in-place reuse of a dying
// input by an elementwise output. Pinned values (fetched outputs) are never freed.
//
//   std::vector<gg::PlanRequest> reqs = ...;   // bytes, first and last step of each value
//   gg::MemoryPlan plan = gg::plan_memory(reqs);
//   plan.arena_bytes;  plan.offsets[i];
#pragma once

#include <cstddef>
#include <vector>

namespace gg {

struct PlanRequest {
    std::size_t bytes = 0;
    int first_step = 0;      // step that writes it
    int last_step = 0;       // last step that reads it (== first_step if never read)
    bool pinned = false;     // never freed (fetched outputs)
    int inplace_of = -1;     // request index whose block this value may take over at first_step
};

struct MemoryPlan {
    std::vector<std::size_t> offsets;  // one per request
    std::vector<char> reused_inplace;  // 1 where the value took over its inplace_of block
    std::size_t arena_bytes = 0;       // the peak: the arena's size
    std::size_t total_bytes = 0;       // sum of all requests: what no reuse would need
};

constexpr std::size_t kArenaAlignment = 64;

MemoryPlan plan_memory(const std::vector<PlanRequest>& requests);

}  // namespace gg
