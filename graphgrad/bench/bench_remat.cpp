#include "graphgrad/bench/bench_remat.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "graphgrad/bench/child_process.h"
#include "graphgrad/bench/timing.h"
#include "graphgrad/graph/autodiff.h"
#include "graphgrad/graph/checkpoint.h"
#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/models/recurrent.h"
#include "graphgrad/ops/dnn/context.h"
#include "graphgrad/ops/ops.h"

namespace gg {

namespace {

// A training step: its graph, what it fetches (loss and every parameter gradient), its feeds.
struct Workload {
    std::unique_ptr<Graph> graph = std::make_unique<Graph>(7);
    std::vector<Value> fetches;
    Feeds feeds;
};

Tensor seeded_uniform(const Shape& shape, uint64_t stream) {
    Tensor t(TensorDesc{shape, DType::F32});
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(2 * uniform01(1, stream, static_cast<uint64_t>(i)) - 1);
    return t;
}

void finish(Workload& w, Value loss) {
    w.fetches = {loss};
    for (const Value& d : grad(loss, w.graph->parameters())) w.fetches.push_back(d);
}

// CIFAR ResNet (models/resnet.cpp's layers) with its 3·n BasicBlocks as the chain that
// checkpoint_sequential splits: the stem and the classifier stay outside.
Workload build_resnet(const RematBenchOptions& o, int segments) {
    Workload w;
    Graph& g = *w.graph;
    const int64_t B = o.resnet_batch, per_stage = (o.resnet_depth - 2) / 6;
    Value x = g.input("x", {B, 1, o.image, o.image});
    Value labels = g.input("labels", {B}, DType::I64);
    Value h = batch_norm(models::conv(x, 16, 3, 1, 1, "conv1", 1, false), "bn1", {.relu = true});
    std::vector<Block> blocks;
    for (int64_t stage = 0; stage < 3; ++stage)
        for (int64_t b = 0; b < per_stage; ++b) {
            const int64_t channels = 16 << stage, stride = (stage > 0 && b == 0) ? 2 : 1;
            const std::string name = fmt::format("layer{}.{}", stage + 1, b);
            blocks.push_back([=](Value v) { return models::basic_block(v, channels, stride, name); });
        }
    h = checkpoint_sequential(blocks, segments, h);
    Value loss = cross_entropy(models::linear(models::flatten(global_avg_pool2d(h)), 10, "fc"), labels);
    finish(w, loss);
    Tensor lb(TensorDesc{{B}, DType::I64});
    for (int64_t i = 0; i < B; ++i) lb.data<int64_t>()[i] = i % 10;
    w.feeds = {{x, seeded_uniform(x.shape(), 1)}, {labels, lb}};
    return w;
}

Workload build_lstm(const RematBenchOptions& o, int segments) {
    Workload w;
    Graph& g = *w.graph;
    const int64_t T = o.lstm_steps, N = o.lstm_batch;
    Value x = g.input("x", {T, N, o.lstm_input});
    Value target = g.input("target", {T, N, o.lstm_hidden});
    models::RecurrentOptions ro{.cell = RnnCell::Lstm, .hidden = o.lstm_hidden};
    ro.checkpoint_segments = segments;
    // The input projection in √T chunks at every point (the same arithmetic everywhere): one
    // [T·N, I] × [I, 4H] matmul would hold the projection of all T steps (twice, with its
    // per-step slices) at the start of the forward pass, a floor no recomputation can lower.
    ro.projection_chunks = std::lround(std::sqrt(static_cast<double>(T)));
    Value loss = mse(models::recurrent(x, ro, "lstm").y, target);
    finish(w, loss);
    w.feeds = {{x, seeded_uniform(x.shape(), 2)}, {target, seeded_uniform(target.shape(), 3)}};
    return w;
}

struct Spec {
    std::string name, description;
    int64_t n;  // chain length: blocks or time steps
    std::function<Workload(int segments)> build;
};

Spec spec_of(const std::string& name, const RematBenchOptions& o) {
    if (name == "resnet")
        return {"resnet", fmt::format("ResNet-{} on 1x{}x{}, batch {}", o.resnet_depth, o.image, o.image, o.resnet_batch),
                (o.resnet_depth - 2) / 2, [o](int k) { return build_resnet(o, k); }};
    if (name == "lstm")
        return {"lstm", fmt::format("LSTM T={}, batch {}, input {}, hidden {}", o.lstm_steps, o.lstm_batch, o.lstm_input,
                                    o.lstm_hidden),
                o.lstm_steps, [o](int k) { return build_lstm(o, k); }};
    throw OptionError(fmt::format("bench remat: unknown workload \"{}\" (resnet, lstm)", name));
}

// Planned peaks without a budget (1 and √n segments) and the smallest reachable budget, from
// plan-only compiles.
nlohmann::json plan_limits(const Spec& s, int sqrt_segments) {
    CompileOptions plan_only;
    plan_only.allocate = false;
    Workload w = s.build(1);
    nlohmann::json r;
    r["unconstrained_bytes"] = compile(*w.graph, w.fetches, plan_only).peak_bytes();
    CompileOptions tiny = plan_only;
    tiny.memory_budget = 1;
    try {
        compile(*w.graph, w.fetches, tiny);
        r["minimum_bytes"] = 1;
    } catch (const MemoryBudgetError& e) {
        r["minimum_bytes"] = e.minimum_bytes;
        r["minimum_message"] = e.what();
    }
    Workload ws = s.build(sqrt_segments);
    r["sqrt_bytes"] = compile(*ws.graph, ws.fetches, plan_only).peak_bytes();
    return r;
}

// The high-water mark less file-backed and shared pages (library code a child pages in as it
// first runs it): after a warm-up, the peak of anonymous memory since reset_peak_rss().
std::size_t anonymous_peak_rss_bytes() {
    const std::size_t peak = bench::status_kib("VmHWM:"), mapped = bench::status_kib("RssFile:") + bench::status_kib("RssShmem:");
    return (peak - std::min(peak, mapped)) * 1024;
}

// In the child. RSS: the peak of anonymous memory over two steady-state steps less
// the anonymous memory before compile() (graph, parameters, feeds, oneDNN's GEMM code): the
// arena, the program's steps and kernels, and anything a kernel allocates behind the planner's back. Library code paged in by the first run is
// file-backed and left out; the heap compile() freed (kernels of schedules the budget search
// discarded) is handed back to the system first (malloc_trim), as it is not the program's.
// (Step time is measured elsewhere: interleaved_times.)
nlohmann::json measure_point(const Spec& s, int segments, std::optional<std::size_t> budget) {
    Workload w = s.build(segments);
    // oneDNN's GEMM code (~8 MiB, generated once per process on first use) belongs to the
    // process, not to this program: generated before the baseline.
    dnn::warm_gemm_code();
    const std::size_t before = bench::status_kib("RssAnon:") * 1024;
    CompileOptions o;
    o.memory_budget = budget;
    const auto t0 = std::chrono::steady_clock::now();
    std::optional<CompiledGraph> compiled;
    try {
        compiled.emplace(compile(*w.graph, w.fetches, o));
    } catch (const MemoryBudgetError& e) {
        return {{"error", e.what()}, {"minimum_bytes", e.minimum_bytes}};
    }
    CompiledGraph& step = *compiled;
    const double compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    malloc_trim(0);
    step.run(w.feeds);  // warm-up: first touches of oneDNN's code and caches
    bench::reset_peak_rss();
    for (int r = 0; r < 2; ++r) step.run(w.feeds);
    const CompileReport::Remat& rm = step.compile_report().remat;
    const std::size_t peak = anonymous_peak_rss_bytes();
    return {{"planned_bytes", step.peak_bytes()},
            {"program_bytes", step.compile_report().bind.program_bytes},
            {"rss_bytes", peak - std::min(before, peak)},
            {"compile_ms", compile_ms},
            {"recomputed_nodes", rm.recomputed.size()},
            {"extra_macs", rm.extra_macs}};
}

struct Point {
    std::string config;
    int segments;
    std::optional<std::size_t> budget;
};

// In the child: every point's program compiled side by side and timed in turns (one step of
// each per round), so a shared machine's slow minutes fall on all of them alike. Measured one
// child after another, the same program's fastest step varied 115–221 ms between children.
nlohmann::json interleaved_times(const Spec& s, const std::vector<Point>& points, int repeats) {
    std::vector<Workload> works;
    std::vector<CompiledGraph> steps;
    for (const Point& p : points) {
        works.push_back(s.build(p.segments));
        CompileOptions o;
        o.memory_budget = p.budget;
        steps.push_back(compile(*works.back().graph, works.back().fetches, o));
        steps.back().run(works.back().feeds);  // warm-up
    }
    std::vector<std::vector<double>> ns(points.size());
    for (int r = 0; r < repeats; ++r)
        for (std::size_t i = 0; i < steps.size(); ++i)
            ns[i].push_back(bench::time_ns([&] { steps[i].run(works[i].feeds); }));
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : ns) out.push_back({{"ms", bench::median(t) / 1e6}, {"ms_min", *std::min_element(t.begin(), t.end()) / 1e6}});
    return out;
}

}  // namespace

nlohmann::json bench_remat(const RematBenchOptions& o, const std::function<void(const std::string&)>& progress) {
    if (o.repeats < 1) throw OptionError("bench remat: repeats must be at least 1");
    auto say = [&](const std::string& line) {
        if (progress) progress(line);
    };
    nlohmann::json out{{"repeats", o.repeats}, {"loadavg", bench::loadavg()}, {"workloads", nlohmann::json::array()}};
    for (const std::string& name : o.workloads) {
        const Spec s = spec_of(name, o);
        const int sqrt_k = std::max(2, static_cast<int>(std::lround(std::sqrt(static_cast<double>(s.n)))));
        const nlohmann::json limits = bench::in_child([&] { return plan_limits(s, sqrt_k); });
        if (limits.contains("error"))
            throw std::runtime_error(fmt::format("bench remat: {}: {}", s.description, limits["error"].get<std::string>()));
        const auto unconstrained = limits["unconstrained_bytes"].get<std::size_t>();
        const auto minimum = limits["minimum_bytes"].get<std::size_t>();
        say(fmt::format("{}: unconstrained peak {:.1f} MiB, smallest budget {:.1f} MiB, {} segments {:.1f} MiB", s.description,
                        static_cast<double>(unconstrained) / (1 << 20), static_cast<double>(minimum) / (1 << 20), sqrt_k,
                        limits["sqrt_bytes"].get<std::size_t>() / double(1 << 20)));
        std::vector<Point> points{{"none", 1, std::nullopt}, {fmt::format("{} segments (sqrt n)", sqrt_k), sqrt_k, std::nullopt}};
        for (double f : o.fractions) {
            const auto b = static_cast<std::size_t>(f * static_cast<double>(unconstrained));
            if (b >= minimum) points.push_back({fmt::format("budget {:.0f}%", 100 * f), 1, b});
        }
        points.push_back({"budget at sqrt n's peak", 1, limits["sqrt_bytes"].get<std::size_t>()});
        points.push_back({"budget minimum", 1, minimum});
        nlohmann::json rows = nlohmann::json::array(), unreached = nlohmann::json::array();
        std::vector<Point> reached;
        for (const Point& p : points) {
            // Memory in a child of its own: RSS is a process's high-water mark.
            nlohmann::json r = bench::in_child([&] { return measure_point(s, p.segments, p.budget); });
            r["config"] = p.config;
            r["segments"] = p.segments;
            r["budget"] = p.budget ? nlohmann::json(*p.budget) : nlohmann::json(nullptr);
            if (r.contains("error")) {  // no plan reached this budget: reported, not plotted
                say(fmt::format("  {:<24} not reached: {}", p.config, r["error"].get<std::string>().substr(0, 160)));
                unreached.push_back(std::move(r));
                continue;
            }
            const double planned = r["planned_bytes"].get<double>();
            r["peak_fraction"] = planned / static_cast<double>(unconstrained);
            // The plan is what compile() knows when it returns: the arena and the program's own
            // heap (steps, kernels; megabytes for an unrolled recurrence's 40,000 steps).
            const double program = r["program_bytes"].get<double>();
            r["rss_ratio"] = r["rss_bytes"].get<double>() / (planned + program);
            r["rss_vs_arena"] = r["rss_bytes"].get<double>() / planned;
            say(fmt::format("  {:<24} planned {:8.1f} MiB ({:5.1f}%) + program {:5.1f} MiB  RSS {:8.1f} MiB ({:+.1f}%)",
                            p.config, planned / (1 << 20), 100 * r["peak_fraction"].get<double>(), program / (1 << 20),
                            r["rss_bytes"].get<double>() / (1 << 20), 100 * (r["rss_ratio"].get<double>() - 1)));
            rows.push_back(std::move(r));
            reached.push_back(p);
        }
        // Time: all reached points in one child, in turns. Ratios use each point's fastest
        // step: on a shared machine other load only ever adds time (the median is kept).
        const nlohmann::json times = bench::in_child([&] {
            nlohmann::json t = interleaved_times(s, reached, o.repeats);
            return nlohmann::json{{"times", t}};
        });
        if (times.contains("error"))
            throw std::runtime_error(fmt::format("bench remat: {}: timing: {}", s.description, times["error"].get<std::string>()));
        for (std::size_t i = 0; i < rows.size(); ++i) {
            rows[i]["ms"] = times["times"][i]["ms"];
            rows[i]["ms_min"] = times["times"][i]["ms_min"];
            rows[i]["time_ratio"] = rows[i]["ms_min"].get<double>() / rows[0]["ms_min"].get<double>();
            say(fmt::format("  {:<24} {:8.1f} ms ({:.2f}x)", reached[i].config, rows[i]["ms_min"].get<double>(),
                            rows[i]["time_ratio"].get<double>()));
        }
        // Targets: the cheapest budget point at ≤ 25% of the unconstrained peak; the budget at
        // √n's peak against √n; RSS against the plan everywhere.
        nlohmann::json targets;
        std::optional<double> quarter;
        for (const auto& r : rows)
            if (!r["budget"].is_null() && r["peak_fraction"].get<double>() <= 0.25 + 1e-9)
                quarter = std::min(quarter.value_or(1e9), r["time_ratio"].get<double>());
        targets["quarter_peak_time_ratio"] = quarter ? nlohmann::json(*quarter) : nlohmann::json(nullptr);
        targets["quarter_peak_met"] = quarter && *quarter <= kRematTimeTarget;
        const nlohmann::json* at_sq = nullptr;
        for (const auto& r : rows)
            if (r["config"] == "budget at sqrt n's peak") at_sq = &r;
        const auto& sq = rows[1];
        targets["sqrt_time_ratio"] = sq["time_ratio"];
        targets["sqrt_extra_macs"] = sq["extra_macs"];
        targets["budget_at_sqrt_time_ratio"] = at_sq ? (*at_sq)["time_ratio"] : nlohmann::json(nullptr);
        targets["budget_at_sqrt_extra_macs"] = at_sq ? (*at_sq)["extra_macs"] : nlohmann::json(nullptr);
        targets["budget_beats_sqrt"] = at_sq && (*at_sq)["time_ratio"].get<double>() < sq["time_ratio"].get<double>();
        double worst = 0;
        for (const auto& r : rows) worst = std::max(worst, std::abs(r["rss_ratio"].get<double>() - 1));
        targets["worst_rss_deviation"] = worst;
        targets["rss_met"] = worst <= kRematRssTolerance;
        out["workloads"].push_back({{"name", s.name},
                                    {"description", s.description},
                                    {"chain_length", s.n},
                                    {"sqrt_segments", sqrt_k},
                                    {"unconstrained_bytes", unconstrained},
                                    {"minimum_bytes", minimum},
                                    {"minimum_message", limits.value("minimum_message", "")},
                                    {"points", rows},
                                    {"unreached", unreached},
                                    {"targets", targets}});
    }
    return out;
}

}  // namespace gg
