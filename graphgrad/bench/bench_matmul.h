// `graphgrad bench matmul`'s measurement: a compiled graphgrad matmul (forward, and forward +
// backward through grad()) against bare oneDNN matmul primitives doing the same GEMMs with the
// same layouts, in the same run. Reports median times, GFLOP/s and graphgrad/oneDNN ratios.
//
//   nlohmann::json r = gg::bench_matmul(1024, 1024, 1024, 20);
//   r["forward"]["ratio"];            // graphgrad GFLOP/s ÷ bare oneDNN GFLOP/s (1 = no overhead)
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

namespace gg {

// A [m,k] · B [k,n]; backward is dA = dY·Bᵀ and dB = Aᵀ·dY with an arbitrary dY seed.
nlohmann::json bench_matmul(int64_t m, int64_t n, int64_t k, int repeats);

}  // namespace gg
