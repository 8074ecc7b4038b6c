// `graphgrad bench lambda-vs-attention`: the LambdaNetworks memory argument measured on this
// framework. At equal width d, for square maps s×s, a 3×3 conv (baseline), multi-head
// self-attention, the global lambda layer and the lambda convolution: parameters, forward
// multiply-adds, forward+backward time, planned inference and training peaks, measured RSS,
// and the paper's dominant tensors against the planner's buffers for them (tools/
// bench_lambda.{h,cpp} measures; this file parses, prints, writes CSV and plots).
//
//   graphgrad bench lambda-vs-attention --sizes 8,16,32 --batch 8
//   graphgrad bench lambda-vs-attention --plan-only --sizes 64 --batch 128 --heads 8
//   graphgrad bench lambda-vs-attention --plot memory.png --csv memory.csv
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "graphgrad/bench/bench_lambda.h"
#include "cli_common.h"

namespace gg::cli {
namespace {

struct LambdaCliOptions {
    LambdaBenchOptions bench;
    bool json = false;
    std::string csv, plot;
};

std::string macs_str(int64_t v) {
    const double d = static_cast<double>(v);
    if (d >= 1e9) return fmt::format("{:.2f} G", d / 1e9);
    if (d >= 1e6) return fmt::format("{:.1f} M", d / 1e6);
    return with_commas(v);
}

std::string bytes_or_dash(const nlohmann::json& j) { return j.is_number() ? human_bytes(j.get<std::size_t>()) : "—"; }

void print_table(const nlohmann::json& result, const LambdaBenchOptions& o) {
    fmt::print("lambda layers vs self-attention, d={} (in = out channels), batch {}, attention {} heads; lambda k={} "
               "heads {} (global: u=1, relative positions; conv: u={}, r={}){}\n\n",
               o.dim, o.batch, o.heads, o.k, o.lambda_heads, o.conv_u, o.r,
               o.plan_only ? "; plan only (nothing allocated or run)" : fmt::format("; median of {} runs", o.repeats));
    fmt::print("{:<6} {:<12} {:>10} {:>10} {:>10} {:>6} {:>10} {:>10} {:>10} {:>6} {:>10} {:>10} {:>6}\n", "size",
               "layer", "params", "fwd MACs", "f+b ms", "×conv", "infer pk", "train pk", "RSS", "÷plan", "paper", "planned",
               "ratio");
    std::vector<std::string> notes;
    for (const nlohmann::json& r : result["rows"]) {
        const std::string size = fmt::format("{}x{}", r["size"].get<int64_t>(), r["size"].get<int64_t>());
        const bool has_paper = r["paper_bytes"].get<std::size_t>() > 0;
        fmt::print("{:<6} {:<12} {:>10} {:>10} {:>10} {:>6} {:>10} {:>10} {:>10} {:>6} {:>10} {:>10} {:>6}\n", size,
                   r["layer"].get<std::string>(), with_commas(r["params"].get<int64_t>()),
                   macs_str(r["macs"].get<int64_t>()),
                   r["ms"].is_number() ? fmt::format("{:.2f}", r["ms"].get<double>()) : "—",
                   r["time_vs_conv"].is_number() ? fmt::format("{:.1f}", r["time_vs_conv"].get<double>()) : "—",
                   human_bytes(r["inference_peak_bytes"].get<std::size_t>()),
                   human_bytes(r["train_peak_bytes"].get<std::size_t>()), bytes_or_dash(r["rss_bytes"]),
                   r.contains("rss_ratio") ? fmt::format("{:.2f}", r["rss_ratio"].get<double>()) : "—",
                   has_paper ? human_bytes(r["paper_bytes"].get<std::size_t>()) : "—",
                   has_paper ? human_bytes(r["planned_dominant_bytes"].get<std::size_t>()) : "—",
                   has_paper ? fmt::format("{:.2f}", r["dominant_ratio"].get<double>()) : "—");
        if (r.contains("skipped") && !o.plan_only)
            notes.push_back(fmt::format("{} {}: not run: {}", size, r["layer"].get<std::string>(),
                                        r["skipped"].get<std::string>()));
        if (r["params"] != r["params_graph"])
            notes.push_back(fmt::format("{} {}: the graph has {} trainable parameters, the formula says {}", size,
                                        r["layer"].get<std::string>(), with_commas(r["params_graph"].get<int64_t>()),
                                        with_commas(r["params"].get<int64_t>())));
        if (!r["reference_kernel_ops"].empty())
            notes.push_back(fmt::format("{} {}: plain-loop (reference) kernels for {}", size,
                                        r["layer"].get<std::string>(), r["reference_kernel_ops"].dump()));
    }
    for (const std::string& n : notes) fmt::print("  note: {}\n", n);
    if (!o.plan_only)
        fmt::print("\nload average {} before, {} after: on a shared 2-core machine other load stretches OpenMP "
                   "barriers, so compare times within one run (×conv) and see ms_min in --json\n",
                   result.value("loadavg_before", ""), result.value("loadavg_after", ""));
    fmt::print("\nparams and fwd MACs: analytic (tools/bench_lambda.cpp); f+b ms: one run() of forward + the gradients of "
               "<y, dy> for x and every parameter; ×conv: against the 3x3 conv at the same size, this run.\n"
               "infer pk / train pk: the planner's arena for y alone / for the training program. RSS: peak increase of "
               "anonymous memory (RSS less mapped library code) over the timed steps of a forked child that compiled "
               "and ran the training program (--json rss_total_bytes: all of VmHWM, code and first step included); "
               "÷plan: RSS / (train pk + the fed x and dy), 1 ± 0.15 is the target.\n"
               "paper: the tensors of the paper's space complexity — attention maps b·h·n·m·4 B; lambda E "
               "(k·n·m·u) + λp (b·n·k·v); lambda conv λp (b·n·k·v) — planned: the planner's buffers holding them "
               "(forward copies included); ratio = planned / paper.\n");
    const nlohmann::json* last = nullptr;  // the largest attention row: the paper's quadratic term
    for (const nlohmann::json& r : result["rows"])
        if (r["layer"] == "attention" && (!last || r["size"].get<int64_t>() > (*last)["size"].get<int64_t>())) last = &r;
    if (last) {
        const nlohmann::json& d = (*last)["dominant"][0];
        const int64_t s = (*last)["size"].get<int64_t>();
        // The paper (§1): 8-head attention on a batch of 128 images of 64x64 needs 64 GiB for
        // its maps; this line states the planner's figure next to the formula's, in one unit.
        const auto paper = static_cast<double>(d["paper_bytes"].get<std::size_t>());
        const char* units[] = {"B", "KiB", "MiB", "GiB"};
        int u = 0;
        double scale = 1;
        while (u < 3 && paper >= scale * 1024) scale *= 1024, ++u;
        fmt::print("\nattention maps at b={}, h={}, {}x{}: {:.1f} {} (paper: {:.3g} {})\n", o.batch, o.heads, s, s,
                   static_cast<double>(d["planned_bytes"].get<std::size_t>()) / scale, units[u], paper / scale, units[u]);
    }
}

void write_csv(const nlohmann::json& result, const std::string& path) {
    std::ofstream f(path);
    if (!f) throw UsageError("--csv: cannot write " + path);
    f << "layer,size,n,batch,params,macs,ms,time_vs_conv,inference_peak_bytes,train_peak_bytes,rss_bytes,rss_ratio,"
         "paper_bytes,planned_dominant_bytes,dominant_ratio,skipped\n";
    auto num = [](const nlohmann::json& j) { return j.is_number() ? j.dump() : std::string(); };
    for (const nlohmann::json& r : result["rows"]) {
        std::string skipped = r.value("skipped", "");
        for (char& c : skipped)
            if (c == ',' || c == '"') c = ';';  // one plain field, no quoting needed
        f << r["layer"].get<std::string>() << ',' << r["size"] << ',' << r["n"] << ',' << r["batch"] << ','
          << r["params"] << ',' << r["macs"] << ',' << num(r["ms"]) << ',' << num(r["time_vs_conv"]) << ','
          << r["inference_peak_bytes"] << ',' << r["train_peak_bytes"] << ',' << num(r["rss_bytes"]) << ','
          << num(r.value("rss_ratio", nlohmann::json())) << ',' << r["paper_bytes"] << ','
          << r["planned_dominant_bytes"] << ',' << r["dominant_ratio"] << ',' << skipped << '\n';
    }
}

// Memory against resolution, log-log, one colour per layer: the planner's training peak
// (solid) and the paper's dominant tensors (dashed). gnuplot-nox reads a temporary data file
// and script; nothing here links a plotting library.
void write_plot(const nlohmann::json& result, const std::string& png) {
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fmt::print(stderr, "graphgrad: --plot: gnuplot is not installed (apt-get install gnuplot-nox); skipping the "
                           "plot\n");
        return;
    }
    namespace fs = std::filesystem;
    const auto& layers = lambda_bench_layers();
    const fs::path dir = fs::temp_directory_path() / fmt::format("gg_lambda_plot_{}", getpid());
    fs::create_directories(dir);
    {
        // One line per size: size, then per layer (train peak, paper bytes) in MiB; NaN = none.
        std::ofstream data(dir / "memory.dat");
        std::map<int64_t, std::map<std::string, const nlohmann::json*>> by_size;
        for (const nlohmann::json& r : result["rows"]) by_size[r["size"].get<int64_t>()][r["layer"]] = &r;
        for (const auto& [s, rows] : by_size) {
            data << s;
            for (const char* l : layers) {
                auto it = rows.find(l);
                const double mib = 1024.0 * 1024.0;
                double peak = NAN, paper = NAN;
                if (it != rows.end()) {
                    peak = static_cast<double>((*it->second)["train_peak_bytes"].get<std::size_t>()) / mib;
                    const auto p = (*it->second)["paper_bytes"].get<std::size_t>();
                    if (p > 0) paper = static_cast<double>(p) / mib;
                }
                data << ' ' << peak << ' ' << paper;
            }
            data << '\n';
        }
    }
    {
        const nlohmann::json& o = result["options"];
        std::ofstream gp(dir / "plot.gp");
        gp << "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) { set terminal pngcairo size 1000,650 } "
              "else { set terminal png size 1000,650 }\n"
           << "set output '" << png << "'\n"
           << "set logscale xy 2\nset grid\nset key top left\n"
           << "set xlabel 'feature map side s (n = s^2 positions)'\nset ylabel 'MiB'\n"
           << fmt::format("set title 'Memory vs resolution: batch {}, d = {} (solid: planned training peak; dashed: "
                          "paper dominant tensors)'\n",
                          o["batch"].get<int64_t>(), o["dim"].get<int64_t>())
           << "set datafile missing 'nan'\n"
           << "plot ";
        for (std::size_t i = 0; i < layers.size(); ++i) {
            const std::size_t col = 2 + 2 * i;
            gp << (i ? ", " : "") << fmt::format("'{}' using 1:{} with linespoints lw 2 lc {} title '{} training peak' noenhanced",
                                                 (dir / "memory.dat").string(), col, i + 1, layers[i]);
            if (std::string(layers[i]) != "conv3x3")
                gp << fmt::format(", '' using 1:{} with linespoints dt 2 lc {} title '{} paper tensors' noenhanced", col + 1, i + 1,
                                  layers[i]);
        }
        gp << "\n";
    }
    const std::string cmd = fmt::format("gnuplot '{}' 2>&1", (dir / "plot.gp").string());
    const int status = std::system(cmd.c_str());
    fs::remove_all(dir);
    if (status != 0) throw std::runtime_error(fmt::format("--plot: gnuplot failed (status {})", status));
    fmt::print(stderr, "graphgrad: wrote {}\n", png);
}

int run_lambda(LambdaCliOptions& o) {
    LambdaBenchOptions& b = o.bench;
    if (b.sizes.empty()) throw UsageError("--sizes needs at least one size");
    for (int64_t s : b.sizes)
        if (s < 1) throw UsageError("--sizes must be positive");
    if (b.batch < 1 || b.dim < 1 || b.heads < 1 || b.k < 1 || b.lambda_heads < 1 || b.conv_u < 1 || b.repeats < 1)
        throw UsageError("--batch, --dim, --heads, --k, --lambda-heads, --conv-u and --repeats must be positive");
    if (b.dim % b.heads != 0 || b.dim % b.lambda_heads != 0)
        throw UsageError(fmt::format("--dim {} must be divisible by --heads {} and --lambda-heads {}", b.dim, b.heads,
                                     b.lambda_heads));
    if (b.r < 1 || b.r % 2 == 0) throw UsageError("--r must be odd and positive (the lambda convolution's context)");
    if (b.budget_fraction <= 0 || b.budget_fraction > 1) throw UsageError("--budget must be in (0, 1]");

    const nlohmann::json result = bench_lambda(b);
    if (o.json)
        print_json(result);
    else
        print_table(result, b);
    if (!o.csv.empty()) write_csv(result, o.csv);
    if (!o.plot.empty()) write_plot(result, o.plot);
    return 0;
}

}  // namespace

Command add_bench_lambda_command(CLI::App& bench) {
    auto o = std::make_shared<LambdaCliOptions>();
    LambdaBenchOptions& b = o->bench;
    CLI::App* sub = bench.add_subcommand(
        "lambda-vs-attention",
        "3x3 conv vs self-attention vs lambda layer vs lambda convolution: params, MACs, time, planned and measured "
        "memory against resolution");
    sub->add_option("--sizes", b.sizes, "Feature map sides s (s x s), comma separated")->delimiter(',')->capture_default_str();
    sub->add_option("--batch", b.batch, "Batch size b")->capture_default_str();
    sub->add_option("--dim", b.dim, "Width d: input = output channels of every layer")->capture_default_str();
    sub->add_option("--heads", b.heads, "Self-attention heads h")->capture_default_str();
    sub->add_option("--k", b.k, "Lambda query/key depth |k|")->capture_default_str();
    sub->add_option("--lambda-heads", b.lambda_heads, "Lambda heads |h|")->capture_default_str();
    sub->add_option("--r", b.r, "Lambda convolution context r (odd)")->capture_default_str();
    sub->add_option("--conv-u", b.conv_u, "Lambda convolution intra-depth |u| (global layer: 1)")->capture_default_str();
    sub->add_option("--repeats", b.repeats, "Timed runs per layer and size (median)")->capture_default_str();
    sub->add_option("--budget", b.budget_fraction, "Run only training programs needing at most this fraction of "
                                                   "MemAvailable")
        ->capture_default_str();
    sub->add_flag("--plan-only", b.plan_only, "Build, differentiate and plan only: no allocation, no runs (any size)");
    sub->add_flag("--json", o->json, "Print JSON");
    sub->add_option("--csv", o->csv, "Also write the table as CSV to this file");
    sub->add_option("--plot", o->plot, "Also plot memory vs resolution (log-log) to this PNG with gnuplot");
    return {sub, [o] { return run_lambda(*o); }};
}

}  // namespace gg::cli
