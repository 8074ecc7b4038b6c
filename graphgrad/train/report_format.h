// Numbers as people read them in reports: 61,706 parameters, 12.3 MiB.
//
//   fmt::print("{} parameters, {} planned\n", gg::train::with_commas(n), gg::train::human_bytes(b));
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace gg::train {

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

}  // namespace gg::train
