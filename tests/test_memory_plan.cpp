// The planner as a pure function: reuse, in-place, pinning and the no-overlap invariant.
#include <catch2/catch.hpp>

#include "graphgrad/graph/memory_plan.h"
#include "graphgrad/graph/rng.h"

#include <cstdint>
#include <optional>

using gg::PlanRequest;

namespace {

// Two values overlap in time when their [first, last] step intervals intersect; a pinned
// value lives to the end.
bool overlap_in_time(const PlanRequest& a, const PlanRequest& b, int end) {
    int a_last = a.pinned ? end : a.last_step, b_last = b.pinned ? end : b.last_step;
    return a.first_step <= b_last && b.first_step <= a_last;
}

bool overlap_in_space(std::size_t off_a, std::size_t size_a, std::size_t off_b, std::size_t size_b) {
    return off_a < off_b + size_b && off_b < off_a + size_a;
}

void check_no_conflicts(const std::vector<PlanRequest>& reqs, const gg::MemoryPlan& plan) {
    int end = 0;
    for (const auto& r : reqs) end = std::max(end, r.last_step);
    for (std::size_t i = 0; i < reqs.size(); ++i) {
        REQUIRE(plan.offsets[i] + reqs[i].bytes <= plan.arena_bytes);
        REQUIRE(plan.offsets[i] % gg::kArenaAlignment == 0);
        for (std::size_t j = i + 1; j < reqs.size(); ++j) {
            if (!overlap_in_time(reqs[i], reqs[j], end)) continue;
            // An in-place successor shares its source's block at exactly the hand-over step.
            bool handover = (plan.reused_inplace[j] && reqs[j].inplace_of == static_cast<int>(i)) ||
                            (plan.reused_inplace[i] && reqs[i].inplace_of == static_cast<int>(j));
            if (handover) continue;
            INFO("values " << i << " and " << j);
            REQUIRE_FALSE(overlap_in_space(plan.offsets[i], reqs[i].bytes, plan.offsets[j], reqs[j].bytes));
        }
    }
}

}  // namespace

TEST_CASE("a chain reuses memory: arena smaller than the sum of its values", "[graph][planner]") {
    // v0 → v1 → ... → v9, each 1 KiB, each read only by the next step.
    std::vector<PlanRequest> reqs;
    for (int s = 0; s < 10; ++s) reqs.push_back({1024, s, s == 9 ? 9 : s + 1, s == 9, -1});
    auto plan = gg::plan_memory(reqs);
    check_no_conflicts(reqs, plan);
    CHECK(plan.total_bytes == 10 * 1024);
    CHECK(plan.arena_bytes == 2 * 1024);  // producer and consumer alive together, never more
}

TEST_CASE("in-place outputs take over a dying input's block", "[graph][planner]") {
    std::vector<PlanRequest> reqs;
    for (int s = 0; s < 6; ++s) reqs.push_back({4096, s, s == 5 ? 5 : s + 1, s == 5, s > 0 ? s - 1 : -1});
    auto plan = gg::plan_memory(reqs);
    check_no_conflicts(reqs, plan);
    CHECK(plan.arena_bytes == 4096);
    for (int s = 1; s < 6; ++s) CHECK(plan.offsets[static_cast<std::size_t>(s)] == plan.offsets[0]);
}

TEST_CASE("in-place is refused when the input is still needed later", "[graph][planner]") {
    // v1 wants to reuse v0, but v0 is read again at step 2.
    std::vector<PlanRequest> reqs{{256, 0, 2, false, -1}, {256, 1, 2, false, 0}, {256, 2, 2, true, -1}};
    auto plan = gg::plan_memory(reqs);
    check_no_conflicts(reqs, plan);
    CHECK(plan.reused_inplace[1] == 0);
    CHECK(plan.offsets[1] != plan.offsets[0]);
}

TEST_CASE("pinned values are never reused", "[graph][planner]") {
    // v0 is fetched (pinned) but its last reader is step 1; later values must not land on it.
    std::vector<PlanRequest> reqs{{512, 0, 1, true, -1}, {512, 1, 2, false, -1}, {512, 2, 3, false, -1},
                                  {512, 3, 3, true, -1}};
    auto plan = gg::plan_memory(reqs);
    check_no_conflicts(reqs, plan);
    for (std::size_t i = 1; i < reqs.size(); ++i) CHECK(plan.offsets[i] != plan.offsets[0]);
}

TEST_CASE("freed neighbours coalesce so a larger value fits without growing", "[graph][planner]") {
    // Two 1 KiB values die at step 2; a 2 KiB value born at step 3 fits in their merged block.
    std::vector<PlanRequest> reqs{{1024, 0, 2, false, -1}, {1024, 1, 2, false, -1}, {64, 2, 3, false, -1},
                                  {2048, 3, 3, true, -1}};
    auto plan = gg::plan_memory(reqs);
    check_no_conflicts(reqs, plan);
    CHECK(plan.arena_bytes == 2048 + 64);
}

TEST_CASE("random lifetimes never put two live values on the same bytes", "[graph][planner]") {
    for (uint64_t trial = 0; trial < 100; ++trial) {
        std::vector<PlanRequest> reqs;
        const int steps = 40;
        for (int s = 0; s < steps; ++s) {
            int outputs = 1 + static_cast<int>(gg::random_bits(trial, 1, static_cast<uint64_t>(s)) % 2);
            for (int o = 0; o < outputs; ++o) {
                uint64_t r = gg::random_bits(trial, 2, reqs.size());
                PlanRequest q;
                q.bytes = 1 + r % 5000;
                q.first_step = s;
                q.last_step = std::min(steps - 1, s + static_cast<int>((r >> 20) % 8));
                q.pinned = (r >> 40) % 10 == 0;
                if (!reqs.empty() && (r >> 50) % 3 == 0) q.inplace_of = static_cast<int>((r >> 8) % reqs.size());
                reqs.push_back(q);
            }
        }
        const gg::MemoryPlan best_fit = gg::plan_memory_best_fit(reqs);
        const std::optional<gg::MemoryPlan> by_size = gg::plan_memory_by_size(reqs, SIZE_MAX);
        const gg::MemoryPlan chosen = gg::plan_memory(reqs);
        REQUIRE(by_size);
        for (const gg::MemoryPlan* plan : {&best_fit, &*by_size, &chosen}) {
            check_no_conflicts(reqs, *plan);
            CHECK(plan->arena_bytes <= plan->total_bytes);
            // Both strategies make the same in-place hand-overs.
            CHECK(plan->reused_inplace == best_fit.reused_inplace);
        }
        CHECK(chosen.arena_bytes == std::min(best_fit.arena_bytes, by_size->arena_bytes));
    }
}

TEST_CASE("placing the largest values first avoids best fit's fragmentation", "[graph][planner]") {
    // a (1 KiB) dies at step 1, b (1 KiB) lives to step 3, c (2 KiB) is born at step 2. Best
    // fit puts a and b side by side, so a's freed block is too small for c and the arena
    // grows to 4 KiB; by size places c first, a where c will be (they never meet), b after c.
    std::vector<PlanRequest> reqs{{1024, 0, 1, false, -1}, {1024, 0, 3, false, -1}, {2048, 2, 3, true, -1}};
    const gg::MemoryPlan best_fit = gg::plan_memory_best_fit(reqs);
    const std::optional<gg::MemoryPlan> by_size = gg::plan_memory_by_size(reqs, SIZE_MAX);
    REQUIRE(by_size);
    check_no_conflicts(reqs, best_fit);
    check_no_conflicts(reqs, *by_size);
    CHECK(best_fit.arena_bytes == 4096);
    CHECK(by_size->arena_bytes == 3072);
    const gg::MemoryPlan chosen = gg::plan_memory(reqs);
    CHECK(chosen.arena_bytes == 3072);
    CHECK(chosen.strategy == gg::MemoryPlan::Strategy::BySize);
}

TEST_CASE("placing by size gives up past its work budget", "[graph][planner]") {
    // 100 values alive together: each placement meets all those placed before it.
    std::vector<PlanRequest> reqs;
    for (int i = 0; i < 100; ++i) reqs.push_back({64, 0, 1, false, -1});
    CHECK_FALSE(gg::plan_memory_by_size(reqs, 1000).has_value());
    REQUIRE(gg::plan_memory_by_size(reqs, 100 * 101).has_value());
    CHECK(gg::plan_memory(reqs).arena_bytes == 100 * 64);
}
