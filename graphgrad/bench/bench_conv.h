// `graphgrad bench conv`'s measurement: a compiled graphgrad conv2d (forward, and forward +
// backward data + backward weights through grad()) against bare oneDNN convolution primitives
// on their preferred blocked layouts (format_tag::any, data already in those layouts, no
// reorders), in the same run. Reports median times, GFLOP/s and graphgrad/oneDNN ratios.
//
//   nlohmann::json r = gg::bench_conv({}, 20);   // N32 C64->64 56x56 3x3 pad 1
//   r["forward_backward"]["ratio"];              // graphgrad GFLOP/s ÷ bare oneDNN GFLOP/s
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace gg {

struct ConvBenchShape {
    int64_t n = 32, c = 64, o = 64, h = 56, w = 56;
    int64_t k = 3, stride = 1, pad = 1, groups = 1;
    bool bias = false;
    // graphgrad's layout policy for this run: "auto" (what programs use), "plain" or
    // "blocked" (CompileOptions::layout_policy Plain or Opaque, see ops/dnn/conv.h).
    std::string layout = "auto";
};

nlohmann::json bench_conv(const ConvBenchShape& shape, int repeats);

}  // namespace gg
