// `graphgrad bench remat`: memory against step time with recomputation, on ResNet-110 and an
// LSTM unrolled over 1000 steps (graphgrad/bench/bench_remat.h): no checkpointing, √n segments,
// and memory budgets from 100% of the training peak down to the smallest reachable one.
//
//   graphgrad bench remat --plot remat.png
//   graphgrad bench remat --workloads lstm --lstm-hidden 64 --json
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <unistd.h>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/bench/bench_remat.h"

namespace gg::cli {
namespace {

struct RematCliOptions {
    RematBenchOptions bench;
    std::string plot;
    bool json = false;
};

void print_table(const nlohmann::json& r) {
    for (const auto& w : r["workloads"]) {
        fmt::print("\n{} (chain of {}; unconstrained training peak {}, smallest reachable budget {})\n",
                   w["description"].get<std::string>(), w["chain_length"].get<int64_t>(),
                   human_bytes(w["unconstrained_bytes"].get<std::size_t>()), human_bytes(w["minimum_bytes"].get<std::size_t>()));
        fmt::print("{:<26} {:>11} {:>7} {:>11} {:>11} {:>7} {:>10} {:>7} {:>10} {:>16}\n", "config", "planned", "of peak",
                   "+ program", "RSS", "vs plan", "min ms", "time", "recomputed", "extra MACs");
        for (const auto& p : w["points"])
            fmt::print("{:<26} {:>11} {:>6.1f}% {:>11} {:>11} {:>+6.1f}% {:>10.1f} {:>6.2f}x {:>10} {:>16}\n", p["config"].get<std::string>(),
                       human_bytes(p["planned_bytes"].get<std::size_t>()), 100 * p["peak_fraction"].get<double>(),
                       human_bytes(p["program_bytes"].get<std::size_t>()),
                       human_bytes(p["rss_bytes"].get<std::size_t>()), 100 * (p["rss_ratio"].get<double>() - 1),
                       p["ms_min"].get<double>(), p["time_ratio"].get<double>(), p["recomputed_nodes"].get<std::size_t>(),
                       with_commas(p["extra_macs"].get<int64_t>()));
        for (const auto& u : w["unreached"])
            fmt::print("{:<26} not reached by the budget search: {}\n", u["config"].get<std::string>(),
                       human_bytes(u["budget"].get<std::size_t>()));
        const auto& t = w["targets"];
        fmt::print("targets: at <= 25% of the peak {} (<= {:.2f}x: {}); budget at sqrt n's peak {:.2f}x vs sqrt n {:.2f}x ({}); "
                   "RSS within {:.1f}% of the plan, arena + program ({})\n",
                   t["quarter_peak_time_ratio"].is_null() ? std::string("unreachable")
                                                          : fmt::format("{:.2f}x", t["quarter_peak_time_ratio"].get<double>()),
                   kRematTimeTarget, t["quarter_peak_met"].get<bool>() ? "met" : "NOT met",
                   t["budget_at_sqrt_time_ratio"].is_null() ? 0.0 : t["budget_at_sqrt_time_ratio"].get<double>(),
                   t["sqrt_time_ratio"].get<double>(),
                   t["budget_beats_sqrt"].get<bool>() ? "lower: met" : "NOT lower", 100 * t["worst_rss_deviation"].get<double>(),
                   t["rss_met"].get<bool>() ? "met" : "NOT met");
    }
    fmt::print("\nload average {}\n", r["loadavg"].get<std::string>());
}

// Planned peak (MiB) against step time relative to no checkpointing, one panel per workload:
// the budget curve, √n segments and no checkpointing as single points, and the measured RSS.
void write_plot(const nlohmann::json& r, const std::string& png) {
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fmt::print(stderr, "graphgrad: --plot: gnuplot is not installed (apt-get install gnuplot-nox); skipping the plot\n");
        return;
    }
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / fmt::format("gg_remat_plot_{}", getpid());
    fs::create_directories(dir);
    const std::size_t panels = r["workloads"].size();
    std::ofstream gp(dir / "plot.gp");
    gp << "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) { set terminal pngcairo size " << 600 * panels
       << ",500 } else { set terminal png size " << 600 * panels << ",500 }\n"
       << "set output '" << png << "'\nset grid\nset key top right\n"
       << "set offsets 0, graph 0.25, graph 0.1, 0\n"  // room for the point labels at the right
       << "set xlabel 'step time / no checkpointing'\nset ylabel 'MiB'\n"
       << "set multiplot layout 1," << panels << "\n";
    for (std::size_t i = 0; i < panels; ++i) {
        const auto& w = r["workloads"][i];
        const fs::path budget = dir / fmt::format("budget{}.dat", i), other = dir / fmt::format("other{}.dat", i);
        std::ofstream b(budget), o(other);
        for (const auto& p : w["points"]) {
            const double mib = 1024.0 * 1024.0;
            std::ofstream& f = p["budget"].is_null() ? o : b;
            f << p["time_ratio"].get<double>() << ' ' << p["planned_bytes"].get<double>() / mib << ' '
              << p["rss_bytes"].get<double>() / mib << " \"" << p["config"].get<std::string>() << "\"\n";
        }
        b.close();
        o.close();
        // Budget points sorted by planned memory: the line reads as the trade-off curve.
        gp << "set title '" << w["description"].get<std::string>() << "' noenhanced\n"
           << "plot '< sort -g -k2 " << budget.string() << "' using 1:2 with linespoints lw 2 pt 7 title 'memory budget (planned)', "
           << "'' using 1:3 with points pt 6 title 'memory budget (RSS)', '" << other.string()
           << "' using 1:2:4 with labels point pt 5 offset 1,1 left notitle noenhanced, "
           << "'' using 1:2 with points pt 5 lc rgb 'black' title 'no checkpointing / sqrt n segments'\n";
    }
    gp << "unset multiplot\n";
    gp.close();
    const int status = std::system(fmt::format("gnuplot '{}' 2>&1", (dir / "plot.gp").string()).c_str());
    fs::remove_all(dir);
    if (status != 0) throw std::runtime_error(fmt::format("--plot: gnuplot failed (status {})", status));
    fmt::print(stderr, "graphgrad: wrote {}\n", png);
}

int run_remat(const RematCliOptions& o) {
    const nlohmann::json r =
        bench_remat(o.bench, o.json ? std::function<void(const std::string&)>{} : [](const std::string& line) {
            fmt::print(stderr, "{}\n", line);
        });
    if (o.json) print_json(r);
    else print_table(r);
    if (!o.plot.empty()) write_plot(r, o.plot);
    return 0;
}

}  // namespace

Command add_bench_remat_command(CLI::App& bench) {
    auto o = std::make_shared<RematCliOptions>();
    CLI::App* sub = bench.add_subcommand(
        "remat", "Memory vs step time with recomputation: ResNet-110 and an LSTM over 1000 steps; no checkpointing, "
                 "sqrt(n) segments, memory budgets down to the minimum");
    RematBenchOptions& b = o->bench;
    sub->add_option("--workloads", b.workloads, "resnet, lstm")->delimiter(',')->capture_default_str();
    sub->add_option("--resnet-depth", b.resnet_depth, "ResNet depth (6n+2)")->capture_default_str();
    sub->add_option("--resnet-batch", b.resnet_batch, "ResNet batch")->capture_default_str();
    sub->add_option("--lstm-steps", b.lstm_steps, "LSTM sequence length T")->capture_default_str();
    sub->add_option("--lstm-batch", b.lstm_batch, "LSTM batch")->capture_default_str();
    sub->add_option("--lstm-hidden", b.lstm_hidden, "LSTM hidden size")->capture_default_str();
    sub->add_option("--lstm-input", b.lstm_input, "LSTM input size")->capture_default_str();
    sub->add_option("--fractions", b.fractions, "Budgets as fractions of the unconstrained peak")
        ->delimiter(',')
        ->capture_default_str();
    sub->add_option("--repeats", b.repeats, "Timed steps per point (median)")->capture_default_str();
    sub->add_option("--plot", o->plot, "Also plot memory vs step time to this PNG with gnuplot");
    sub->add_flag("--json", o->json, "Print JSON");
    return {sub, [o] {
                if (o->bench.resnet_depth < 8 || (o->bench.resnet_depth - 2) % 6 != 0)
                    throw UsageError("--resnet-depth must be 6n + 2");
                return run_remat(*o);
            }};
}

}  // namespace gg::cli
