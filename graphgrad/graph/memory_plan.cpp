#include "graphgrad/graph/memory_plan.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <utility>

#include "graphgrad/graph/errors.h"

namespace gg {

namespace {

std::size_t align_up(std::size_t n) { return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

// Free blocks, indexed by offset (to merge neighbours) and by size (best fit), so every
// allocation and release is O(log blocks): compile time stays linear in the node count for
// graphs of tens of thousands of nodes. Best fit takes the smallest block that fits, the
// lowest offset among equals.
class FreeList {
public:
    std::size_t allocate(std::size_t size, std::size_t& arena_end) {
        auto best = by_size_.lower_bound({size, 0});
        if (best != by_size_.end()) {
            const auto [len, off] = *best;
            erase(off, len);
            if (len > size) insert(off + size, len - size);
            return off;
        }
        // No block fits: grow the arena, absorbing a free block that ends at the top.
        if (!by_offset_.empty()) {
            auto last = std::prev(by_offset_.end());
            if (last->first + last->second == arena_end) {
                const std::size_t off = last->first;
                erase(off, last->second);
                arena_end = off + size;
                return off;
            }
        }
        const std::size_t off = arena_end;
        arena_end += size;
        return off;
    }

    void release(std::size_t off, std::size_t size) {
        auto next = by_offset_.lower_bound(off);
        if (next != by_offset_.end() && off + size == next->first) {
            size += next->second;
            erase(next->first, next->second);
        }
        auto after = by_offset_.lower_bound(off);
        if (after != by_offset_.begin()) {
            auto prev = std::prev(after);
            if (prev->first + prev->second == off) {
                off = prev->first;
                size += prev->second;
                erase(prev->first, prev->second);
            }
        }
        insert(off, size);
    }

private:
    void insert(std::size_t off, std::size_t len) {
        by_offset_.emplace(off, len);
        by_size_.emplace(len, off);
    }
    void erase(std::size_t off, std::size_t len) {
        by_offset_.erase(off);
        by_size_.erase({len, off});
    }

    std::map<std::size_t, std::size_t> by_offset_;            // offset → length
    std::set<std::pair<std::size_t, std::size_t>> by_size_;   // (length, offset)
};

}  // namespace

MemoryPlan plan_memory(const std::vector<PlanRequest>& reqs) {
    MemoryPlan plan;
    const std::size_t n = reqs.size();
    plan.offsets.assign(n, 0);
    plan.reused_inplace.assign(n, 0);
    int last_step = 0;
    for (const auto& r : reqs) {
        if (r.last_step < r.first_step) throw_graph("plan_memory: a value is read before it is written");
        last_step = std::max(last_step, r.last_step);
        plan.total_bytes += align_up(r.bytes);
    }
    std::vector<std::vector<std::size_t>> born(static_cast<std::size_t>(last_step) + 1);
    std::vector<std::vector<std::size_t>> dies(static_cast<std::size_t>(last_step) + 1);
    for (std::size_t i = 0; i < n; ++i) {
        born[static_cast<std::size_t>(reqs[i].first_step)].push_back(i);
        if (!reqs[i].pinned) dies[static_cast<std::size_t>(reqs[i].last_step)].push_back(i);
    }

    FreeList free_list;
    std::size_t arena_end = 0;
    std::vector<char> handed_over(n, 0);  // block now owned by an in-place successor
    for (std::size_t s = 0; s <= static_cast<std::size_t>(last_step); ++s) {
        // Outputs of step s live while the step reads its inputs, so they are allocated
        // before anything dies at s; an in-place output takes over a dying input instead.
        for (std::size_t i : born[s]) {
            const PlanRequest& r = reqs[i];
            int src = r.inplace_of;
            if (src >= 0) {
                const auto u = static_cast<std::size_t>(src);
                const PlanRequest& q = reqs[u];
                if (!q.pinned && !handed_over[u] && q.first_step < static_cast<int>(s) && q.last_step == static_cast<int>(s) &&
                    align_up(q.bytes) == align_up(r.bytes)) {
                    plan.offsets[i] = plan.offsets[u];
                    plan.reused_inplace[i] = 1;
                    handed_over[u] = 1;
                    continue;
                }
            }
            plan.offsets[i] = free_list.allocate(align_up(r.bytes), arena_end);
        }
        for (std::size_t i : dies[s])
            if (!handed_over[i]) free_list.release(plan.offsets[i], align_up(reqs[i].bytes));
    }
    plan.arena_bytes = arena_end;
    return plan;
}

}  // namespace gg
