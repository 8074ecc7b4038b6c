// `graphgrad bench rnn`'s speed measurement: one training step of one recurrent layer for the
// fused op and the graph code, interleaved in one run, PyTorch's same step in its best
// environment, and the machine's FMA peak measured in the same run (bench_rnn.h). The step
// programs are shared with the memory and gradient-norm measurements (bench_rnn_memory.cpp).
#include "graphgrad/bench/bench_rnn.h"

#include <omp.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "graphgrad/bench/child_process.h"
#include "graphgrad/bench/machine_peak.h"
#include "graphgrad/bench/op_profile.h"
#include "graphgrad/bench/rnn_step.h"
#include "graphgrad/bench/timing.h"
#include "graphgrad/graph/init.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/models/recurrent.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/optim/adam.h"

namespace gg::bench {

RnnStepProgram build_rnn_step(const RnnStepShape& s, bool fused) {
    RnnStepProgram p;
    p.graph = std::make_unique<Graph>(/*seed=*/1);
    Graph& g = *p.graph;
    p.x = g.input("x", {s.seq, s.batch, s.input});
    p.labels = g.input("labels", {s.seq * s.batch}, DType::I64);
    models::RecurrentOptions ro{.cell = s.cell, .hidden = s.hidden};
    ro.fused = fused;
    const models::RecurrentOutput r = models::recurrent(p.x, ro, "rnn");
    const Value logits = models::linear(reshape(r.y, {s.seq * s.batch, s.hidden}), s.classes, "decoder");
    p.loss = cross_entropy(logits, p.labels);
    p.params = g.parameters();
    p.fetches = {p.loss};
    for (const Value& d : grad(p.loss, p.params)) p.fetches.push_back(d);
    return p;
}

Feeds rnn_step_feeds(const RnnStepProgram& p, const RnnStepShape& s) {
    Tensor x(p.x.desc());
    init::uniform(-1.0, 1.0)(x, 11);
    std::vector<int64_t> labels(static_cast<std::size_t>(s.seq * s.batch));
    for (std::size_t i = 0; i < labels.size(); ++i)
        labels[i] = static_cast<int64_t>(uniform01(3, 1, i) * static_cast<double>(s.classes)) % s.classes;
    return {{p.x, x}, {p.labels, Tensor::from_vector<int64_t>(labels, {s.seq * s.batch})}};
}

RnnStepShape step_shape(const RnnBenchOptions& o) {
    return {.cell = o.cell, .input = o.input, .hidden = o.hidden, .seq = o.seq, .batch = o.batch, .classes = o.classes};
}

RnnStepFlops rnn_step_flops(const RnnBenchOptions& o) {
    const double G = static_cast<double>(rnn_gate_count(o.cell));
    const double TN = static_cast<double>(o.seq * o.batch), H = static_cast<double>(o.hidden);
    const double recurrent_macs = TN * G * H * (static_cast<double>(o.input) + H);
    const double decoder_macs = TN * H * static_cast<double>(o.classes);
    return {.recurrent = 2 * 3 * recurrent_macs, .decoder = 2 * 3 * decoder_macs};
}

namespace {

// One implementation's step: the compiled program and Adam on its parameters.
struct Trainer {
    RnnStepProgram p;
    std::unique_ptr<optim::Adam> opt;
    CompiledGraph step;
    Feeds feeds;
    std::vector<double> ms;

    Trainer(const RnnStepShape& s, bool fused)
        : p(build_rnn_step(s, fused)),
          opt(std::make_unique<optim::Adam>(*p.graph, p.params, optim::AdamOptions{.lr = 1e-3})),
          step(compile(*p.graph, p.fetches, {.training = true})),
          feeds(rnn_step_feeds(p, s)) {}

    void run() {
        const std::vector<Tensor> out = step.run(feeds);
        opt->step({out.begin() + 1, out.end()});
    }
};

// Every kernel the step runs: op, "fast"/"reference"/"loops", what implements it, how often.
nlohmann::json kernels_used(const CompiledGraph& cg) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& k : cg.compile_report().lower.kernels)
        out.push_back({{"op", k.op}, {"kind", k.kind}, {"implementation", k.impl}, {"steps", k.steps}});
    return out;
}

// PyTorch's speed on this kind of VM depends several times over on the allocator and on
// libgomp's spinning (tools/compare/common.sh): both frameworks are tried under these.
const std::vector<std::pair<std::string, std::vector<std::string>>>& bench_environments() {
    static const std::vector<std::pair<std::string, std::vector<std::string>>> envs{
        {"plain", {}},
        {"hugetlb", {"GLIBC_TUNABLES=glibc.malloc.hugetlb=1"}},
        {"passive", {"GLIBC_TUNABLES=glibc.malloc.hugetlb=1", "OMP_WAIT_POLICY=PASSIVE"}}};
    return envs;
}

// One PyTorch measurement under one environment: its JSON, or {"error"}.
nlohmann::json pytorch_in(const RnnBenchOptions& o, const std::string& script, const std::vector<std::string>& env) {
    try {
        return nlohmann::json::parse(run_program({"/usr/bin/python3", script, "--cell", rnn_cell_name(o.cell), "--input",
                                                  std::to_string(o.input), "--hidden", std::to_string(o.hidden), "--seq",
                                                  std::to_string(o.seq), "--batch", std::to_string(o.batch), "--classes",
                                                  std::to_string(o.classes), "--repeats", std::to_string(o.repeats),
                                                  "--threads", std::to_string(omp_get_max_threads())},
                                                 env));
    } catch (const std::exception& e) {
        return {{"error", e.what()}};
    }
}

// The fastest of PyTorch's runs by environment.
nlohmann::json best_pytorch(const nlohmann::json& envs) {
    std::string best;
    for (const auto& [name, r] : envs.items())
        if (r.contains("step_ms") && (best.empty() || r["step_ms"].get<double>() < envs[best]["step_ms"].get<double>()))
            best = name;
    if (best.empty()) return {{"error", envs.begin()->at("error")}, {"environments", envs}};
    return {{"step_ms", envs[best]["step_ms"]}, {"best_environment", best}, {"torch", envs[best]["torch"]},
            {"environments", envs}};
}

}  // namespace

nlohmann::json pytorch_rnn_step(const RnnBenchOptions& o, const std::string& script) {
    nlohmann::json envs = nlohmann::json::object();
    for (const auto& [name, env] : bench_environments()) envs[name] = pytorch_in(o, script, env);
    return best_pytorch(envs);
}

namespace {

// Ratios to PyTorch and its GFLOP/s, where PyTorch was measured.
void add_pytorch(nlohmann::json& result, nlohmann::json pytorch) {
    if (pytorch.is_object() && pytorch.contains("step_ms")) {
        const double ms = pytorch["step_ms"].get<double>();
        pytorch["gflops"] = result["flops"]["total"].get<double>() / (ms * 1e6);
        pytorch["peak_fraction"] = pytorch["gflops"].get<double>() / result["machine"]["fma_gflops"].get<double>();
        for (auto& row : result["implementations"]) {
            row["ratio"] = row["step_ms"].get<double>() / ms;
            row["meets_target"] = row["ratio"].get<double>() <= row["target_ratio"].get<double>();
        }
    }
    result["pytorch"] = std::move(pytorch);
}

}  // namespace

nlohmann::json bench_rnn_speed_environments(const RnnBenchOptions& o, const std::vector<std::string>& self) {
    // Environment by environment, graphgrad and then PyTorch: load from other users of the
    // machine then hits both alike.
    nlohmann::json runs = nlohmann::json::object(), torch_runs = nlohmann::json::object(), best;
    for (const auto& [name, env] : bench_environments()) {
        if (!o.pytorch_script.empty()) torch_runs[name] = pytorch_in(o, o.pytorch_script, env);
        try {
            runs[name] = nlohmann::json::parse(run_program(self, env));
        } catch (const std::exception& e) {
            runs[name] = {{"error", e.what()}};
            continue;
        }
        if (best.is_null()) {
            best = runs[name];
            for (auto& row : best["implementations"]) row["environment"] = name;
            continue;
        }
        // Each implementation in its own fastest environment; the machine's peak is the highest seen.
        for (std::size_t i = 0; i < best["implementations"].size(); ++i) {
            const nlohmann::json& row = runs[name]["implementations"][i];
            if (row["step_ms"].get<double>() < best["implementations"][i]["step_ms"].get<double>()) {
                best["implementations"][i] = row;
                best["implementations"][i]["environment"] = name;
            }
        }
        if (runs[name]["machine"]["fma_gflops"].get<double>() > best["machine"]["fma_gflops"].get<double>())
            best["machine"] = runs[name]["machine"];
    }
    if (best.is_null()) throw std::runtime_error(fmt::format("bench rnn: no environment ran: {}", runs.dump()));
    const double fma = best["machine"]["fma_gflops"].get<double>();
    for (auto& row : best["implementations"]) row["peak_fraction"] = row["gflops"].get<double>() / fma;
    best["environments"] = runs;
    add_pytorch(best, o.pytorch_script.empty() ? nlohmann::json() : best_pytorch(torch_runs));
    return best;
}

nlohmann::json bench_rnn_speed(const RnnBenchOptions& o) {
    const RnnStepShape s = step_shape(o);
    const RnnStepFlops flops = rnn_step_flops(o);
    nlohmann::json pytorch = nullptr;
    if (!o.pytorch_script.empty()) pytorch = pytorch_rnn_step(o, o.pytorch_script);  // before our threads spin
    const nlohmann::json peak = machine_peak();

    std::vector<std::pair<std::string, std::unique_ptr<Trainer>>> impls;
    if (o.fused) impls.emplace_back("fused", std::make_unique<Trainer>(s, true));
    if (o.graph) impls.emplace_back("graph code", std::make_unique<Trainer>(s, false));
    for (auto& [name, t] : impls)
        for (int w = 0; w < 2; ++w) t->run();  // first touch of the arena and of library code
    for (auto& [name, t] : impls) t->step.set_profiling(o.profile);
    for (int r = 0; r < o.repeats; ++r)  // interleaved: load on the shared machine hits both alike
        for (auto& [name, t] : impls) t->ms.push_back(time_ns([&] { t->run(); }) / 1e6);

    const double fma = peak["fma_gflops"].get<double>();
    nlohmann::json rows = nlohmann::json::array();
    for (auto& [name, t] : impls) {
        const double ms = median(t->ms);
        const double gflops = flops.total() / (ms * 1e6);
        nlohmann::json row = {{"implementation", name},
                              {"step_ms", ms},
                              {"step_ms_min", *std::min_element(t->ms.begin(), t->ms.end())},
                              {"gflops", gflops},
                              {"peak_fraction", gflops / fma},
                              {"target_ratio", name == "fused" ? 0.4 : 0.7},
                              {"train_peak_bytes", t->step.peak_bytes()},
                              {"workspace_bytes", t->step.compile_report().plan.workspace_bytes},
                              {"steps", t->step.num_steps()},
                              {"kernels", kernels_used(t->step)}};
        if (o.profile) row["profile"] = op_profile(*t->p.graph, t->step, o.repeats);
        rows.push_back(row);
    }
    nlohmann::json result = {{"options",
             {{"cell", rnn_cell_name(o.cell)}, {"input", o.input}, {"hidden", o.hidden}, {"seq", o.seq},
              {"batch", o.batch}, {"classes", o.classes}, {"repeats", o.repeats}}},
            {"flops", {{"recurrent", flops.recurrent}, {"decoder", flops.decoder}, {"total", flops.total()}}},
            {"machine", peak},
            {"loadavg", loadavg()},
            {"implementations", rows}};
    add_pytorch(result, std::move(pytorch));
    return result;
}

}  // namespace gg::bench
