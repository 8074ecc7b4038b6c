// Compiling to a memory budget (CompileOptions::memory_budget): the compiler chooses forward
// values to recompute in the backward pass until the planned arena fits.
//
// The choice is greedy, in the spirit of DTR (Kirisame et al. 2021) applied ahead of time:
// simulate the schedule's live bytes (with the sizes and scratch the lower pass measured), find
// the peak step, and among the forward values idle there (their last forward reader is behind,
// their first backward reader ahead) recompute the ones with the smallest
//     cost / (bytes · idle span)
// first: cost is the node's compute (2·macs + flops, plus its bytes moved for data-movement
// ops), bytes what dropping it frees at the peak, and the idle span how many steps it stays
// freed, so one recomputation that lowers many steps' memory is preferred. Why greedy and not
// exact (Checkmate's ILP): the graphs here have thousands of nodes (ResNet-110's training step,
// an LSTM unrolled over 1000 steps), an ILP solver is not a dependency we have, and the greedy
// choice is within a few percent of the √n bound on chains; why this score and not XLA's
// "cheapest per byte at the peak": a value idle for the whole backward pass costs the same to
// recompute as one idle for two steps but frees memory at every step in between, so it is
// preferred. The simulation ignores fragmentation and layout conversions, so after choosing, the
// schedule is lowered and planned for real; when the real arena exceeds the budget the target
// shrinks by the ratio and the choice continues (a few rounds at most).
#include <algorithm>
#include <numeric>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/graph/passes/passes.h"
#include "graphgrad/graph/passes/remat.h"
#include "graphgrad/graph/passes/remat_simulation.h"

namespace gg::passes {

namespace {


// Recomputing v means reading its inputs again in the backward pass. An input that died in
// the forward pass (a residual block's add, read only by the ReLU after it; a batch norm's y
// read only by that add) would have to live on until then, which frees nothing: recomputing v
// alone never pays, and recomputing the input alone frees nothing at the peak either. So a move
// is v together with such inputs, transitively, up to values alive at the peak anyway (kept
// block outputs, statistics the backward reads) or already recomputed: dropping a residual
// block's output is one move, a segment boundary Chen et al. would place by hand.
std::vector<int32_t> move_of(const Program& p, const Simulator& sim, const Simulation& s, const std::vector<char>& recomputable,
                             const std::vector<char>& chosen, int32_t v) {
    constexpr std::size_t kLongest = 32;  // a bound on the walk: a few blocks' worth of nodes
    const Graph& g = *p.graph;
    std::vector<int32_t> move{v};
    for (std::size_t k = 0; k < move.size(); ++k)
        for (const Value& in : g.node(move[k]).inputs) {
            const auto u = static_cast<std::size_t>(in.node);
            if (in.producer().op->is_source || chosen[u] || sim.alive_at(s, in, s.peak_pos) ||
                std::find(move.begin(), move.end(), in.node) != move.end())
                continue;
            if (!recomputable[u] || move.size() == kLongest) return {v};  // cannot rebuild it: v alone
            move.push_back(in.node);
        }
    return move;
}

// Adds recomputations to `chosen` until the simulated peak is at most `target`; false when no
// idle value is left whose recomputation helps (the smallest this greedy reaches).
//
// Values go in (in batches far from the target, one at a time near it) only when the
// simulation says the excess over the target went down. This check matters: recomputing v also recomputes its chosen inputs right before
// it (recompute_schedule), so choosing a whole chain makes the backward pass rebuild the chain
// at once; the check turns the greedy away from such merges once they stop paying, which leaves
// kept values between recomputed runs, the segments Chen et al. place by hand.
bool choose(const Program& p, const Simulator& sim, const Schedule& base, const std::vector<char>& recomputable,
            std::vector<char>& chosen, std::size_t target, double positions) {
    const Graph& g = *p.graph;
    constexpr std::size_t kTries = 8;        // candidates simulated per round, best score first
    constexpr std::size_t kSplitTries = 24;  // places a run of recomputed nodes may be cut
    // A bound on the search: each simulation is linear in the schedule, so `positions`
    // simulated in all (5·10⁸: seconds for ResNet-110; an LSTM over 1000 steps has a
    // 60,000-step schedule, where it is minutes).
    std::size_t simulations = std::max<std::size_t>(2000, static_cast<std::size_t>(positions / static_cast<double>(base.size() + 1)));
    Simulation s = sim.run(recompute_schedule(p, base, chosen));
    // Phases: each aims a little below the current peak (1/16), never below the target, so the
    // excess stays about the peak; summed against a far target it would measure the area under
    // the whole memory curve, and the greedy would trade peak for area.
    auto phase_target = [&](const Simulation& at) {
        return std::max(target, at.peak - std::max<std::size_t>(at.peak / 16, 1));
    };
    std::size_t local = phase_target(s);
    double excess = s.excess(local);
    std::vector<char> rejected(chosen.size(), 0);
    bool accepted_since_clear = false;
    std::vector<char> kept(chosen.size(), 0);  // un-chosen to split a run: never chosen again
    std::size_t batch = 64;
    bool compound = false;  // moves of a value and its dead inputs (move_of), after single values
    for (;;) {
        if (excess <= 0) {
            if (s.peak <= target) return true;
            local = phase_target(s);
            excess = s.excess(local);
            std::fill(rejected.begin(), rejected.end(), 0);
            accepted_since_clear = false;
        }
        struct Candidate {
            double score;
            int32_t node;
            std::size_t bytes;
            std::vector<int32_t> move;  // the node and the dead inputs recomputed with it
        };
        std::vector<Candidate> cands;
        for (int32_t id : p.nodes) {
            const auto i = static_cast<std::size_t>(id);
            if (!recomputable[i] || chosen[i] || rejected[i] || kept[i]) continue;
            // Idle at the peak: the forward is done with it and the backward not yet started.
            if (!(s.defined[i] < s.peak_pos && s.last_forward[i] < s.peak_pos && s.peak_pos < s.first_backward[i] &&
                  s.original_end[i] >= s.peak_pos))
                continue;
            const std::size_t bytes = sim.idle_bytes(s, id, s.peak_pos);
            if (bytes == 0) continue;
            const double span = s.first_backward[i] - std::max(s.last_forward[i], s.defined[i]);
            std::vector<int32_t> move = compound ? move_of(p, sim, s, recomputable, chosen, id) : std::vector<int32_t>{id};
            double cost = 0;
            for (int32_t m : move) cost += recompute_cost(g.node(m));
            cands.push_back({cost / (static_cast<double>(bytes) * span), id, bytes, std::move(move)});
        }
        if (cands.empty()) {
            // No idle value left at the peak: it lies in the backward pass, where a run of
            // recomputed nodes is rebuilt at once. Keeping one of them (the largest alive there
            // first) splits the run, a checkpoint between two segments, and is taken when it
            // lowers the excess; a kept node is not chosen again.
            std::vector<std::pair<int, int32_t>> run;  // recomputed nodes alive at the peak, in order
            for (int32_t id : p.nodes) {
                const auto i = static_cast<std::size_t>(id);
                if (chosen[i] && !kept[i] && s.copy_defined[i] <= s.peak_pos && s.copy_end[i] >= s.peak_pos)
                    run.emplace_back(s.copy_defined[i], id);
            }
            std::sort(run.begin(), run.end());
            // The middle of the run first (it halves the run), then its quarters, eighths, ...
            std::vector<int32_t> splits;
            for (std::size_t parts = 2; splits.size() < kSplitTries && parts <= 2 * run.size(); parts *= 2)
                for (std::size_t k = 1; k < parts && splits.size() < kSplitTries; k += 2) {
                    const int32_t id = run[k * run.size() / parts].second;
                    if (std::find(splits.begin(), splits.end(), id) == splits.end()) splits.push_back(id);
                }
            // The split that lowers the excess most: where a run is cut decides how long the
            // two halves are, and the first improvement found is rarely the middle of the run.
            bool split = false;
            std::size_t best = 0;
            for (std::size_t c = 0; c < splits.size(); ++c) {
                if (simulations-- == 0) return false;
                const auto i = static_cast<std::size_t>(splits[c]);
                chosen[i] = 0;
                Simulation t = sim.run(recompute_schedule(p, base, chosen));
                if (const double e = t.excess(local); e < excess) {
                    s = std::move(t);
                    excess = e;
                    best = i;
                    split = true;
                }
                chosen[i] = 1;
            }
            if (split) {
                chosen[best] = 0;
                kept[best] = 1;
            }
            if (split) {
                std::fill(rejected.begin(), rejected.end(), 0);
                batch = 1;
                continue;
            }
            // Rejections hold until nothing is left; then once more with a clean slate, since
            // what was accepted since may have made an earlier rejection pay.
            // When single values are exhausted, moves start to take their dead inputs along
            // (move_of): only then, as dropping whole blocks early makes the backward pass
            // rebuild long runs, which the single-value greedy has already kept short.
            if (!accepted_since_clear && compound) return false;
            compound = true;
            std::fill(rejected.begin(), rejected.end(), 0);
            accepted_since_clear = false;
            continue;
        }
        std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
            return a.score != b.score ? a.score < b.score : a.node < b.node;
        });
        // Far from the target (an unrolled recurrence has thousands of idle values) the best
        // ones go in together, up to `batch` of them and no more than close the gap at the
        // peak, when that lowers the excess; the batch doubles while it does and halves when it
        // does not, down to one at a time.
        std::size_t take = 0;
        for (std::size_t freed = 0; take < std::min(batch, cands.size()) && freed < s.peak - local; ++take)
            freed += cands[take].bytes;
        if (take > 1) {
            const std::vector<char> before = chosen;
            for (std::size_t c = 0; c < take; ++c)
                for (int32_t m : cands[c].move) chosen[static_cast<std::size_t>(m)] = 1;
            if (simulations-- == 0) return false;
            Simulation t = sim.run(recompute_schedule(p, base, chosen));
            if (const double e = t.excess(local); e < excess) {
                s = std::move(t);
                excess = e;
                accepted_since_clear = true;
                batch *= 2;
                continue;
            }
            chosen = before;
            batch /= 2;
            continue;
        }
        const std::size_t tries = std::min(kTries, cands.size());
        bool accepted = false;
        for (std::size_t c = 0; c < tries && !accepted; ++c) {
            if (simulations-- == 0) return false;
            const auto i = static_cast<std::size_t>(cands[c].node);
            for (int32_t m : cands[c].move) chosen[static_cast<std::size_t>(m)] = 1;
            Simulation t = sim.run(recompute_schedule(p, base, chosen));
            const double e = t.excess(local);
            if (e < excess) {
                s = std::move(t);
                excess = e;
                accepted = true;
                accepted_since_clear = true;
            } else {
                for (int32_t m : cands[c].move) chosen[static_cast<std::size_t>(m)] = 0;
                rejected[i] = 1;
            }
        }
    }
}

Program lower_and_plan(const Program& scheduled, const Schedule& schedule, const char* mode) {
    Program q = scheduled_copy(scheduled);
    q.schedule = schedule;
    validate_schedule(q);
    report_recomputation(q, mode);
    return plan_memory(lower(std::move(q)));
}

}  // namespace

Program fit_memory_budget(Program p) {
    const std::size_t budget = *p.options.memory_budget;
    const Schedule base = p.schedule;
    const std::vector<char> recomputable = recomputable_nodes(p);
    const std::vector<char> start = p.options.checkpoints && p.graph->checkpoint_regions() > 0
                                        ? checkpointed_nodes(p, recomputable)
                                        : std::vector<char>(recomputable.size(), 0);
    std::vector<char> chosen = start;
    Program q = lower_and_plan(p, recompute_schedule(p, base, chosen), "budget");
    std::vector<char> q_chosen = chosen;  // what q recomputes
    const std::size_t unconstrained = q.plan.arena_bytes;
    std::size_t attempts = 1;
    const Sizes sizes = measure(q);
    const Simulator sim(p, sizes);
    // Segment plans (remat_segments.cpp), simulated once: where one fits the target at less
    // cost than the greedy's choice, or the greedy cannot reach the target, it is taken. With
    // them at hand the greedy gets a tenth of its search: it can only improve on their cost,
    // and an impossible budget would otherwise take minutes to refuse (an LSTM over 1000 steps).
    const std::vector<SegmentPlan> segments = segment_plans(p, sim, base, recomputable, start);
    const double positions = segments.empty() ? 5e8 : 5e7;
    auto segment_for = [&](double target) -> const SegmentPlan* {
        const SegmentPlan* best = nullptr;
        for (const SegmentPlan& sp : segments)
            if (static_cast<double>(sp.peak) <= target && (!best || sp.cost < best->cost)) best = &sp;
        return best;
    };
    // The simulation counts no fragmentation or conversions: aim it below the budget by the
    // ratio the real plan showed, and tighten after every real plan that misses.
    double target = static_cast<double>(budget);
    bool reachable = true;
    while (q.plan.arena_bytes > budget && reachable && attempts < 10) {
        const std::size_t simulated = sim.run(recompute_schedule(p, base, chosen)).peak;
        target = std::min(target - 1.0, static_cast<double>(simulated) * static_cast<double>(budget) /
                                            static_cast<double>(q.plan.arena_bytes));
        if (target < 1.0) break;
        const SegmentPlan* sp = segment_for(target);
        reachable = choose(p, sim, base, recomputable, chosen, static_cast<std::size_t>(target), positions);
        if (sp) {
            const Schedule greedy = recompute_schedule(p, base, chosen);
            if (!reachable || static_cast<double>(sim.run(greedy).peak) > target || sp->cost < repeat_cost(*p.graph, greedy))
                chosen = sp->chosen;
            reachable = true;
        }
        q = lower_and_plan(p, recompute_schedule(p, base, chosen), "budget");
        q_chosen = chosen;
        ++attempts;
    }
    // The greedy is path dependent: aiming low from the start can reach arenas that aiming at
    // the budget got stuck above. Before giving up, search once more from scratch for the
    // smallest arena, and try the segment plan of the smallest peak; either fits at a higher
    // compute cost, or the smaller is the minimum the error names.
    if (q.plan.arena_bytes > budget) {
        std::vector<std::vector<char>> tries;
        chosen = start;
        choose(p, sim, base, recomputable, chosen, 1, positions);
        tries.push_back(chosen);
        const auto lowest = std::min_element(segments.begin(), segments.end(),
                                             [](const SegmentPlan& a, const SegmentPlan& b) { return a.peak < b.peak; });
        if (lowest != segments.end()) tries.push_back(lowest->chosen);
        for (const std::vector<char>& t : tries) {
            Program low = lower_and_plan(p, recompute_schedule(p, base, t), "budget");
            ++attempts;
            if (low.plan.arena_bytes < q.plan.arena_bytes) {
                q = std::move(low);
                q_chosen = t;
            }
        }
    }
    if (attempts > 1 && q.plan.arena_bytes <= budget) {
        // Lowered again with every trial program gone: the kept program's kernels then fill the
        // heap the trials left, instead of lying among their freed pieces (7 MiB of resident
        // fragments for ResNet-110's training step, which the plan would not show).
        q = Program{};
        q = lower_and_plan(p, recompute_schedule(p, base, q_chosen), "budget");
    }
    q.report.remat.budget = budget;
    q.report.remat.unconstrained_bytes = unconstrained;
    q.report.remat.attempts = attempts;
    if (q.plan.arena_bytes > budget)
        throw MemoryBudgetError(
            fmt::format("compile: memory budget {} ({} bytes) cannot be met: the smallest arena reached is {} ({} "
                        "bytes), recomputing {} forward nodes (without recomputation: {}); {}",
                        mib(budget), budget, mib(q.plan.arena_bytes), q.plan.arena_bytes,
                        q.report.remat.recomputed.size(), mib(unconstrained), describe_peak(q)),
            q.plan.arena_bytes);
    return q;
}

}  // namespace gg::passes
