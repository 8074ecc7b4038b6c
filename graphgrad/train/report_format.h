// Numbers as people read them in reports: 61,706 parameters, 12.3 MiB; and sizes as people
// write them on command lines ("300MiB", "1.5GB", "4096").
//
//   fmt::print("{} parameters, {} planned\n", gg::train::with_commas(n), gg::train::human_bytes(b));
//   std::size_t budget = gg::train::parse_bytes("300MiB");
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "graphgrad/graph/errors.h"

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

// "300MiB", "300 MiB", "1.5GiB", "64KB", "4096" (bytes): binary (KiB, MiB, GiB) and decimal
// (kB, MB, GB) units, case-insensitive; OptionError when malformed.
inline std::size_t parse_bytes(const std::string& text) {
    std::size_t used = 0;
    double v = -1;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    std::string unit;
    for (std::size_t i = used; i < text.size(); ++i)
        if (text[i] != ' ') unit += static_cast<char>(text[i] >= 'A' && text[i] <= 'Z' ? text[i] - 'A' + 'a' : text[i]);
    double scale = 0;
    if (unit.empty() || unit == "b") scale = 1;
    else if (unit == "k" || unit == "kib") scale = 1024.0;
    else if (unit == "m" || unit == "mib") scale = 1024.0 * 1024;
    else if (unit == "g" || unit == "gib") scale = 1024.0 * 1024 * 1024;
    else if (unit == "kb") scale = 1e3;
    else if (unit == "mb") scale = 1e6;
    else if (unit == "gb") scale = 1e9;
    if (used == 0 || scale == 0 || !(v >= 0))
        throw OptionError("\"" + text + "\" is not a size: write e.g. 300MiB, 1.5GiB, 64KB or 4096 (bytes)");
    return static_cast<std::size_t>(v * scale);
}

}  // namespace gg::train
