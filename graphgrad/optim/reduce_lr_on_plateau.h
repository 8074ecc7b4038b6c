// ReduceLROnPlateau (torch.optim.lr_scheduler's): multiplies the rate by `factor` once the
// monitored metric has not improved for more than `patience` epochs. The only schedule that is
// not a function of the epoch, so it has state to checkpoint (state() / restore()).
//
//   gg::optim::ReduceLROnPlateau sched(opt, {.factor = 0.5, .patience = 3});
//   for (...) { train_one_epoch(opt); sched.step(validation_loss); }
#pragma once

#include "graphgrad/optim/schedule.h"

namespace gg::optim {

enum class PlateauMode { Min, Max };
enum class ThresholdMode { Rel, Abs };
struct ReduceLROnPlateauOptions {
    PlateauMode mode = PlateauMode::Min;  // Min: a loss; Max: an accuracy
    double factor = 0.1;                  // lr ← max(lr·factor, min_lr)
    int64_t patience = 10;                // bad epochs tolerated before reducing
    double threshold = 1e-4;              // what counts as an improvement (see ThresholdMode)
    ThresholdMode threshold_mode = ThresholdMode::Rel;  // Rel: best·(1 ∓ threshold); Abs: best ∓ threshold
    int64_t cooldown = 0;                 // epochs after a reduction in which bad epochs are not counted
    double min_lr = 0.0;
    double eps = 1e-8;                    // reductions smaller than this are skipped
};
// Multiplies the rate by `factor` once the metric has not improved for more than `patience` epochs.
class ReduceLROnPlateau final : public LrSchedule {
public:
    ReduceLROnPlateau(LrTarget target, ReduceLROnPlateauOptions o = {});
    double lr_at(int64_t t) const override;  // throws: the rate depends on the metrics seen
    void seek(int64_t t) override;           // seek(0) resets; other epochs throw: use restore()

    // What a checkpoint needs to resume the schedule.
    struct State {
        int64_t epoch;
        double lr, best;
        int64_t num_bad_epochs, cooldown_counter;
    };
    State state() const { return {epoch_, lr(), best_, num_bad_epochs_, cooldown_counter_}; }
    void restore(const State& s);
    double best() const { return best_; }
    int64_t num_bad_epochs() const { return num_bad_epochs_; }
    bool in_cooldown() const { return cooldown_counter_ > 0; }

private:
    double advance(std::optional<double> metric) override;
    bool is_better(double a) const;
    ReduceLROnPlateauOptions o_;
    double best_;
    int64_t num_bad_epochs_ = 0, cooldown_counter_ = 0;
};

}  // namespace gg::optim
