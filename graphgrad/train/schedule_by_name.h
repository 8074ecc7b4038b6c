// Learning-rate schedules by name for `graphgrad train --schedule` (per-epoch schedules from
// optim/schedule.h), plus what a checkpoint must carry to resume the one schedule that is
// not a function of the epoch (ReduceLROnPlateau).
//
//   auto sched = gg::train::make_schedule({.name = "cosine"}, *opt, /*epochs=*/10);
//   ... after each epoch: gg::train::step_schedule(sched.get(), test_loss);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graphgrad/io/safetensors.h"
#include "graphgrad/optim/optim.h"

namespace gg::train {

struct ScheduleOptions {
    std::string name = "cosine";  // none, step, exponential, cosine, cosine-restarts, plateau
    int64_t step_size = 0;        // step: epochs between decays (0: a third of the run)
    double gamma = 0;             // step (0: 0.1), exponential (0: 0.9), plateau factor (0: 0.1)
    int64_t t0 = 0;               // cosine-restarts: first period (0: a third of the run)
    double eta_min = 0;           // cosine, cosine-restarts: floor of the rate
    int64_t patience = 2;         // plateau: epochs without improvement before a decay
    int64_t warmup = 0;           // epochs of linear warm-up in front of the schedule
};

const std::vector<std::string>& schedule_names();

// nullptr for "none" without warm-up. Throws OptionError for an unknown name.
std::unique_ptr<optim::LrSchedule> make_schedule(const ScheduleOptions& o, optim::Optimizer& opt, int64_t epochs);

// Ends an epoch; the plateau schedule follows the test loss, the others the epoch count.
void step_schedule(optim::LrSchedule* s, double test_loss);

// Resuming after `epoch` completed epochs: closed-form schedules seek, the plateau schedule
// restores what save_schedule_state() wrote into the checkpoint's metadata.
void save_schedule_state(const optim::LrSchedule* s, io::Metadata& meta);
// `source` names the checkpoint in errors about malformed state.
void resume_schedule(optim::LrSchedule* s, int64_t epoch, const io::Metadata& meta, const std::string& source);

}  // namespace gg::train
