// `graphgrad bench rnn`'s measurements (tools/cmd_bench_rnn.cpp prints and plots them):
// - speed: one training step of one recurrent layer — forward, backpropagation through time, a
//   linear decoder to `classes` with cross-entropy at every step, an Adam update — for the
//   fused op (ops/rnn.h) and the unrolled graph code (models/recurrent.h), interleaved in one
//   run, with GFLOP/s and the fraction of this machine's peak measured in the same run;
// - grad_norms: ‖∂L/∂h_t‖ for every step t of a tanh RNN and an LSTM whose loss reads the
//   last step only: how the gradient vanishes with distance;
// - memory: the planner's training peak against the sequence length for both implementations
//   (the workspace included), next to the RSS a forked child measures running the step, and
//   PyTorch's step RSS.
//
//   gg::bench::RnnBenchOptions o;  o.cell = gg::RnnCell::Gru;
//   nlohmann::json r = gg::bench::bench_rnn_speed(o);   // r["implementations"][0]["step_ms"], ...
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graphgrad/ops/rnn_cell.h"

namespace gg::bench {

struct RnnBenchOptions {
    RnnCell cell = RnnCell::Lstm;
    int64_t input = 64, hidden = 256, seq = 100, batch = 32, classes = 96;
    int repeats = 10;  // timed steps per implementation (after 2 warm-up steps)
    bool fused = true, graph = true;  // which implementations
    bool profile = false;             // time per op type
    // tools/compare/rnn_step.py: PyTorch's same step, run by /usr/bin/python3 under three
    // environments (plain, hugetlb, hugetlb + passive OpenMP), the fastest kept. Empty: none.
    std::string pytorch_script;
};

// Floating-point operations of one training step, 2 per multiply-add: the recurrent layer
// (forward: the input and recurrent projections; backward: twice that, for the data and the
// weight gradients) and the decoder (forward and both backward GEMMs). Elementwise work (gates,
// loss, Adam) is not counted.
struct RnnStepFlops {
    double recurrent = 0, decoder = 0;
    double total() const { return recurrent + decoder; }
};
RnnStepFlops rnn_step_flops(const RnnBenchOptions& o);

// {"implementations": [{"implementation": "fused"|"graph code", "step_ms", "gflops",
// "peak_fraction", "ratio" (to PyTorch), "target_ratio", ...}], "pytorch": {...}, "machine": {...}}
nlohmann::json bench_rnn_speed(const RnnBenchOptions& o);
// The same with graphgrad measured in child processes, `self` (a command printing
// bench_rnn_speed's JSON without PyTorch, e.g. `graphgrad bench rnn --env current --no-pytorch
// --json ...`) run under each of the environments PyTorch is tried in: libgomp's spinning and
// the allocator change either framework's speed several times over on a shared machine, so
// each implementation is reported in its fastest (its "environment"), as PyTorch is.
nlohmann::json bench_rnn_speed_environments(const RnnBenchOptions& o, const std::vector<std::string>& self);
// PyTorch's step alone: {"step_ms", "best_environment", "environments": {...}} or {"error"}.
nlohmann::json pytorch_rnn_step(const RnnBenchOptions& o, const std::string& script);

struct RnnGradNormOptions {
    int64_t input = 64, hidden = 256, seq = 100, batch = 32;
    uint64_t seed = 1;
};
// {"loss": "...", "cells": [{"cell": "rnn_tanh", "norms": [‖∂L/∂h_0‖, ...], ...}, {"cell": "lstm", ...}]}
nlohmann::json bench_rnn_grad_norms(const RnnGradNormOptions& o);

struct RnnMemoryOptions {
    RnnCell cell = RnnCell::Lstm;
    int64_t input = 64, hidden = 256, batch = 32, classes = 96;
    std::vector<int64_t> seqs{50, 100, 200, 500, 1000};
    bool plan_only = false;        // the planner's figures only (no child runs the step)
    double budget_fraction = 0.6;  // of MemAvailable: larger programs are planned, not run
    std::string pytorch_script;    // as RnnBenchOptions: PyTorch's step RSS at each length
};
nlohmann::json bench_rnn_memory(const RnnMemoryOptions& o);

}  // namespace gg::bench
