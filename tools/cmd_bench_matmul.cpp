// `graphgrad bench matmul`: the compiled graph's matmul forward and backward against a bare
// oneDNN matmul primitive on the same shapes in the same run (tools/bench_matmul.{h,cpp},
// written separately). This file parses options and prints bench_matmul()'s JSON as a
// table (or as is with --json). Issue 2's target: ratio ≥ 0.95.
#include <memory>
#include <utility>

#include <fmt/format.h>

#include "graphgrad/bench/bench_matmul.h"
#include "cli_common.h"

namespace gg::cli {
namespace {

constexpr double kTargetRatio = 0.95;

struct MatmulOptions {
    int64_t m = 1024, n = 1024, k = 1024;
    int repeats = 20;
    bool json = false;
};

int run_matmul(const MatmulOptions& o) {
    if (o.m < 1 || o.n < 1 || o.k < 1 || o.repeats < 1) throw UsageError("--m, --n, --k and --repeats must be positive");
    nlohmann::json result = bench_matmul(o.m, o.n, o.k, o.repeats);
    if (o.json) {
        result["target_ratio"] = kTargetRatio;
        print_json(result);
        return 0;
    }
    fmt::print("matmul M={} N={} K={}, {} repeats: compiled graphgrad vs bare oneDNN (same run)\n\n", o.m, o.n, o.k,
               o.repeats);
    fmt::print("{:<18} {:>14} {:>10} {:>14} {:>10} {:>7}  {}\n", "program", "graphgrad ms", "GFLOP/s", "oneDNN ms",
               "GFLOP/s", "ratio", "target >= 0.95");
    for (auto [key, label] : {std::pair{"forward", "forward"}, std::pair{"forward_backward", "forward+backward"}}) {
        const nlohmann::json& r = result.at(key);
        const double ratio = r.at("ratio").get<double>();
        fmt::print("{:<18} {:>14.3f} {:>10.1f} {:>14.3f} {:>10.1f} {:>7.3f}  {}\n", label, r.at("graphgrad_ms").get<double>(),
                   r.at("graphgrad_gflops").get<double>(), r.at("onednn_ms").get<double>(),
                   r.at("onednn_gflops").get<double>(), ratio, ratio >= kTargetRatio ? "met" : "NOT met");
    }
    fmt::print("\nratio = graphgrad GFLOP/s / bare oneDNN GFLOP/s (medians); {} OpenMP threads; {} compiled steps, {}; "
               "max |graphgrad - oneDNN| = {:.3g}\n",
               result.value("threads", 0), result.value("graphgrad_steps_forward_backward", 0),
               result.value("all_steps_onednn", false) ? "all on oneDNN" : "NOT all on oneDNN",
               result.value("max_abs_diff", 0.0));
    return 0;
}

}  // namespace

Command add_bench_matmul_command(CLI::App& bench) {
    auto o = std::make_shared<MatmulOptions>();
    CLI::App* sub = bench.add_subcommand(
        "matmul", "Compiled-graph matmul forward/backward vs bare oneDNN, GFLOP/s and ratio (target >= 0.95)");
    sub->add_option("--m", o->m, "Rows of A and C")->capture_default_str();
    sub->add_option("--n", o->n, "Columns of B and C")->capture_default_str();
    sub->add_option("--k", o->k, "Inner dimension")->capture_default_str();
    sub->add_option("--repeats", o->repeats, "Timed runs of each program")->capture_default_str();
    sub->add_flag("--json", o->json, "Print JSON");
    return {sub, [o] { return run_matmul(*o); }};
}

}  // namespace gg::cli
