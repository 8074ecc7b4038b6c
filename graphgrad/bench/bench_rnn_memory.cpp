// `graphgrad bench rnn --memory` and `--grad-norms` (bench_rnn.h).
//
// Memory: the planner's figure is the training program's arena (every activation, gradient,
// scratch and the fused layer's workspace) plus the fed tensors, which live outside it. The
// measured figure is what running the step raises a forked child's anonymous RSS by, over the
// child's start (graph and parameters, shared with the parent, are already resident then).
//
// Gradient norms: the total derivative ∂L/∂h_t needs h_t as a value of its own. The layer runs
// as T one-step chunks sharing one set of weights, each chunk's initial state the previous
// one's final state (no cut: the gradient flows through), so grad(loss, {h_1 … h_T}) is the
// adjoint of every state — exactly what backpropagation through time carries backwards.
#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "graphgrad/bench/bench_rnn.h"
#include "graphgrad/bench/child_process.h"
#include "graphgrad/bench/rnn_step.h"
#include "graphgrad/graph/init.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/models/recurrent.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/train/report_format.h"

namespace gg::bench {

namespace {

nlohmann::json grad_norms_of(RnnCell cell, const RnnGradNormOptions& o) {
    constexpr int64_t kClasses = 96;
    Graph g(o.seed);
    const Value x = g.input("x", {o.seq, o.batch, o.input});
    const Value labels = g.input("labels", {o.batch}, DType::I64);
    std::map<std::string, Value> weights;  // by name without the chunk's scope: shared by every step
    models::RecurrentOptions ro{.cell = cell, .hidden = o.hidden};
    ro.params = [&](const std::string& name, const Shape& shape, const Initializer& init) {
        const std::string key = name.substr(name.find('.') + 1);
        auto it = weights.find(key);
        if (it == weights.end()) it = weights.emplace(key, g.parameter("rnn." + key, shape, init)).first;
        return it->second;
    };
    const std::vector<Value> xs = split(x, 0, std::vector<int64_t>(static_cast<std::size_t>(o.seq), 1));
    models::RecurrentState state;
    std::vector<Value> hs;
    for (int64_t t = 0; t < o.seq; ++t) {
        const models::RecurrentOutput r = models::recurrent(xs[static_cast<std::size_t>(t)], ro, fmt::format("t{}", t), state);
        state = r.final;
        hs.push_back(*state.h);
    }
    // The loss reads the last state only: how much of it reaches h_t is what BPTT carries back.
    const Value logits = models::linear(reshape(hs.back(), {o.batch, o.hidden}), kClasses, "decoder");
    const Value loss = cross_entropy(logits, labels);
    std::vector<Value> fetches{loss};
    for (const Value& d : grad(loss, hs)) fetches.push_back(d);
    CompiledGraph step = compile(g, fetches, {.training = true});
    Tensor xv(x.desc());
    init::uniform(-1.0, 1.0)(xv, o.seed + 1);
    std::vector<int64_t> lv(static_cast<std::size_t>(o.batch));
    for (std::size_t i = 0; i < lv.size(); ++i)
        lv[i] = static_cast<int64_t>(uniform01(o.seed, 2, i) * kClasses) % kClasses;
    const std::vector<Tensor> out = step.run({{x, xv}, {labels, Tensor::from_vector<int64_t>(lv, {o.batch})}});
    nlohmann::json norms = nlohmann::json::array();
    for (std::size_t t = 1; t < out.size(); ++t) {
        double s = 0;
        for (int64_t i = 0; i < out[t].numel(); ++i) s += out[t].get(i) * out[t].get(i);
        norms.push_back(std::sqrt(s));
    }
    const double last = norms.back().get<double>(), first = norms.front().get<double>();
    return {{"cell", rnn_cell_name(cell)}, {"loss", out[0].get(0)}, {"norms", norms},
            {"first_over_last", last > 0 ? first / last : 0.0}};
}

// In the child: compile for real, one warm-up step, then two measured ones.
nlohmann::json measure_step(const RnnStepProgram& p, const RnnStepShape& s) {
    reset_peak_rss();
    const std::size_t anon_base_kib = status_kib("RssAnon:");
    CompiledGraph step = compile(*p.graph, p.fetches, {.training = true});
    const Feeds feeds = rnn_step_feeds(p, s);
    step.run(feeds);
    reset_peak_rss();
    for (int r = 0; r < 2; ++r) step.run(feeds);
    const std::size_t peak_kib = status_kib("VmHWM:");
    // File-backed pages (library code first run after the fork) are no tensors; they stop
    // growing after the warm-up step and are subtracted exactly.
    const std::size_t mapped_kib = status_kib("RssFile:") + status_kib("RssShmem:");
    const std::size_t anon_peak_kib = peak_kib - std::min(peak_kib, mapped_kib);
    return {{"rss_bytes", (anon_peak_kib - std::min(anon_peak_kib, anon_base_kib)) * 1024}};
}

nlohmann::json pytorch_step_rss(const RnnMemoryOptions& o, int64_t seq) {
    try {
        // Plain environment: glibc's huge-page tunable rounds RSS up to 2 MiB pages.
        const std::string out = run_program({"/usr/bin/python3", o.pytorch_script, "--cell", rnn_cell_name(o.cell),
                                             "--input", std::to_string(o.input), "--hidden", std::to_string(o.hidden),
                                             "--seq", std::to_string(seq), "--batch", std::to_string(o.batch),
                                             "--classes", std::to_string(o.classes), "--repeats", "2", "--warmup", "1"});
        return nlohmann::json::parse(out)["step_rss_bytes"];
    } catch (const std::exception& e) {
        return {{"error", e.what()}};
    }
}

}  // namespace

nlohmann::json bench_rnn_grad_norms(const RnnGradNormOptions& o) {
    nlohmann::json cells = nlohmann::json::array();
    for (RnnCell c : {RnnCell::RnnTanh, RnnCell::Lstm}) cells.push_back(grad_norms_of(c, o));
    return {{"loss", "cross-entropy of a linear decoder (96 classes) on the last step's state only"},
            {"options", {{"input", o.input}, {"hidden", o.hidden}, {"seq", o.seq}, {"batch", o.batch}, {"seed", o.seed}}},
            {"cells", cells}};
}

nlohmann::json bench_rnn_memory(const RnnMemoryOptions& o) {
    nlohmann::json rows = nlohmann::json::array();
    for (int64_t seq : o.seqs) {
        const RnnStepShape s{.cell = o.cell, .input = o.input, .hidden = o.hidden, .seq = seq, .batch = o.batch,
                             .classes = o.classes};
        nlohmann::json row = {{"seq", seq}};
        for (const bool fused : {true, false}) {
            const RnnStepProgram p = build_rnn_step(s, fused);
            const CompiledGraph plan = compile(*p.graph, p.fetches, {.training = true, .allocate = false});
            const std::size_t feeds = p.x.desc().bytes() + p.labels.desc().bytes();
            nlohmann::json r = {{"train_peak_bytes", plan.peak_bytes()},
                                {"workspace_bytes", plan.compile_report().plan.workspace_bytes},
                                {"feed_bytes", feeds},
                                {"planned_bytes", plan.peak_bytes() + feeds},
                                {"rss_bytes", nullptr}};
            const std::size_t budget = static_cast<std::size_t>(
                o.budget_fraction * static_cast<double>(meminfo_kib("MemAvailable:") * 1024));
            if (o.plan_only) {
                r["skipped"] = "--plan-only";
            } else if (plan.peak_bytes() + feeds > budget) {
                r["skipped"] = fmt::format("needs {} > budget {}", train::human_bytes(plan.peak_bytes() + feeds),
                                           train::human_bytes(budget));
            } else {
                const nlohmann::json m = in_child([&] { return measure_step(p, s); });
                if (m.contains("error")) {
                    r["skipped"] = m["error"];
                } else {
                    r["rss_bytes"] = m["rss_bytes"];
                    const double ratio = m["rss_bytes"].get<double>() / static_cast<double>(plan.peak_bytes() + feeds);
                    r["rss_over_plan"] = ratio;
                    r["within_15_percent"] = std::abs(ratio - 1.0) <= 0.15;
                }
            }
            row[fused ? "fused" : "graph_code"] = r;
        }
        row["pytorch_step_rss_bytes"] = o.pytorch_script.empty() || o.plan_only ? nlohmann::json() : pytorch_step_rss(o, seq);
        rows.push_back(row);
    }
    return {{"options",
             {{"cell", rnn_cell_name(o.cell)}, {"input", o.input}, {"hidden", o.hidden}, {"batch", o.batch},
              {"classes", o.classes}}},
            {"rows", rows}};
}

}  // namespace gg::bench
