// One progress line per epoch for `graphgrad train`: on a terminal it is redrawn in place
// (carriage return, at most ten times a second so drawing never costs training time); when
// stdout is a file or a pipe (CI logs) it prints a plain line every tenth of the epoch instead,
// because carriage returns would pile up into one unreadable line.
//
//   gg::train::ProgressBar bar("epoch 1/10", num_batches);
//   for (...) bar.update(b + 1, running_loss, " accuracy 91.2%");
//   bar.finish();
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace gg::train {

class ProgressBar {
public:
    ProgressBar(std::string label, int64_t total, bool enabled = true)
        : label_(std::move(label)), total_(total), enabled_(enabled), tty_(::isatty(::fileno(stdout)) != 0),
          start_(Clock::now()), last_draw_(start_) {}

    // `done` batches finished; loss is the epoch's running mean, `metric` a running metric
    // already formatted with a leading space (" accuracy 91.2%"), or empty.
    void update(int64_t done, double loss, const std::string& metric) {
        if (!enabled_) return;
        auto now = Clock::now();
        if (tty_) {
            if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
            last_draw_ = now;
            fmt::print("\r\033[K{}", line(done, loss, metric, now));  // \033[K: clear a longer old line
            std::fflush(stdout);
        } else {
            int64_t every = std::max<int64_t>(1, (total_ + 9) / 10);
            if (done % every != 0 && done != total_) return;
            fmt::print("{}\n", line(done, loss, metric, now));
            std::fflush(stdout);
        }
    }

    // Ends the line (a terminal needs the newline the redraws left out).
    void finish() {
        if (enabled_ && tty_) fmt::print("\n");
    }

    double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

private:
    using Clock = std::chrono::steady_clock;

    std::string line(int64_t done, double loss, const std::string& metric, Clock::time_point now) const {
        constexpr int kWidth = 24;
        double secs = std::chrono::duration<double>(now - start_).count();
        int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : kWidth;
        std::string bar(static_cast<std::size_t>(filled), '=');
        if (filled < kWidth) bar += '>';
        bar.resize(kWidth, ' ');
        return fmt::format("{} [{}] {:>5}/{:<5} {:6.1f} batch/s  loss {:.4f}{}", label_, bar, done, total_,
                           secs > 0 ? static_cast<double>(done) / secs : 0.0, loss, metric);
    }

    std::string label_;
    int64_t total_;
    bool enabled_, tty_;
    Clock::time_point start_, last_draw_;
};

}  // namespace gg::train
