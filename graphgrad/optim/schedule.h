// Learning-rate schedules with torch.optim.lr_scheduler's values. A schedule counts epochs
// (or batches: the counter is whatever step() is called per) from 0; step() advances it,
// returns the new rate and writes it to the optimizer the schedule was built with.
//
//   gg::optim::Sgd opt(g, params, {.lr = 0.1, .momentum = 0.9});
//   gg::optim::LinearWarmup sched(
//       std::make_unique<gg::optim::CosineAnnealingWarmRestarts>(opt, gg::optim::CosineWarmRestartsOptions{.t_0 = 10}),
//       {.warmup_steps = 5});
//   for (int epoch = 0; epoch < 100; ++epoch) { train_one_epoch(opt); sched.step(); }
//
// A schedule built from a plain number drives nothing: `StepLR(0.1, {...}).lr_at(7)`.
// ReduceLROnPlateau, which follows a metric instead of the epoch, is in reduce_lr_on_plateau.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "graphgrad/optim/optimizer.h"

namespace gg::optim {

// Where a schedule takes its base rate from, and which optimizer (if any) it drives.
struct LrTarget {
    // Implicit on purpose: `StepLR(opt, {...})` and `StepLR(0.1, {...})` both read naturally.
    LrTarget(double base) : base_lr(base) {}
    LrTarget(Optimizer& opt) : base_lr(opt.lr()), optimizer(&opt) {}
    double base_lr;
    Optimizer* optimizer = nullptr;
};

class LrSchedule {
public:
    explicit LrSchedule(LrTarget target);
    virtual ~LrSchedule() = default;

    // The rate after t calls of step(); a pure function for every schedule but ReduceLROnPlateau.
    virtual double lr_at(int64_t t) const = 0;
    // Ends an epoch (or batch) and returns the new rate. ReduceLROnPlateau needs the metric;
    // the others ignore it.
    double step();
    double step(double metric);
    // Jumps to epoch t (resuming from a checkpoint): lr = lr_at(t).
    virtual void seek(int64_t t);

    double lr() const { return lr_; }
    int64_t epoch() const { return epoch_; }
    double base_lr() const { return base_lr_; }
    Optimizer* optimizer() const { return optimizer_; }
    // Drives `opt` from now on (writing the current rate to it); nullptr detaches.
    void attach(Optimizer* opt);

protected:
    // The rate for the epoch just reached (epoch() is already advanced).
    virtual double advance(std::optional<double> metric) {
        (void)metric;
        return lr_at(epoch_);
    }
    // Derived constructors call this last: lr_at() is virtual, so the base cannot.
    void begin(double lr0);
    void set_lr(double lr);

    double base_lr_;
    int64_t epoch_ = 0;

private:
    double step_with(std::optional<double> metric);
    double lr_;
    Optimizer* optimizer_;
};

struct StepLROptions {
    int64_t step_size = 0;  // required: decay every step_size epochs
    double gamma = 0.1;
};
// lr = base · γ^⌊t / step_size⌋
class StepLR final : public LrSchedule {
public:
    StepLR(LrTarget target, StepLROptions o);
    double lr_at(int64_t t) const override;

private:
    StepLROptions o_;
};

struct MultiStepLROptions {
    std::vector<int64_t> milestones;
    double gamma = 0.1;
};
// lr = base · γ^(number of milestones ≤ t)
class MultiStepLR final : public LrSchedule {
public:
    MultiStepLR(LrTarget target, MultiStepLROptions o);
    double lr_at(int64_t t) const override;

private:
    MultiStepLROptions o_;
};

struct ExponentialLROptions {
    double gamma = 0.0;  // required
};
// lr = base · γ^t
class ExponentialLR final : public LrSchedule {
public:
    ExponentialLR(LrTarget target, ExponentialLROptions o);
    double lr_at(int64_t t) const override;

private:
    ExponentialLROptions o_;
};

struct CosineAnnealingOptions {
    int64_t t_max = 0;  // required: half a cosine period
    double eta_min = 0.0;
};
// lr = η_min + (base − η_min)·(1 + cos(π·t / T_max)) / 2
class CosineAnnealingLR final : public LrSchedule {
public:
    CosineAnnealingLR(LrTarget target, CosineAnnealingOptions o);
    double lr_at(int64_t t) const override;

private:
    CosineAnnealingOptions o_;
};

struct CosineWarmRestartsOptions {
    int64_t t_0 = 0;     // required: length of the first period
    int64_t t_mult = 1;  // each period is t_mult times longer than the previous one
    double eta_min = 0.0;
};
// SGDR: lr = η_min + (base − η_min)·(1 + cos(π·T_cur / T_i)) / 2, T_cur restarting at 0 when it
// reaches T_i, T_i = T_0·T_mult^i (restarts at T_0, T_0 + T_0·T_mult, ...).
class CosineAnnealingWarmRestarts final : public LrSchedule {
public:
    CosineAnnealingWarmRestarts(LrTarget target, CosineWarmRestartsOptions o);
    double lr_at(int64_t t) const override;

private:
    CosineWarmRestartsOptions o_;
};

enum class CyclicMode { Triangular, Triangular2, ExpRange };
struct CyclicLROptions {
    double max_lr = 0.0;                    // required: the peak; the base rate is the trough
    int64_t step_size_up = 2000;            // steps from trough to peak
    std::optional<int64_t> step_size_down{};  // steps from peak to trough; default step_size_up
    CyclicMode mode = CyclicMode::Triangular;
    double gamma = 1.0;                     // ExpRange: amplitude · γ^t
};
// Triangular waves between base and max_lr; Triangular2 halves the amplitude every cycle.
// PyTorch's CyclicLR also cycles momentum by default; this one leaves momentum alone
// (cycle_momentum=False).
class CyclicLR final : public LrSchedule {
public:
    CyclicLR(LrTarget target, CyclicLROptions o);
    double lr_at(int64_t t) const override;

private:
    CyclicLROptions o_;
};

struct LinearWarmupOptions {
    int64_t warmup_steps = 5;
    double start_factor = 1.0 / 3;  // PyTorch LinearLR's default; 0 is allowed here
};
// lr = base·(f + (1 − f)·t / W) for t < W, then the wrapped schedule from its epoch 0 (what
// SequentialLR([LinearLR(f, total_iters=W), inner], milestones=[W]) computes), or base without one.
class LinearWarmup final : public LrSchedule {
public:
    // Takes over the inner schedule's optimizer; metrics reach the inner schedule only after W.
    LinearWarmup(std::unique_ptr<LrSchedule> inner, LinearWarmupOptions o);
    LinearWarmup(LrTarget target, LinearWarmupOptions o);
    double lr_at(int64_t t) const override;
    void seek(int64_t t) override;
    const LrSchedule* inner() const { return inner_.get(); }

private:
    double advance(std::optional<double> metric) override;
    double warm(int64_t t) const;
    std::unique_ptr<LrSchedule> inner_;
    LinearWarmupOptions o_;
};

}  // namespace gg::optim
