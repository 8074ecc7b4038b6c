// The simulation behind compiling to a memory budget (remat_budget.cpp, remat_segments.cpp):
// live bytes over a schedule with the sizes the lower pass measured, cheap enough to run
// thousands of times on a 60,000-step schedule.
//
//   const Sizes sizes = measure(lowered);
//   const Simulator sim(p, sizes);
//   Simulation s = sim.run(recompute_schedule(p, base, chosen));   // s.peak, s.peak_pos
#pragma once

#include <cstddef>
#include <numeric>
#include <vector>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/program.h"

namespace gg::passes {

// What the lower pass measured, by node: output bytes (layout padding, kernel-sized
// workspaces) and kernel scratch.
struct Sizes {
    std::vector<std::vector<std::size_t>> outputs;
    std::vector<std::size_t> scratch;
};

Sizes measure(const Program& lowered);

// Live bytes over a schedule, and for each node's first computation the steps where its
// outputs are idle (between the last forward reader and the first backward reader).
struct Simulation {
    std::size_t peak = 0;
    int peak_pos = 0;
    std::vector<int> last_forward, first_backward;  // by node, positions in the schedule
    std::vector<int> original_end;                   // by node: last reader of the first computation
    std::vector<int> defined;                        // by node: position of the first computation
    std::vector<std::size_t> live;                   // bytes alive at each position
    std::vector<int> slot_end;                       // by value key: last reader of the first computation
    std::vector<int> copy_defined, copy_end;         // by node: the recomputation's position, last reader

    // Σ max(0, live − target): what is left to remove. Smooth where the peak is a plateau of
    // several steps, so one recomputation that lowers one of them counts as progress.
    double excess(std::size_t target) const {
        double e = 0;
        for (std::size_t b : live) e += b > target ? static_cast<double>(b - target) : 0.0;
        return e;
    }
};

class Simulator {
public:
    Simulator(const Program& p, const Sizes& sizes) : g_(*p.graph), sizes_(sizes) {
        first_.assign(static_cast<std::size_t>(g_.num_nodes()) + 1, 0);
        for (int32_t id = 0; id < g_.num_nodes(); ++id)
            first_[static_cast<std::size_t>(id) + 1] = first_[static_cast<std::size_t>(id)] + g_.node(id).outputs.size();
        fetched_.assign(first_.back(), 0);
        for (const Value& f : p.fetches) fetched_[key(f.node, f.slot)] = 1;
    }

    Simulation run(const Schedule& s) const;

    // What recomputing node id frees at position `at`: its first computation's outputs still
    // alive there (a batch norm's y may be dead while its statistics wait for the backward).
    std::size_t node_bytes(int32_t id) const {
        const auto& o = sizes_.outputs[static_cast<std::size_t>(id)];
        return std::accumulate(o.begin(), o.end(), std::size_t{0});
    }

    // Whether value v's first computation is still alive at position `at` (or fetched).
    bool alive_at(const Simulation& s, const Value& v, int at) const {
        const std::size_t k = key(v.node, v.slot);
        return fetched_[k] || s.slot_end[k] >= at;
    }

    std::size_t idle_bytes(const Simulation& s, int32_t id, int at) const {
        std::size_t bytes = 0;
        const auto& o = sizes_.outputs[static_cast<std::size_t>(id)];
        for (std::size_t slot = 0; slot < o.size(); ++slot)
            if (s.slot_end[key(id, static_cast<int32_t>(slot))] >= at || fetched_[key(id, static_cast<int32_t>(slot))])
                bytes += o[slot];
        return bytes;
    }

private:
    std::size_t key(int32_t node, int32_t slot) const { return first_[static_cast<std::size_t>(node)] + static_cast<std::size_t>(slot); }

    const Graph& g_;
    const Sizes& sizes_;
    std::vector<std::size_t> first_;
    std::vector<char> fetched_;
};

// The extra compute of running node n again: 2·macs + flops, plus bytes moved / 8 for
// data-movement ops (so a copy is not free), plus one.
double recompute_cost(const Node& n);

// Σ recompute_cost over a schedule's repeated entries: the extra compute it runs.
double repeat_cost(const Graph& g, const Schedule& schedule);

// A segment plan (remat_segments.cpp): cuts in the forward pass keep the values crossing
// them, the candidates between cuts are recomputed. Chosen as recompute_schedule takes it.
struct SegmentPlan {
    std::vector<char> chosen;
    std::size_t segments = 0;
    std::size_t peak = 0;  // simulated
    double cost = 0;       // repeat_cost of its schedule
};

// One plan per segment size, from one segment down to a few nodes each (sizes apart by √2),
// each simulated; empty when nothing is idle at the peak.
std::vector<SegmentPlan> segment_plans(const Program& p, const Simulator& sim, const Schedule& base,
                                       const std::vector<char>& recomputable, const std::vector<char>& start);

}  // namespace gg::passes
