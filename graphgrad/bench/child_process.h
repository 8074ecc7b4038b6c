// Runs a measurement in a forked child process, so its memory figures (peak RSS) are its own
// and nothing it allocates stays in the caller. The child's result comes back as a string
// through a pipe; an exception in the child becomes a std::runtime_error in the parent.
// Fork only from a process that has not started OpenMP threads (the CLI's main thread before
// any kernel ran): a forked child has only the forking thread.
//
//   std::string out = gg::bench::run_in_child([] { return std::to_string(measure()); });
//   std::size_t peak = gg::bench::peak_rss_bytes();   // in the child: its high-water mark
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace gg::bench {

std::string run_in_child(const std::function<std::string()>& f);

// This process's resident set now, and its high-water mark (/proc/self/status VmRSS, VmHWM).
std::size_t rss_bytes();
std::size_t peak_rss_bytes();
// Anonymous memory (heap, arenas) now: RssAnon.
std::size_t anonymous_rss_bytes();
// The high-water mark less file-backed and shared pages (library code a child pages in as it
// first runs it): after a warm-up, the peak of anonymous memory since reset_peak_rss().
std::size_t anonymous_peak_rss_bytes();
// Resets VmHWM to the current RSS (Linux >= 4.0, /proc/self/clear_refs).
void reset_peak_rss();

}  // namespace gg::bench
