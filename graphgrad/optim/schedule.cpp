#include "graphgrad/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace gg::optim {
namespace {

void check(bool ok, const char* schedule, const char* what, double value) {
    if (!ok) throw_graph("{}: invalid {}: {}", schedule, what, value);
}

void check_epoch(int64_t t) {
    if (t < 0) throw_runtime("lr schedule: epoch {} is negative", t);
}

double base_of(const std::unique_ptr<LrSchedule>& inner) {
    if (!inner) throw_graph("LinearWarmup: no schedule to wrap (to warm up to a constant, pass the optimizer)");
    return inner->base_lr();
}

}  // namespace

// ---- LrSchedule --------------------------------------------------------------------------

LrSchedule::LrSchedule(LrTarget target) : base_lr_(target.base_lr), lr_(target.base_lr), optimizer_(target.optimizer) {
    check(std::isfinite(base_lr_) && base_lr_ >= 0, "lr schedule", "base learning rate", base_lr_);
}

double LrSchedule::step() { return step_with(std::nullopt); }

double LrSchedule::step(double metric) { return step_with(metric); }

double LrSchedule::step_with(std::optional<double> metric) {
    ++epoch_;
    try {
        set_lr(advance(metric));
    } catch (...) {
        --epoch_;  // a refused step (no metric for the plateau schedule) leaves no trace
        throw;
    }
    return lr_;
}

void LrSchedule::seek(int64_t t) {
    check_epoch(t);
    epoch_ = t;
    set_lr(lr_at(t));
}

void LrSchedule::attach(Optimizer* opt) {
    optimizer_ = opt;
    if (optimizer_) optimizer_->set_lr(lr_);
}

void LrSchedule::begin(double lr0) { set_lr(lr0); }

void LrSchedule::set_lr(double lr) {
    lr_ = lr;
    if (optimizer_) optimizer_->set_lr(lr);
}

// ---- closed forms ------------------------------------------------------------------------

StepLR::StepLR(LrTarget target, StepLROptions o) : LrSchedule(target), o_(o) {
    check(o.step_size > 0, "StepLR", "step_size", static_cast<double>(o.step_size));
    begin(lr_at(0));
}

double StepLR::lr_at(int64_t t) const {
    check_epoch(t);
    return base_lr_ * std::pow(o_.gamma, static_cast<double>(t / o_.step_size));
}

MultiStepLR::MultiStepLR(LrTarget target, MultiStepLROptions o) : LrSchedule(target), o_(std::move(o)) {
    std::sort(o_.milestones.begin(), o_.milestones.end());  // a repeated milestone decays twice, as in PyTorch
    begin(lr_at(0));
}

double MultiStepLR::lr_at(int64_t t) const {
    check_epoch(t);
    auto passed = std::upper_bound(o_.milestones.begin(), o_.milestones.end(), t) - o_.milestones.begin();
    return base_lr_ * std::pow(o_.gamma, static_cast<double>(passed));
}

ExponentialLR::ExponentialLR(LrTarget target, ExponentialLROptions o) : LrSchedule(target), o_(o) {
    check(o.gamma > 0, "ExponentialLR", "gamma", o.gamma);
    begin(lr_at(0));
}

double ExponentialLR::lr_at(int64_t t) const {
    check_epoch(t);
    return base_lr_ * std::pow(o_.gamma, static_cast<double>(t));
}

CosineAnnealingLR::CosineAnnealingLR(LrTarget target, CosineAnnealingOptions o) : LrSchedule(target), o_(o) {
    check(o.t_max > 0, "CosineAnnealingLR", "t_max", static_cast<double>(o.t_max));
    begin(lr_at(0));
}

double CosineAnnealingLR::lr_at(int64_t t) const {
    check_epoch(t);
    const double tt = static_cast<double>(t), t_max = static_cast<double>(o_.t_max);
    return o_.eta_min + (base_lr_ - o_.eta_min) * (1 + std::cos(std::numbers::pi * tt / t_max)) / 2;
}

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(LrTarget target, CosineWarmRestartsOptions o)
    : LrSchedule(target), o_(o) {
    check(o.t_0 > 0, "CosineAnnealingWarmRestarts", "t_0", static_cast<double>(o.t_0));
    check(o.t_mult >= 1, "CosineAnnealingWarmRestarts", "t_mult", static_cast<double>(o.t_mult));
    begin(lr_at(0));
}

double CosineAnnealingWarmRestarts::lr_at(int64_t t) const {
    check_epoch(t);
    // Integer period arithmetic: PyTorch's log-based formula gives the same periods, but
    // floating-point logs can land one period off exactly at a restart.
    int64_t t_cur = t, t_i = o_.t_0;
    if (o_.t_mult == 1) {
        t_cur = t % o_.t_0;
    } else {
        while (t_cur >= t_i) {
            t_cur -= t_i;
            if (t_i > std::numeric_limits<int64_t>::max() / o_.t_mult) break;  // t_cur < any longer period
            t_i *= o_.t_mult;
        }
    }
    const double cur = static_cast<double>(t_cur), len = static_cast<double>(t_i);
    return o_.eta_min + (base_lr_ - o_.eta_min) * (1 + std::cos(std::numbers::pi * cur / len)) / 2;
}

CyclicLR::CyclicLR(LrTarget target, CyclicLROptions o) : LrSchedule(target), o_(o) {
    if (!o_.step_size_down) o_.step_size_down = o_.step_size_up;
    check(std::isfinite(o.max_lr) && o.max_lr >= 0, "CyclicLR", "max_lr", o.max_lr);
    check(o_.step_size_up > 0, "CyclicLR", "step_size_up", static_cast<double>(o_.step_size_up));
    check(*o_.step_size_down > 0, "CyclicLR", "step_size_down", static_cast<double>(*o_.step_size_down));
    check(o.gamma > 0, "CyclicLR", "gamma", o.gamma);
    begin(lr_at(0));
}

double CyclicLR::lr_at(int64_t t) const {
    check_epoch(t);
    // PyTorch's expression order, so the values agree to the last bit where it matters.
    const double total = static_cast<double>(o_.step_size_up + *o_.step_size_down);
    const double step_ratio = static_cast<double>(o_.step_size_up) / total;
    const double tt = static_cast<double>(t);
    const double cycle = std::floor(1 + tt / total);
    const double x = 1. + tt / total - cycle;
    const double scale_factor = x <= step_ratio ? x / step_ratio : (x - 1) / (step_ratio - 1);
    const double base_height = (o_.max_lr - base_lr_) * scale_factor;
    double scale = 1.0;  // Triangular
    if (o_.mode == CyclicMode::Triangular2) scale = 1 / std::pow(2.0, cycle - 1);  // per cycle
    if (o_.mode == CyclicMode::ExpRange) scale = std::pow(o_.gamma, tt);           // per iteration
    return base_lr_ + base_height * scale;
}

// ---- LinearWarmup ------------------------------------------------------------------------

LinearWarmup::LinearWarmup(std::unique_ptr<LrSchedule> inner, LinearWarmupOptions o)
    : LrSchedule(base_of(inner)), inner_(std::move(inner)), o_(o) {
    check(o.warmup_steps >= 0, "LinearWarmup", "warmup_steps", static_cast<double>(o.warmup_steps));
    check(o.start_factor >= 0 && o.start_factor <= 1, "LinearWarmup", "start_factor", o.start_factor);
    if (inner_->epoch() != 0) throw_graph("LinearWarmup: the wrapped schedule has already stepped");
    // One schedule writes the optimizer's rate: the wrapper, which hands over after warm-up.
    Optimizer* opt = inner_->optimizer();
    inner_->attach(nullptr);
    attach(opt);
    begin(lr_at(0));
}

LinearWarmup::LinearWarmup(LrTarget target, LinearWarmupOptions o) : LrSchedule(target), o_(o) {
    check(o.warmup_steps >= 0, "LinearWarmup", "warmup_steps", static_cast<double>(o.warmup_steps));
    check(o.start_factor >= 0 && o.start_factor <= 1, "LinearWarmup", "start_factor", o.start_factor);
    begin(lr_at(0));
}

double LinearWarmup::warm(int64_t t) const {
    const double f = o_.start_factor;
    return base_lr_ * (f + (1.0 - f) * static_cast<double>(t) / static_cast<double>(o_.warmup_steps));
}

double LinearWarmup::lr_at(int64_t t) const {
    check_epoch(t);
    if (t < o_.warmup_steps) return warm(t);
    return inner_ ? inner_->lr_at(t - o_.warmup_steps) : base_lr_;
}

void LinearWarmup::seek(int64_t t) {
    check_epoch(t);
    if (inner_) inner_->seek(std::max<int64_t>(0, t - o_.warmup_steps));
    epoch_ = t;
    set_lr(t < o_.warmup_steps ? warm(t) : inner_ ? inner_->lr() : base_lr_);
}

double LinearWarmup::advance(std::optional<double> metric) {
    if (epoch_ < o_.warmup_steps) return warm(epoch_);
    if (!inner_) return base_lr_;
    // At epoch W the inner schedule is at its own epoch 0; it steps from W + 1 on.
    if (epoch_ > o_.warmup_steps) {
        if (metric)
            inner_->step(*metric);
        else
            inner_->step();
    }
    return inner_->lr();
}

}  // namespace gg::optim
