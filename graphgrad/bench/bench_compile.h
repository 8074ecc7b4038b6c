// `graphgrad bench compile`'s measurement: compile() time per node, and whether it grows
// linearly with the node count (unrolled recurrent networks produce graphs of tens of
// thousands of nodes). Programs: a chain of N tiny elementwise nodes (tanh(h) and h + p
// alternating on a parameter p) compiled forward-only and forward+backward for each N, an
// LSTM unrolled over T steps (models/recurrent.h) with its backward pass, and a zoo model's
// training step. Per program: median and best of `repeats` compiles, µs per kept
// node, the per-pass split (CompiledGraph::compile_report()), and grad()'s time per node.
//
//   nlohmann::json r = gg::bench_compile({});
//   r["chain"]["forward_backward"]["linear"];   // best µs/node at the largest N within 1.5x of the smallest
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gg {

struct CompileBenchOptions {
    std::vector<int64_t> sizes{2500, 5000, 10000, 20000};  // chain lengths (forward nodes)
    int64_t elements = 16;                                  // floats per chain node
    int repeats = 5;                                        // compiles per program
    int64_t lstm_steps = 1000;                              // T of the unrolled LSTM (0 skips it)
    std::string model = "resnet20";                         // the zoo model ("" skips it)
    int64_t batch = 8;
};

constexpr double kCompileTargetUsPerNode = 20;
constexpr double kLinearityTolerance = 1.5;  // largest N's µs/node over the smallest's

nlohmann::json bench_compile(const CompileBenchOptions& options);

}  // namespace gg
