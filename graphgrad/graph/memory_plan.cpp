#include "graphgrad/graph/memory_plan.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "graphgrad/graph/errors.h"

namespace gg {

namespace {

std::size_t align_up(std::size_t n) { return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

// What both strategies share: the checked requests, the last step, and the in-place
// hand-overs (decided in birth order: an output takes over its inplace_of block when that
// value dies at exactly this step, is not fetched, was born earlier, has the same aligned size
// and was not handed over already).
struct Lifetimes {
    int last_step = 0;
    std::vector<int> takes_over;  // per request: the request whose block it takes over, or -1
    std::vector<char> handed_over;
    std::vector<std::vector<std::size_t>> born;  // per step: requests written there, by index

    explicit Lifetimes(const std::vector<PlanRequest>& reqs) : takes_over(reqs.size(), -1), handed_over(reqs.size(), 0) {
        for (const auto& r : reqs) {
            if (r.first_step < 0 || r.last_step < r.first_step)
                throw_graph("plan_memory: a value is read before it is written");
            last_step = std::max(last_step, r.last_step);
        }
        born.resize(static_cast<std::size_t>(last_step) + 1);
        for (std::size_t i = 0; i < reqs.size(); ++i) born[static_cast<std::size_t>(reqs[i].first_step)].push_back(i);
        for (const auto& at_step : born)
            for (std::size_t i : at_step) {
                const PlanRequest& r = reqs[i];
                if (r.inplace_of < 0) continue;
                const auto u = static_cast<std::size_t>(r.inplace_of);
                const PlanRequest& q = reqs[u];
                if (!q.pinned && !handed_over[u] && q.first_step < r.first_step && q.last_step == r.first_step &&
                    align_up(q.bytes) == align_up(r.bytes)) {
                    takes_over[i] = r.inplace_of;
                    handed_over[u] = 1;
                }
            }
    }
    // The last step a request's block is in use (pinned: never freed).
    int end_of(const PlanRequest& r) const { return r.pinned ? last_step : r.last_step; }
};

MemoryPlan empty_plan(const std::vector<PlanRequest>& reqs, MemoryPlan::Strategy strategy) {
    MemoryPlan plan;
    plan.offsets.assign(reqs.size(), 0);
    plan.reused_inplace.assign(reqs.size(), 0);
    for (const auto& r : reqs) plan.total_bytes += align_up(r.bytes);
    plan.strategy = strategy;
    return plan;
}

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

    std::map<std::size_t, std::size_t> by_offset_;           // offset → length
    std::set<std::pair<std::size_t, std::size_t>> by_size_;  // (length, offset)
};

// A block of the by-size strategy: one request, or a chain of in-place successors sharing it.
struct Block {
    std::size_t size = 0;
    int first = 0, last = 0;  // steps it is in use
    std::size_t offset = 0;
};

// The placed blocks whose lifetimes overlap a query interval, found in O(log n + reported):
// blocks sorted by first step, and a segment tree of the latest last step among the placed
// blocks of each range.
class PlacedBlocks {
public:
    explicit PlacedBlocks(const std::vector<Block>& blocks) : blocks_(blocks), order_(blocks.size()) {
        for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
        std::stable_sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) {
            return blocks[a].first < blocks[b].first;
        });
        position_.resize(blocks.size());
        for (std::size_t i = 0; i < order_.size(); ++i) position_[order_[i]] = i;
        while (leaves_ < std::max<std::size_t>(order_.size(), 1)) leaves_ *= 2;
        latest_.assign(2 * leaves_, kNone);
    }

    void place(std::size_t block) {
        std::size_t node = leaves_ + position_[block];
        latest_[node] = blocks_[block].last;
        for (node /= 2; node >= 1; node /= 2) latest_[node] = std::max(latest_[2 * node], latest_[2 * node + 1]);
    }

    // Placed blocks in use at some step of [first, last], appended to `out`.
    void overlapping(int first, int last, std::vector<std::size_t>& out) const {
        // Blocks starting after `last` cannot overlap: only the prefix of order_ up to it.
        const auto end = std::upper_bound(order_.begin(), order_.end(), last,
                                          [&](int step, std::size_t b) { return step < blocks_[b].first; });
        visit(1, 0, leaves_, static_cast<std::size_t>(end - order_.begin()), first, out);
    }

private:
    static constexpr int kNone = std::numeric_limits<int>::min();

    void visit(std::size_t node, std::size_t lo, std::size_t hi, std::size_t prefix, int first,
               std::vector<std::size_t>& out) const {
        if (lo >= prefix || latest_[node] < first) return;
        if (hi - lo == 1) {
            out.push_back(order_[lo]);
            return;
        }
        const std::size_t mid = (lo + hi) / 2;
        visit(2 * node, lo, mid, prefix, first, out);
        visit(2 * node + 1, mid, hi, prefix, first, out);
    }

    const std::vector<Block>& blocks_;
    std::vector<std::size_t> order_, position_;
    std::size_t leaves_ = 1;
    std::vector<int> latest_;
};

// Lowest offset where a block of `size` fits between the given placed blocks.
std::size_t lowest_gap(std::vector<std::pair<std::size_t, std::size_t>>& taken, std::size_t size) {
    std::sort(taken.begin(), taken.end());
    std::size_t offset = 0;
    for (const auto& [at, len] : taken) {
        if (offset + size <= at) break;
        offset = std::max(offset, at + len);
    }
    return offset;
}

}  // namespace

MemoryPlan plan_memory_best_fit(const std::vector<PlanRequest>& reqs) {
    const Lifetimes life(reqs);
    MemoryPlan plan = empty_plan(reqs, MemoryPlan::Strategy::BestFit);
    std::vector<std::vector<std::size_t>> dies(life.born.size());
    for (std::size_t i = 0; i < reqs.size(); ++i)
        if (!reqs[i].pinned && !life.handed_over[i]) dies[static_cast<std::size_t>(reqs[i].last_step)].push_back(i);
    FreeList free_list;
    std::size_t arena_end = 0;
    for (std::size_t s = 0; s < life.born.size(); ++s) {
        // Outputs of step s live while the step reads its inputs, so they are allocated
        // before anything dies at s; an in-place output takes over a dying input instead.
        for (std::size_t i : life.born[s]) {
            if (const int src = life.takes_over[i]; src >= 0) {
                plan.offsets[i] = plan.offsets[static_cast<std::size_t>(src)];
                plan.reused_inplace[i] = 1;
            } else {
                plan.offsets[i] = free_list.allocate(align_up(reqs[i].bytes), arena_end);
            }
        }
        for (std::size_t i : dies[s]) free_list.release(plan.offsets[i], align_up(reqs[i].bytes));
    }
    plan.arena_bytes = arena_end;
    return plan;
}

std::optional<MemoryPlan> plan_memory_by_size(const std::vector<PlanRequest>& reqs, std::size_t work_limit) {
    const Lifetimes life(reqs);
    MemoryPlan plan = empty_plan(reqs, MemoryPlan::Strategy::BySize);
    // In-place chains become one block each, in use over the chain's whole lifetime.
    std::vector<std::size_t> block_of(reqs.size());
    std::vector<Block> blocks;
    for (const auto& at_step : life.born)
        for (std::size_t i : at_step) {
            const int src = life.takes_over[i];
            if (src < 0) {
                block_of[i] = blocks.size();
                blocks.push_back({align_up(reqs[i].bytes), reqs[i].first_step, life.end_of(reqs[i]), 0});
                continue;
            }
            block_of[i] = block_of[static_cast<std::size_t>(src)];
            plan.reused_inplace[i] = 1;
            Block& b = blocks[block_of[i]];
            b.last = std::max(b.last, life.end_of(reqs[i]));
        }
    std::vector<std::size_t> by_size(blocks.size());
    for (std::size_t b = 0; b < by_size.size(); ++b) by_size[b] = b;
    std::stable_sort(by_size.begin(), by_size.end(), [&](std::size_t a, std::size_t b) {
        return blocks[a].size != blocks[b].size ? blocks[a].size > blocks[b].size : blocks[a].first < blocks[b].first;
    });
    PlacedBlocks placed(blocks);
    std::vector<std::size_t> found;
    std::vector<std::pair<std::size_t, std::size_t>> taken;
    std::size_t work = 0;
    for (std::size_t b : by_size) {
        Block& block = blocks[b];
        if (block.size == 0) continue;  // offset 0, overlapping nothing
        found.clear();
        placed.overlapping(block.first, block.last, found);
        work += found.size() + 1;
        if (work > work_limit) return std::nullopt;
        taken.clear();
        for (std::size_t o : found) taken.emplace_back(blocks[o].offset, blocks[o].size);
        block.offset = lowest_gap(taken, block.size);
        placed.place(b);
        plan.arena_bytes = std::max(plan.arena_bytes, block.offset + block.size);
    }
    for (std::size_t i = 0; i < reqs.size(); ++i) plan.offsets[i] = blocks[block_of[i]].offset;
    return plan;
}

MemoryPlan plan_memory(const std::vector<PlanRequest>& reqs) {
    MemoryPlan best_fit = plan_memory_best_fit(reqs);
    // The by-size placement meets every overlapping block per block: thousands per block for
    // the activations an unrolled RNN keeps for its backward pass. A budget linear in the
    // request count keeps compile time linear; past it, best fit stands.
    std::optional<MemoryPlan> by_size = plan_memory_by_size(reqs, 16 * reqs.size() + (1u << 18));
    if (by_size && by_size->arena_bytes < best_fit.arena_bytes) return std::move(*by_size);
    return best_fit;
}

}  // namespace gg
