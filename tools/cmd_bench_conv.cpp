// `graphgrad bench conv`: the compiled graph's conv2d forward and forward + backward (data and
// weights) against bare oneDNN primitives on blocked layouts, same shapes, same run
// (tools/bench_conv.{h,cpp}). This file parses options and prints bench_conv()'s JSON as a
// table (or as is with --json). Issue 3's target: ratio >= 0.9 on N32 C64->64 56x56 3x3.
//
//   graphgrad bench conv                                  # the shape
//   graphgrad bench conv --n 64 --c 1 --o 6 --h 28 --w 28 --k 5 --pad 2 --layout plain
#include <memory>
#include <utility>

#include <fmt/format.h>

#include "graphgrad/bench/bench_conv.h"
#include "cli_common.h"

namespace gg::cli {
namespace {

constexpr double kTargetRatio = 0.9;

struct ConvOptions {
    ConvBenchShape shape;
    int repeats = 20;
    bool json = false;
};

int run_conv(const ConvOptions& o) {
    const ConvBenchShape& s = o.shape;
    if (s.n < 1 || s.c < 1 || s.o < 1 || s.h < 1 || s.w < 1 || s.k < 1 || s.stride < 1 || s.groups < 1 || o.repeats < 1)
        throw UsageError("--n, --c, --o, --h, --w, --k, --stride, --groups and --repeats must be positive");
    if (s.pad < 0) throw UsageError("--pad must be >= 0");
    nlohmann::json result = bench_conv(s, o.repeats);
    if (o.json) {
        result["target_ratio"] = kTargetRatio;
        print_json(result);
        return 0;
    }
    fmt::print("conv2d N={} C={}->{} {}x{} k={} stride={} pad={} groups={}{}, {} repeats, layout policy {}: "
               "compiled graphgrad vs bare oneDNN on blocked layouts (same run)\n\n",
               s.n, s.c, s.o, s.h, s.w, s.k, s.stride, s.pad, s.groups, s.bias ? " +bias" : "", o.repeats, s.layout);
    fmt::print("{:<30} {:>13} {:>9} {:>11} {:>9} {:>7} {:>8}  {}\n", "program", "graphgrad ms", "GFLOP/s", "oneDNN ms",
               "GFLOP/s", "ratio", "min/min", "target >= 0.9");
    struct Row {
        const nlohmann::json* r;
        std::string label;
    };
    std::vector<Row> rows{{&result.at("forward"), "forward (plain feed/fetch)"},
                          {&result.at("forward_backward"), "fwd+bwd (plain feed/fetch)"}};
    const nlohmann::json& net = result.at("in_network");
    if (!net.is_null()) {
        rows.push_back({&net.at("forward"), "forward (in network)"});
        rows.push_back({&net.at("forward_backward"), "fwd+bwd (in network)"});
    }
    for (const Row& row : rows) {
        const nlohmann::json& r = *row.r;
        const std::string label = row.label;
        const double ratio = r.at("ratio").get<double>();
        fmt::print("{:<30} {:>13.3f} {:>9.1f} {:>11.3f} {:>9.1f} {:>7.3f} {:>8.3f}  {}\n", label,
                   r.at("graphgrad_ms").get<double>(), r.at("graphgrad_gflops").get<double>(),
                   r.at("onednn_ms").get<double>(), r.at("onednn_gflops").get<double>(), ratio,
                   r.at("ratio_of_minima").get<double>(), ratio >= kTargetRatio ? "met" : "NOT met");
    }
    fmt::print("\nplain feed/fetch: the whole compiled program, NCHW in and out (its reorders included).\n"
               "in network: the same convolution's steps between blocked oneDNN neighbours (x -> conv0 -> conv -> "
               "relu), timed by the profiler;\n  output layouts (forward, backward data, backward weights): {}\n",
               net.is_null() ? std::string("n/a (--bias)") : net.at("output_layouts").get<std::string>());
    fmt::print("\ngraphgrad kernels (on plain inputs):\n");
    for (const auto& [pass, what] : result.at("graphgrad_kernels").items())
        fmt::print("  {:<18} {}\n", pass, what.get<std::string>());
    fmt::print("bare oneDNN:\n");
    for (const auto& [pass, what] : result.at("onednn_kernels").items())
        fmt::print("  {:<18} {}\n", pass, what.get<std::string>());
    fmt::print("\nratio = graphgrad GFLOP/s / bare oneDNN GFLOP/s (medians; min/min compares the fastest runs); "
               "{} OpenMP threads; load average {} before, {} after; {} compiled steps, {}; max |graphgrad - oneDNN| = "
               "{:.3g}\n",
               result.value("threads", 0), result.value("loadavg_before", ""), result.value("loadavg_after", ""),
               result.value("graphgrad_steps_forward_backward", 0),
               result.value("all_conv_steps_onednn", false) ? "every conv on oneDNN" : "NOT every conv on oneDNN",
               result.value("max_abs_diff", 0.0));
    return 0;
}

}  // namespace

Command add_bench_conv_command(CLI::App& bench) {
    auto o = std::make_shared<ConvOptions>();
    ConvBenchShape& s = o->shape;
    CLI::App* sub = bench.add_subcommand(
        "conv", "Compiled-graph conv2d forward/backward vs bare blocked-layout oneDNN, GFLOP/s and ratio (target >= 0.9)");
    sub->add_option("--n", s.n, "Batch size")->capture_default_str();
    sub->add_option("--c", s.c, "Input channels")->capture_default_str();
    sub->add_option("--o", s.o, "Output channels")->capture_default_str();
    sub->add_option("--h", s.h, "Input height")->capture_default_str();
    sub->add_option("--w", s.w, "Input width")->capture_default_str();
    sub->add_option("--k", s.k, "Kernel size (square)")->capture_default_str();
    sub->add_option("--stride", s.stride, "Stride")->capture_default_str();
    sub->add_option("--pad", s.pad, "Padding on every side")->capture_default_str();
    sub->add_option("--groups", s.groups, "Groups (= C for depthwise)")->capture_default_str();
    sub->add_flag("--bias", s.bias, "Add a bias (its gradient is a sum over N, H, W)");
    sub->add_option("--layout", s.layout, "graphgrad's conv layout policy: auto, plain or blocked")
        ->check(CLI::IsMember({"auto", "plain", "blocked"}))
        ->capture_default_str();
    sub->add_option("--repeats", o->repeats, "Timed runs of each program")->capture_default_str();
    sub->add_flag("--json", o->json, "Print JSON");
    return {sub, [o] { return run_conv(*o); }};
}

}  // namespace gg::cli
