// Memory measurements for the benchmarks (bench-internal): work run in a forked child, so its
// peak RSS is what that work touched and earlier measurements cannot raise it, and readers of
// /proc for the figures.
//
//   nlohmann::json r = gg::bench::in_child([&] {
//       gg::bench::reset_peak_rss();
//       const auto base = gg::bench::status_kib("RssAnon:");
//       ...;                                      // compile, run
//       return nlohmann::json{{"kib", gg::bench::status_kib("VmHWM:") - base}};
//   });
//   std::string out = gg::bench::run_program({"/usr/bin/python3", "x.py"}, {"OMP_WAIT_POLICY=PASSIVE"});
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gg::bench {

// Runs work() in a forked child and returns its JSON through a pipe ({"error": ...} when it
// threw or was killed, e.g. by the OOM killer). The parent should not have run an OpenMP region
// (fork copies only the calling thread; the child's pool is then fresh).
nlohmann::json in_child(const std::function<nlohmann::json()>& work);

// Runs a program (argv[0] found on PATH) with `env` ("NAME=value") added to this process's
// environment, and returns what it printed on stdout; its stderr is discarded. Throws
// std::runtime_error when it cannot start or exits with a nonzero status.
std::string run_program(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});

// Resets VmHWM to the current RSS (Linux ≥ 4.0).
void reset_peak_rss();

// A "Key:  N kB" line of /proc/self/status (VmHWM:, RssAnon:, RssFile:, RssShmem:) or of
// /proc/meminfo (MemAvailable:), in KiB; 0 when absent.
std::size_t status_kib(const char* key);
std::size_t meminfo_kib(const char* key);

}  // namespace gg::bench
