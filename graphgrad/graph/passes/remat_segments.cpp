// Segment plans for compiling to a memory budget: Chen et al. 2016's sublinear-memory
// schedule generalised from a chain of layers to any graph. The forward pass is cut into
// segments; at each cut the values crossing it (its frontier) are kept and every other
// forward value is recomputed in the backward pass, one segment at a time.
//
// Why this next to the greedy (remat_budget.cpp): the greedy drops one value (or a value and
// its dead inputs) at a time, and each drop must pay on its own. In an unrolled recurrence no
// single drop pays: recomputing a gate needs the step's projection slice, which needs its
// chunk's projection, which needs ... — the saving only appears once a whole stretch of steps
// is dropped and the states at its ends kept, which is a segment. Where a cut lies decides the
// frontier's size (between two LSTM steps: h and c; in the middle of a projection chunk: also
// the chunk's unread slices), so each cut goes where the frontier is smallest within the last
// stretch of about the segment size.
#include <algorithm>
#include <cmath>

#include "graphgrad/graph/passes/remat.h"
#include "graphgrad/graph/passes/remat_simulation.h"

namespace gg::passes {

namespace {

// The forward nodes a segment plan may recompute, in forward order, with what it needs.
struct Candidates {
    std::vector<int32_t> order;       // by first computation
    std::vector<int> index;           // by node id: position in `order`, −1 if not a candidate
    std::vector<std::size_t> prefix;  // prefix[j]: bytes of order[0..j)
    std::vector<int> last_reader;     // by position: the last candidate position reading it
};

// Candidates: recomputable forward nodes computed before the peak of `s` whose outputs are
// dead there, or idle (the forward is done with them and the backward has not started), and
// that the backward pass needs. Not a value read at the peak itself (an LSTM's stacked output,
// read by the loss's backward first): recomputing it would rebuild every step at once.
Candidates candidates_of(const Program& p, const Simulator& sim, const Simulation& s, const std::vector<char>& recomputable,
                         const std::vector<char>& start) {
    const Graph& g = *p.graph;
    Candidates c;
    c.index.assign(static_cast<std::size_t>(g.num_nodes()), -1);
    for (int32_t id : p.nodes) {
        const auto i = static_cast<std::size_t>(id);
        if (!recomputable[i] || start[i] || s.defined[i] >= s.peak_pos) continue;
        const bool idle = s.last_forward[i] < s.peak_pos && s.peak_pos < s.first_backward[i];
        if (sim.idle_bytes(s, id, s.peak_pos) == 0 || idle) c.order.push_back(id);
    }
    std::sort(c.order.begin(), c.order.end(), [&](int32_t a, int32_t b) {
        return s.defined[static_cast<std::size_t>(a)] < s.defined[static_cast<std::size_t>(b)];
    });
    // Only candidates the backward pass needs, itself or through candidates it needs: others
    // are never recomputed, and their reads must not keep values (a stack's concat, dead after
    // its in-place reshape, reads every step's h).
    std::vector<char> needed(static_cast<std::size_t>(g.num_nodes()), 0);
    for (int32_t id : p.nodes)
        if (g.node(id).is_gradient)
            for (const Value& in : g.node(id).inputs) needed[static_cast<std::size_t>(in.node)] = 1;
    for (auto it = c.order.rbegin(); it != c.order.rend(); ++it)
        if (needed[static_cast<std::size_t>(*it)])
            for (const Value& in : g.node(*it).inputs) needed[static_cast<std::size_t>(in.node)] = 1;
    std::erase_if(c.order, [&](int32_t id) { return !needed[static_cast<std::size_t>(id)]; });
    c.prefix.assign(c.order.size() + 1, 0);
    c.last_reader.assign(c.order.size(), -1);
    for (std::size_t j = 0; j < c.order.size(); ++j) {
        c.index[static_cast<std::size_t>(c.order[j])] = static_cast<int>(j);
        c.prefix[j + 1] = c.prefix[j] + sim.node_bytes(c.order[j]);
    }
    for (std::size_t j = 0; j < c.order.size(); ++j)
        for (const Value& in : g.node(c.order[j]).inputs)
            if (const int u = c.index[static_cast<std::size_t>(in.node)]; u >= 0)
                c.last_reader[static_cast<std::size_t>(u)] = std::max(c.last_reader[static_cast<std::size_t>(u)], static_cast<int>(j));
    return c;
}

// frontier[j]: the bytes kept by a cut right after candidate j (candidates computed at or
// before j that a candidate after j reads).
std::vector<std::size_t> frontier_bytes(const Candidates& c, const Simulator& sim) {
    std::vector<int64_t> delta(c.order.size() + 1, 0);
    for (std::size_t u = 0; u < c.order.size(); ++u)
        if (c.last_reader[u] > static_cast<int>(u)) {
            const auto b = static_cast<int64_t>(sim.node_bytes(c.order[u]));
            delta[u] += b;
            delta[static_cast<std::size_t>(c.last_reader[u])] -= b;
        }
    std::vector<std::size_t> f(c.order.size());
    int64_t run = 0;
    for (std::size_t j = 0; j < f.size(); ++j) f[j] = static_cast<std::size_t>(run += delta[j]);
    return f;
}

// Cuts for segments of about `size` bytes: when the bytes since the last cut reach `size`,
// the next cut goes after the candidate with the smallest frontier among those at least half
// a segment past the last cut (the latest of equals).
std::vector<int> cuts_for(const Candidates& c, const std::vector<std::size_t>& frontier, double size) {
    std::vector<int> cuts;
    std::size_t from = 0;  // first candidate of the open segment
    for (std::size_t j = 0; j + 1 < c.order.size(); ++j) {
        if (static_cast<double>(c.prefix[j + 1] - c.prefix[from]) < size) continue;
        std::size_t best = j;
        for (std::size_t k = j + 1; k-- > from;) {
            if (static_cast<double>(c.prefix[k + 1] - c.prefix[from]) < size / 2) break;
            if (frontier[k] < frontier[best]) best = k;
        }
        cuts.push_back(static_cast<int>(best));
        from = best + 1;
    }
    return cuts;
}

}  // namespace

double repeat_cost(const Graph& g, const Schedule& schedule) {
    std::vector<char> seen(static_cast<std::size_t>(g.num_nodes()), 0);
    double cost = 0;
    for (int32_t id : schedule)
        if (seen[static_cast<std::size_t>(id)]++) cost += recompute_cost(g.node(id));
    return cost;
}

std::vector<SegmentPlan> segment_plans(const Program& p, const Simulator& sim, const Schedule& base,
                                       const std::vector<char>& recomputable, const std::vector<char>& start) {
    const Simulation s0 = sim.run(recompute_schedule(p, base, start));
    const Candidates c = candidates_of(p, sim, s0, recomputable, start);
    std::vector<SegmentPlan> plans;
    if (c.order.size() < 2) return plans;
    const std::vector<std::size_t> frontier = frontier_bytes(c, sim);
    const auto total = static_cast<double>(c.prefix.back());
    std::vector<int> previous{-1};
    // Segment sizes from the whole forward pass down by √2 per plan, to a few nodes' worth.
    const double smallest = total / static_cast<double>(c.order.size()) * 2;
    for (double size = total; size >= smallest; size /= std::sqrt(2.0)) {
        std::vector<int> cuts = cuts_for(c, frontier, size);
        if (cuts == previous) continue;
        previous = cuts;
        // Two plans per set of cuts: the last segment recomputed, or kept as computed (its
        // values are read as soon as the backward pass starts, so recomputing it saves memory
        // only where the peak lies at that start; hand-placed segments keep it).
        for (const bool keep_last : {false, true}) {
            if (keep_last && cuts.empty()) continue;
            SegmentPlan plan;
            plan.chosen = start;
            plan.segments = cuts.size() + 1;
            for (std::size_t u = 0; u < c.order.size(); ++u) {
                if (keep_last && static_cast<int>(u) > cuts.back()) break;
                // Kept when a cut lies in [u, last reader): the value crosses it.
                const auto at = std::lower_bound(cuts.begin(), cuts.end(), static_cast<int>(u));
                const bool kept = at != cuts.end() && *at < c.last_reader[u];
                if (!kept) plan.chosen[static_cast<std::size_t>(c.order[u])] = 1;
            }
            const Schedule schedule = recompute_schedule(p, base, plan.chosen);
            plan.peak = sim.run(schedule).peak;
            plan.cost = repeat_cost(*p.graph, schedule);
            plans.push_back(std::move(plan));
        }
    }
    return plans;
}

}  // namespace gg::passes
