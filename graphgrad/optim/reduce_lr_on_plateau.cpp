#include "graphgrad/optim/reduce_lr_on_plateau.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gg::optim {
namespace {

void check(bool ok, const char* what, double value) {
    if (!ok) throw_graph("ReduceLROnPlateau: invalid {}: {}", what, value);
}

double initial_best(PlateauMode mode) {
    return mode == PlateauMode::Min ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

}  // namespace

ReduceLROnPlateau::ReduceLROnPlateau(LrTarget target, ReduceLROnPlateauOptions o)
    : LrSchedule(target),
      o_(o),
      best_(initial_best(o.mode)) {
    check(o.factor >= 0 && o.factor < 1, "factor (must be < 1)", o.factor);
    check(o.patience >= 0, "patience", static_cast<double>(o.patience));
    check(o.threshold >= 0, "threshold", o.threshold);
    check(o.cooldown >= 0, "cooldown", static_cast<double>(o.cooldown));
    check(o.min_lr >= 0, "min_lr", o.min_lr);
    begin(base_lr_);
}

double ReduceLROnPlateau::lr_at(int64_t) const {
    throw_runtime("ReduceLROnPlateau: the rate depends on the metrics seen, it has no closed form");
}

void ReduceLROnPlateau::seek(int64_t t) {
    if (t != 0) throw_runtime("ReduceLROnPlateau: cannot seek to epoch {}; restore() its saved state", t);
    restore({0, base_lr_, initial_best(o_.mode), 0, 0});
}

void ReduceLROnPlateau::restore(const State& s) {
    if (s.epoch < 0) throw_runtime("ReduceLROnPlateau: epoch {} is negative", s.epoch);
    epoch_ = s.epoch;
    best_ = s.best;
    num_bad_epochs_ = s.num_bad_epochs;
    cooldown_counter_ = s.cooldown_counter;
    set_lr(s.lr);
}

bool ReduceLROnPlateau::is_better(double a) const {
    const bool rel = o_.threshold_mode == ThresholdMode::Rel;
    if (o_.mode == PlateauMode::Min) return rel ? a < best_ * (1 - o_.threshold) : a < best_ - o_.threshold;
    return rel ? a > best_ * (o_.threshold + 1) : a > best_ + o_.threshold;
}

double ReduceLROnPlateau::advance(std::optional<double> metric) {
    if (!metric) throw_runtime("ReduceLROnPlateau: step() needs the metric, call step(metric)");
    // The order of PyTorch's step(): improvement, then cooldown, then the patience test.
    if (is_better(*metric)) {  // NaN is never better: it counts as a bad epoch
        best_ = *metric;
        num_bad_epochs_ = 0;
    } else {
        ++num_bad_epochs_;
    }
    if (cooldown_counter_ > 0) {
        --cooldown_counter_;
        num_bad_epochs_ = 0;
    }
    // Like PyTorch, reduce from the optimizer's current rate (someone may have changed it).
    const double old_lr = optimizer() ? optimizer()->lr() : lr();
    if (num_bad_epochs_ <= o_.patience) return old_lr;
    cooldown_counter_ = o_.cooldown;
    num_bad_epochs_ = 0;
    const double new_lr = std::max(old_lr * o_.factor, o_.min_lr);
    return old_lr - new_lr > o_.eps ? new_lr : old_lr;
}

}  // namespace gg::optim
