// `graphgrad bench lambda-vs-attention`'s measurement: at equal width d, on square feature
// maps s×s (n = s² positions), a 3×3 conv (the baseline), multi-head self-attention, the
// global lambda layer (relative positions) and the lambda convolution (LambdaNetworks, Bello,
// ICLR 2021, §4 and Table 2). Per layer and size it reports analytic parameters and forward
// multiply-adds, the planner's inference and training peaks, the bytes of the tensors the
// paper's space complexity is about (next to the planner's buffers for them), and, when the
// training program fits the memory budget, forward+backward time and the peak RSS increase of
// a forked child that compiles and runs it in isolation.
//
//   gg::LambdaBenchOptions o;  o.sizes = {8, 16, 32};  o.batch = 8;
//   nlohmann::json r = gg::bench_lambda(o);     // r["rows"][i]["train_peak_bytes"], ...
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace gg {

struct LambdaBenchOptions {
    std::vector<int64_t> sizes{8, 16, 32, 48, 64};
    int64_t batch = 8;
    int64_t dim = 64;           // d: input channels = output channels of every layer
    int64_t heads = 8;          // self-attention heads
    int64_t k = 16;             // lambda query/key depth |k|
    int64_t lambda_heads = 4;   // lambda |h| (the paper's default)
    int64_t r = 23;             // lambda convolution context (the paper's ResNet setting)
    int64_t conv_u = 4;         // lambda convolution |u| (the global layer uses u = 1)
    int repeats = 5;
    bool plan_only = false;     // plan without allocating or running (any size)
    double budget_fraction = 0.6;  // of MemAvailable: larger training programs are not run
};

// The names of the compared layers, in table order.
const std::vector<const char*>& lambda_bench_layers();

nlohmann::json bench_lambda(const LambdaBenchOptions& options);

}  // namespace gg
