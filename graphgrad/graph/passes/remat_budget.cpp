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

namespace gg::passes {

namespace {

std::string mib(std::size_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

// What the lower pass measured, by node: output bytes (layout padding, kernel-sized
// workspaces) and kernel scratch.
struct Sizes {
    std::vector<std::vector<std::size_t>> outputs;
    std::vector<std::size_t> scratch;
};

Sizes measure(const Program& lowered) {
    const Graph& g = *lowered.graph;
    Sizes s;
    s.outputs.resize(static_cast<std::size_t>(g.num_nodes()));
    s.scratch.assign(static_cast<std::size_t>(g.num_nodes()), 0);
    for (int32_t id = 0; id < g.num_nodes(); ++id) {
        const Node& n = g.node(id);
        for (const TensorDesc& d : n.outputs) s.outputs[static_cast<std::size_t>(id)].push_back(d.bytes());
    }
    for (const ProgramStep& st : lowered.steps) {
        if (st.kind != StepKind::Compute) continue;
        const auto id = static_cast<std::size_t>(st.node);
        s.scratch[id] = std::max(s.scratch[id], st.kernel->scratch_bytes());
        for (std::size_t o = 0; o < st.outputs.size(); ++o)
            s.outputs[id][o] = lowered.values[static_cast<std::size_t>(st.outputs[o])].bytes;
    }
    return s;
}

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

    Simulation run(const Schedule& s) const {
        const auto n = static_cast<int>(s.size());
        const std::size_t nodes = static_cast<std::size_t>(g_.num_nodes());
        Simulation r;
        r.last_forward.assign(nodes, -1);
        r.first_backward.assign(nodes, n);
        r.original_end.assign(nodes, -1);
        r.defined.assign(nodes, n);
        r.slot_end.assign(first_.back(), -1);
        r.copy_defined.assign(nodes, n);
        r.copy_end.assign(nodes, -1);
        std::vector<int> def(first_.back(), -1), last(first_.back(), -1), copies(nodes, 0);
        std::vector<int64_t> delta(static_cast<std::size_t>(n) + 2, 0);
        auto close = [&](std::size_t k, int32_t node, int32_t slot) {  // a version of value k dies
            if (def[k] < 0) return;
            const int end = fetched_[k] ? n : last[k];
            const auto bytes = static_cast<int64_t>(sizes_.outputs[static_cast<std::size_t>(node)][static_cast<std::size_t>(slot)]);
            delta[static_cast<std::size_t>(def[k])] += bytes;
            delta[static_cast<std::size_t>(end) + 1] -= bytes;
        };
        for (int i = 0; i < n; ++i) {
            const Node& nd = g_.node(s[static_cast<std::size_t>(i)]);
            for (const Value& in : nd.inputs) {
                if (in.producer().op->is_source) continue;
                const std::size_t k = key(in.node, in.slot);
                last[k] = i;
                const auto src = static_cast<std::size_t>(in.node);
                if (copies[src] == 2) r.copy_end[src] = i;
                if (copies[src] == 1) {  // the first computation is read
                    r.slot_end[k] = i;
                    // A recomputed node runs in the backward pass: its reads are backward reads.
                    if (nd.is_gradient || copies[static_cast<std::size_t>(nd.id)] > 0)
                        r.first_backward[src] = std::min(r.first_backward[src], i);
                    else r.last_forward[src] = i;
                    r.original_end[src] = i;
                }
            }
            const auto id = static_cast<std::size_t>(nd.id);
            for (std::size_t o = 0; o < nd.outputs.size(); ++o) {
                const std::size_t k = key(nd.id, static_cast<int32_t>(o));
                close(k, nd.id, static_cast<int32_t>(o));
                def[k] = last[k] = i;
            }
            if (copies[id] == 1) r.copy_defined[id] = r.copy_end[id] = i;
            if (copies[id]++ == 0) r.defined[id] = r.original_end[id] = i;
            delta[static_cast<std::size_t>(i)] += static_cast<int64_t>(sizes_.scratch[id]);
            delta[static_cast<std::size_t>(i) + 1] -= static_cast<int64_t>(sizes_.scratch[id]);
        }
        for (int32_t id = 0; id < g_.num_nodes(); ++id)
            for (std::size_t o = 0; o < g_.node(id).outputs.size(); ++o) close(key(id, static_cast<int32_t>(o)), id, static_cast<int32_t>(o));
        int64_t live = 0;
        r.live.resize(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
            live += delta[static_cast<std::size_t>(i)];
            r.live[static_cast<std::size_t>(i)] = static_cast<std::size_t>(live);
            if (static_cast<std::size_t>(live) > r.peak) {
                r.peak = static_cast<std::size_t>(live);
                r.peak_pos = i;
            }
        }
        return r;
    }

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

double recompute_cost(const Node& n) {
    if (!n.op->cost_rule) return 1.0;
    const OpCost c = node_cost(n);
    return 2.0 * static_cast<double>(c.macs) + static_cast<double>(c.flops) +
           static_cast<double>(c.bytes_read + c.bytes_written) / 8.0 + 1.0;
}

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
            std::vector<char>& chosen, std::size_t target) {
    const Graph& g = *p.graph;
    constexpr std::size_t kTries = 8;        // candidates simulated per round, best score first
    constexpr std::size_t kSplitTries = 24;  // places a run of recomputed nodes may be cut
    // A bound on the search: each simulation is linear in the schedule, so about 5·10⁸ positions
    // simulated in all (seconds; an LSTM over 1000 steps has a 60,000-step schedule).
    std::size_t simulations = std::max<std::size_t>(2000, 500'000'000 / (base.size() + 1));
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

// "name" (op) 12.3 MiB, ... : the largest buffers alive at the arena's fullest step.
std::string what_fills(const Program& q) {
    const Graph& g = *q.graph;
    std::vector<std::string> label(q.requests.size());
    for (std::size_t v = 0; v < q.values.size(); ++v)
        if (const int r = q.value_request[v]; r >= 0) {
            const ProgramValue& val = q.values[v];
            const ProgramStep& st = q.steps[static_cast<std::size_t>(val.step)];
            const Node& n = g.node(val.node);
            label[static_cast<std::size_t>(r)] = fmt::format("\"{}\" ({}{}{})", n.name, n.op->name,
                                                             st.kind == StepKind::Conversion ? ", layout copy" : "",
                                                             st.copy ? ", recomputed" : "");
        }
    for (std::size_t s = 0; s < q.steps.size(); ++s)
        if (const int r = q.scratch_request[s]; r >= 0)
            label[static_cast<std::size_t>(r)] = fmt::format("scratch of \"{}\"", g.node(q.steps[s].node).name);
    const int steps = static_cast<int>(q.steps.size());
    std::vector<int64_t> delta(static_cast<std::size_t>(steps) + 1, 0);
    for (const PlanRequest& r : q.requests) {
        delta[static_cast<std::size_t>(r.first_step)] += static_cast<int64_t>(r.bytes);
        delta[static_cast<std::size_t>(r.pinned ? steps : r.last_step + 1)] -= static_cast<int64_t>(r.bytes);
    }
    int64_t live = 0, best = -1;
    int at = 0;
    for (int i = 0; i < steps; ++i)
        if ((live += delta[static_cast<std::size_t>(i)]) > best) best = live, at = i;
    std::vector<std::size_t> alive;
    for (std::size_t r = 0; r < q.requests.size(); ++r)
        if (q.requests[r].first_step <= at && (q.requests[r].pinned || q.requests[r].last_step >= at)) alive.push_back(r);
    std::sort(alive.begin(), alive.end(), [&](std::size_t a, std::size_t b) { return q.requests[a].bytes > q.requests[b].bytes; });
    std::string out = fmt::format("at step {} ({} \"{}\") {} are alive; the largest:", at,
                                  g.node(q.steps[static_cast<std::size_t>(at)].node).op->name,
                                  g.node(q.steps[static_cast<std::size_t>(at)].node).name, mib(static_cast<std::size_t>(best)));
    for (std::size_t i = 0; i < std::min<std::size_t>(alive.size(), 5); ++i)
        out += fmt::format("{} {} {}", i ? "," : "", label[alive[i]], mib(q.requests[alive[i]].bytes));
    return out;
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
    // The simulation counts no fragmentation or conversions: aim it below the budget by the
    // ratio the real plan showed, and tighten after every real plan that misses.
    double target = static_cast<double>(budget);
    bool reachable = true;
    while (q.plan.arena_bytes > budget && reachable && attempts < 10) {
        const std::size_t simulated = sim.run(recompute_schedule(p, base, chosen)).peak;
        target = std::min(target - 1.0, static_cast<double>(simulated) * static_cast<double>(budget) /
                                            static_cast<double>(q.plan.arena_bytes));
        if (target < 1.0) break;
        reachable = choose(p, sim, base, recomputable, chosen, static_cast<std::size_t>(target));
        q = lower_and_plan(p, recompute_schedule(p, base, chosen), "budget");
        q_chosen = chosen;
        ++attempts;
    }
    // The greedy is path dependent: aiming low from the start can reach arenas that aiming at
    // the budget got stuck above. Before giving up, search once more from scratch for the
    // smallest arena; it fits at a higher compute cost, or it is the minimum the error names.
    if (q.plan.arena_bytes > budget) {
        chosen = start;
        choose(p, sim, base, recomputable, chosen, 1);
        Program low = lower_and_plan(p, recompute_schedule(p, base, chosen), "budget");
        ++attempts;
        if (low.plan.arena_bytes < q.plan.arena_bytes) {
            q = std::move(low);
            q_chosen = chosen;
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
                        q.report.remat.recomputed.size(), mib(unconstrained), what_fills(q)),
            q.plan.arena_bytes);
    return q;
}

}  // namespace gg::passes
