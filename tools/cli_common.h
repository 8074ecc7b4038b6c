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

#include "graphgrad/bench/timing.h"
#include "graphgrad/graph/compile_report.h"
#include "graphgrad/graph/errors.h"
#include "graphgrad/train/report_format.h"

namespace gg::cli {

// The CLI is a thin caller of the library's harness, summaries and benchmarks.
using namespace gg::train;
using namespace gg::bench;

// A subcommand registers its options on its parent and returns what to run when chosen.
// Running after parsing (not inside a CLI11 callback) lets each command return its exit
// status and lets main catch every error in one place.
struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;
};

// Bad command-line usage that CLI11 cannot see (e.g. an unknown op name): exit status 2,
// like the library's OptionError (an unknown model, a negative batch).
using UsageError = OptionError;

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
Command add_sample_command(CLI::App& app);
Command add_bench_train_step_command(CLI::App& bench);
Command add_bench_lambda_command(CLI::App& bench);
Command add_compile_report_command(CLI::App& app);
Command add_bench_compile_command(CLI::App& bench);
Command add_bench_remat_command(CLI::App& bench);
Command add_bench_rnn_command(CLI::App& bench);
Command add_neighbors_command(CLI::App& app);

inline void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << "\n"; }

// What a program recomputes to fit its memory budget (CompileReport::Remat), for --json.
inline nlohmann::json remat_json(const CompileReport::Remat& r) {
    return {{"mode", r.mode},
            {"memory_budget", r.budget},
            {"unconstrained_bytes", r.unconstrained_bytes},
            {"recomputed_nodes", r.recomputed},
            {"extra_macs", r.extra_macs},
            {"extra_flops", r.extra_flops}};
}

// One line: "budget 300.0 MiB: 41 nodes recomputed (+12,345 multiply-adds per step)".
inline std::string remat_text(const CompileReport::Remat& r) {
    if (r.mode == "none") return "no recomputation";
    std::string s = r.mode == "budget" ? "budget " + human_bytes(r.budget) : std::string("checkpoints");
    return s + ": " + std::to_string(r.recomputed.size()) + " nodes recomputed (+" + with_commas(r.extra_macs) +
           " multiply-adds per step)";
}

}  // namespace gg::cli
