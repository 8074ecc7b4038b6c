// Timing helpers for the benchmarks: medians, one call's wall time, the machine's load.
//
//   std::vector<double> ns;
//   for (int r = 0; r < 20; ++r) ns.push_back(gg::bench::time_ns([&] { step.run(feeds); }));
//   double ms = gg::bench::median(ns) / 1e6;
#pragma once

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

namespace gg::bench {

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

}  // namespace gg::bench
