// What this machine's cores can compute, measured in the same run as a benchmark so that a
// kernel's GFLOP/s can be stated as a fraction of it on a shared, noisy machine.
//
//   nlohmann::json p = gg::bench::machine_peak();
//   p["fma_gflops"];     // independent FMAs on every thread (AVX-512 when present, else AVX2)
//   p["sgemm_gflops"];   // oneDNN's sgemm at 1536³: what a large GEMM reaches
#pragma once

#include <nlohmann/json.hpp>

namespace gg::bench {

// Best of a few repetitions of each (other load only ever lowers a figure): {"fma_gflops",
// "fma_method", "sgemm_gflops", "sgemm_method", "threads"}.
nlohmann::json machine_peak();

}  // namespace gg::bench
