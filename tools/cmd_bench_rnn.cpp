// `graphgrad bench rnn`: one training step of a recurrent layer (fused op and graph code)
// against PyTorch in the same run; --grad-norms: ‖∂L/∂h_t‖ over the steps of a tanh RNN and an
// LSTM, printed and plotted; --memory: the training peak against the sequence length, planned
// and measured. graphgrad/bench/bench_rnn.h measures; this file parses, prints and plots.
//
//   graphgrad bench rnn --cell lstm --input 64 --hidden 256 --seq 100 --batch 32
//   graphgrad bench rnn --grad-norms --plot grad_norms.png
//   graphgrad bench rnn --memory --seqs 50,100,200,500,1000
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/bench/bench_rnn.h"
#include "graphgrad/train/report_format.h"

namespace gg::cli {
namespace {

namespace fs = std::filesystem;
using train::human_bytes;

struct RnnCliOptions {
    bench::RnnBenchOptions speed;
    bench::RnnMemoryOptions memory;
    std::string cell = "lstm";
    bool grad_norms = false, run_memory = false, no_pytorch = false, json = false;
    std::string plot = "rnn_grad_norms.png", pytorch_script;
    std::string env = "best";  // best: graphgrad re-run under each environment; current: this process
};

RnnCell parse_cell(const std::string& s) {
    if (s == "lstm") return RnnCell::Lstm;
    if (s == "gru") return RnnCell::Gru;
    if (s == "rnn" || s == "rnn_tanh") return RnnCell::RnnTanh;
    if (s == "rnn_relu") return RnnCell::RnnRelu;
    throw UsageError(fmt::format("--cell {}: expected lstm, gru, rnn (tanh) or rnn_relu", s));
}

// tools/compare/rnn_step.py of the source tree this program was built in (build/bin/graphgrad).
std::string default_pytorch_script() {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return {};
    const fs::path script = exe.parent_path().parent_path().parent_path() / "tools/compare/rnn_step.py";
    return fs::exists(script) ? script.string() : std::string();
}

void print_speed(const nlohmann::json& r) {
    const auto& o = r["options"];
    fmt::print("one training step: {} layer, input {}, hidden {}, {} steps, batch {}, linear to {} classes with "
               "cross-entropy at every step, Adam\n",
               o["cell"].get<std::string>(), o["input"].get<int>(), o["hidden"].get<int>(), o["seq"].get<int>(),
               o["batch"].get<int>(), o["classes"].get<int>());
    const auto& m = r["machine"];
    fmt::print("{:.2f} GFLOP per step (2 per multiply-add; recurrent {:.2f}, decoder {:.2f}); machine peak {:.0f} GFLOP/s "
               "({}), oneDNN sgemm {:.0f} GFLOP/s; load {}\n\n",
               r["flops"]["total"].get<double>() / 1e9, r["flops"]["recurrent"].get<double>() / 1e9,
               r["flops"]["decoder"].get<double>() / 1e9, m["fma_gflops"].get<double>(),
               m["fma_method"].get<std::string>(), m["sgemm_gflops"].get<double>(), r["loadavg"].get<std::string>());
    const nlohmann::json& pt = r["pytorch"];
    const bool have_torch = pt.is_object() && pt.contains("step_ms");
    fmt::print("{:<12} {:>10} {:>9} {:>9} {:>10} {:>8} {:>12}\n", "", "ms/step", "GFLOP/s", "of peak", "/ PyTorch", "target",
               "train peak");
    for (const auto& row : r["implementations"]) {
        fmt::print("{:<12} {:>10.1f} {:>9.1f} {:>8.1f}% {:>10} {:>8} {:>12}  {}\n", row["implementation"].get<std::string>(),
                   row["step_ms"].get<double>(), row["gflops"].get<double>(), 100 * row["peak_fraction"].get<double>(),
                   have_torch ? fmt::format("{:.2f}x", row["ratio"].get<double>()) : std::string("-"),
                   fmt::format("{}{:.1f}x", have_torch ? (row["meets_target"].get<bool>() ? "ok " : "MISS ") : "",
                               row["target_ratio"].get<double>()),
                   human_bytes(row["train_peak_bytes"].get<std::size_t>()),
                   row.contains("environment") ? "(" + row["environment"].get<std::string>() + ")" : std::string());
        if (row.contains("profile")) {
            int shown = 0;
            for (const auto& p : row["profile"]) {
                if (shown++ == 8) break;
                fmt::print("    {:<36} {:>8.2f} ms  ({} steps)\n", p["op"].get<std::string>(), p["ms"].get<double>(),
                           p["steps"].get<int>());
            }
        }
    }
    if (have_torch)
        fmt::print("{:<12} {:>10.1f} {:>9.1f} {:>8.1f}%   (torch {}, best environment: {})\n", "PyTorch",
                   pt["step_ms"].get<double>(), pt["gflops"].get<double>(), 100 * pt["peak_fraction"].get<double>(),
                   pt["torch"].get<std::string>(), pt["best_environment"].get<std::string>());
    else
        fmt::print("PyTorch: not measured ({})\n",
                   pt.is_object() && pt.contains("error") ? pt["error"].dump() : std::string("--no-pytorch or no script"));
}

void plot_grad_norms(const nlohmann::json& r, const std::string& png) {
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fmt::print(stderr, "graphgrad: --plot: gnuplot is not installed (apt-get install gnuplot-nox); skipping\n");
        return;
    }
    const fs::path dir = fs::temp_directory_path() / fmt::format("gg_rnn_plot_{}", getpid());
    fs::create_directories(dir);
    {
        std::ofstream data(dir / "norms.dat");
        const auto& cells = r["cells"];
        const std::size_t T = cells[0]["norms"].size();
        for (std::size_t t = 0; t < T; ++t) {
            data << t + 1;
            for (const auto& c : cells) data << ' ' << c["norms"][t].get<double>();
            data << '\n';
        }
        std::ofstream gp(dir / "plot.gp");
        gp << "set terminal pngcairo size 900,560\nset output '" << png << "'\n"
           << "set title 'Vanishing gradient: loss on the last step only (T = " << T << ")'\n"
           << "set xlabel 'step t'\nset ylabel '||dL/dh_t||'\nset logscale y\nset format y '10^{%L}'\nset grid\n"
           << "set key top left\nplot ";
        for (std::size_t c = 0; c < cells.size(); ++c)
            gp << (c ? ", " : "") << "'" << (dir / "norms.dat").string() << "' using 1:" << c + 2 << " with linespoints pt 7 ps 0.5 title '"
               << cells[c]["cell"].get<std::string>() << "' noenhanced";
        gp << "\n";
    }
    const int status = std::system(fmt::format("gnuplot '{}' 2>&1", (dir / "plot.gp").string()).c_str());
    fs::remove_all(dir);
    if (status != 0) throw std::runtime_error(fmt::format("--plot: gnuplot failed (status {})", status));
    fmt::print(stderr, "graphgrad: wrote {}\n", png);
}

void print_grad_norms(const nlohmann::json& r) {
    fmt::print("||dL/dh_t|| ({}; hidden {}, batch {})\n{:>5}", r["loss"].get<std::string>(),
               r["options"]["hidden"].get<int>(), r["options"]["batch"].get<int>(), "t");
    for (const auto& c : r["cells"]) fmt::print(" {:>12}", c["cell"].get<std::string>());
    fmt::print("\n");
    const std::size_t T = r["cells"][0]["norms"].size();
    for (std::size_t t = 0; t < T; ++t) {
        fmt::print("{:>5}", t + 1);
        for (const auto& c : r["cells"]) fmt::print(" {:>12.4e}", c["norms"][t].get<double>());
        fmt::print("\n");
    }
    for (const auto& c : r["cells"])
        fmt::print("{}: ||dL/dh_1|| / ||dL/dh_T|| = {:.3e}\n", c["cell"].get<std::string>(),
                   c["first_over_last"].get<double>());
}

void print_memory(const nlohmann::json& r) {
    fmt::print("training peak of one {} layer step (hidden {}, batch {}): planned = arena (workspace included) + feeds; "
               "RSS = what running the step adds in a child process\n",
               r["options"]["cell"].get<std::string>(), r["options"]["hidden"].get<int>(), r["options"]["batch"].get<int>());
    fmt::print("{:>6} | {:>10} {:>10} {:>10} {:>6} | {:>10} {:>10} {:>6} | {:>10}\n", "T", "fused plan", "workspace",
               "RSS", "ratio", "graph plan", "RSS", "ratio", "PyTorch");
    auto rss = [](const nlohmann::json& v) { return v.is_number() ? human_bytes(v.get<std::size_t>()) : std::string("-"); };
    auto ratio = [](const nlohmann::json& v) {
        return v.contains("rss_over_plan") ? fmt::format("{:.2f}", v["rss_over_plan"].get<double>()) : std::string("-");
    };
    for (const auto& row : r["rows"]) {
        const auto &f = row["fused"], &g = row["graph_code"];
        fmt::print("{:>6} | {:>10} {:>10} {:>10} {:>6} | {:>10} {:>10} {:>6} | {:>10}\n", row["seq"].get<int>(),
                   human_bytes(f["planned_bytes"].get<std::size_t>()), human_bytes(f["workspace_bytes"].get<std::size_t>()),
                   rss(f["rss_bytes"]), ratio(f), human_bytes(g["planned_bytes"].get<std::size_t>()), rss(g["rss_bytes"]),
                   ratio(g), rss(row["pytorch_step_rss_bytes"]));
        for (const auto* v : {&f, &g})
            if (v->contains("skipped")) fmt::print("       (not run: {})\n", (*v)["skipped"].dump());
    }
}

int run_rnn(RnnCliOptions& o) {
    const RnnCell cell = parse_cell(o.cell);
    auto& s = o.speed;
    if (s.input < 1 || s.hidden < 1 || s.seq < 1 || s.batch < 1 || s.classes < 1 || s.repeats < 1)
        throw UsageError("--input, --hidden, --seq, --batch, --classes and --repeats must be positive");
    std::string script = o.no_pytorch ? std::string() : (o.pytorch_script.empty() ? default_pytorch_script() : o.pytorch_script);
    if (!script.empty() && !fs::exists(script)) throw UsageError(fmt::format("--pytorch-script {}: no such file", script));
    nlohmann::json result;
    if (o.grad_norms) {
        result = bench::bench_rnn_grad_norms({.input = s.input, .hidden = s.hidden, .seq = s.seq, .batch = s.batch});
        if (!o.json) print_grad_norms(result);
        if (!o.plot.empty()) plot_grad_norms(result, o.plot);
    } else if (o.run_memory) {
        auto& m = o.memory;
        m.cell = cell;
        m.input = s.input, m.hidden = s.hidden, m.batch = s.batch, m.classes = s.classes;
        m.pytorch_script = script;
        for (int64_t t : m.seqs)
            if (t < 1) throw UsageError("--seqs must be positive");
        result = bench::bench_rnn_memory(m);
        if (!o.json) print_memory(result);
    } else {
        s.cell = cell;
        s.pytorch_script = script;
        if (o.env == "current") {
            result = bench::bench_rnn_speed(s);
        } else if (o.env == "best") {
            std::vector<std::string> self{fs::read_symlink("/proc/self/exe").string(), "bench", "rnn", "--env", "current",
                                          "--no-pytorch", "--json", "--cell", o.cell};
            for (const auto& [flag, v] : {std::pair{"--input", s.input}, {"--hidden", s.hidden}, {"--seq", s.seq},
                                          {"--batch", s.batch}, {"--classes", s.classes},
                                          {"--repeats", static_cast<int64_t>(s.repeats)}}) {
                self.push_back(flag);
                self.push_back(std::to_string(v));
            }
            if (s.profile) self.push_back("--profile");
            result = bench::bench_rnn_speed_environments(s, self);
        } else {
            throw UsageError(fmt::format("--env {}: expected best or current", o.env));
        }
        if (!o.json) print_speed(result);
    }
    if (o.json) print_json(result);
    return 0;
}

}  // namespace

Command add_bench_rnn_command(CLI::App& bench) {
    auto o = std::make_shared<RnnCliOptions>();
    auto& s = o->speed;
    CLI::App* sub = bench.add_subcommand(
        "rnn", "One training step of a recurrent layer, fused op and graph code, against PyTorch; --grad-norms; --memory");
    sub->add_option("--cell", o->cell, "lstm, gru, rnn (tanh) or rnn_relu")->capture_default_str();
    sub->add_option("--input", s.input, "Input features I")->capture_default_str();
    sub->add_option("--hidden", s.hidden, "Hidden size H")->capture_default_str();
    sub->add_option("--seq", s.seq, "Sequence length T")->capture_default_str();
    sub->add_option("--batch", s.batch, "Batch N")->capture_default_str();
    sub->add_option("--classes", s.classes, "Decoder classes")->capture_default_str();
    sub->add_option("--repeats", s.repeats, "Timed steps per implementation (median)")->capture_default_str();
    sub->add_flag("--profile", s.profile, "Time per op type (where a step goes; mean ms per step)");
    sub->add_option("--env", o->env, "best: measure graphgrad in child processes under the plain, hugetlb and passive-OpenMP "
                                     "environments PyTorch is tried in, each implementation in its fastest; current: in "
                                     "this process as it runs")
        ->capture_default_str();
    sub->add_flag("--no-pytorch", o->no_pytorch, "Do not run PyTorch's step");
    sub->add_option("--pytorch-script", o->pytorch_script, "PyTorch's side (default: tools/compare/rnn_step.py of "
                                                           "this build's source tree)");
    sub->add_flag("--grad-norms", o->grad_norms, "||dL/dh_t|| for every step of a tanh RNN and an LSTM, loss on the last step");
    sub->add_option("--plot", o->plot, "--grad-norms: the PNG to plot to with gnuplot (empty: none)")->capture_default_str();
    sub->add_flag("--memory", o->run_memory, "Training peak against T: planned (workspace included) and measured RSS");
    sub->add_option("--seqs", o->memory.seqs, "--memory: sequence lengths")->delimiter(',')->capture_default_str();
    sub->add_flag("--plan-only", o->memory.plan_only, "--memory: plan only, run nothing");
    sub->add_option("--budget", o->memory.budget_fraction, "--memory: run only steps needing at most this fraction of "
                                                           "MemAvailable")
        ->capture_default_str();
    sub->add_flag("--json", o->json, "Print JSON");
    return {sub, [o] { return run_rnn(*o); }};
}

}  // namespace gg::cli
