// Shared pieces of the `graphgrad` command-line program: how a subcommand plugs into main,
// the usage-error type (exit status 2), JSON printing and timing helpers.
//
//   gg::cli::Command c = gg::cli::add_ops_command(app);   // registers options on `app`
//   ... app.parse(argc, argv); if (c.app->parsed()) return c.run();
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace gg::cli {

// A subcommand registers its options on its parent and returns what to run when chosen.
// Running after parsing (not inside a CLI11 callback) lets each command return its exit
// status and lets main catch every error in one place.
struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;
};

// Bad command-line usage that CLI11 cannot see (e.g. an unknown op name): exit status 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

Command add_ops_command(CLI::App& app);
Command add_gradcheck_command(CLI::App& app);
Command add_train_mlp_command(CLI::App& app);
Command add_bench_overhead_command(CLI::App& bench);
Command add_bench_matmul_command(CLI::App& bench);
Command add_bench_conv_command(CLI::App& bench);
Command add_bench_mlp_command(CLI::App& bench);
Command add_train_command(CLI::App& app);
Command add_eval_command(CLI::App& app);
Command add_summary_command(CLI::App& app);
Command add_dot_command(CLI::App& app);
Command add_logits_command(CLI::App& app);
Command add_bench_train_step_command(CLI::App& bench);
Command add_bench_lambda_command(CLI::App& bench);

inline void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << "\n"; }

// Median of a sample (copied: callers keep their raw order).
inline double median(std::vector<double> v) {
    if (v.empty()) return 0;
    auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
    std::nth_element(v.begin(), mid, v.end());
    if (v.size() % 2 == 1) return *mid;
    return (*mid + *std::max_element(v.begin(), mid)) / 2;
}

// Wall-clock nanoseconds of one call of f.
template <typename F>
double time_ns(F&& f) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    auto t1 = std::chrono::steady_clock::now();
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
}

// "/proc/loadavg"'s three averages ("0.52 0.61 0.70"), printed next to benchmark timings:
// on a shared 2-core machine other load explains slow runs.
inline std::string loadavg() {
    std::ifstream f("/proc/loadavg");
    std::string a, b, c;
    f >> a >> b >> c;
    return a + " " + b + " " + c;
}

// 61706 → "61,706": parameter and MAC counts are read by eye.
inline std::string with_commas(int64_t v) {
    std::string digits = std::to_string(v < 0 ? -v : v), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return v < 0 ? "-" + out : out;
}

// "12.3 KiB" style sizes for human output.
inline std::string human_bytes(std::size_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

}  // namespace gg::cli
