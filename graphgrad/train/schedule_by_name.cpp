#include "graphgrad/train/schedule_by_name.h"

#include "graphgrad/io/checkpoint.h"

#include <algorithm>

#include <fmt/format.h>

#include "graphgrad/train/report_format.h"

namespace gg::train {

const std::vector<std::string>& schedule_names() {
    static const std::vector<std::string> names{"none", "step", "exponential", "cosine", "cosine-restarts", "plateau"};
    return names;
}

std::unique_ptr<optim::LrSchedule> make_schedule(const ScheduleOptions& o, optim::Optimizer& opt, int64_t epochs) {
    const int64_t third = std::max<int64_t>(1, epochs / 3);
    std::unique_ptr<optim::LrSchedule> s;
    if (o.name == "none") {
    } else if (o.name == "step") {
        s = std::make_unique<optim::StepLR>(opt, optim::StepLROptions{.step_size = o.step_size > 0 ? o.step_size : third,
                                                                      .gamma = o.gamma > 0 ? o.gamma : 0.1});
    } else if (o.name == "exponential") {
        s = std::make_unique<optim::ExponentialLR>(opt, optim::ExponentialLROptions{.gamma = o.gamma > 0 ? o.gamma : 0.9});
    } else if (o.name == "cosine") {
        // Anneal over the epochs after warm-up, so the last epoch runs at (almost) eta_min.
        int64_t t_max = std::max<int64_t>(1, epochs - o.warmup);
        s = std::make_unique<optim::CosineAnnealingLR>(opt, optim::CosineAnnealingOptions{.t_max = t_max, .eta_min = o.eta_min});
    } else if (o.name == "cosine-restarts") {
        s = std::make_unique<optim::CosineAnnealingWarmRestarts>(
            opt, optim::CosineWarmRestartsOptions{.t_0 = o.t0 > 0 ? o.t0 : third, .eta_min = o.eta_min});
    } else if (o.name == "plateau") {
        // Warm-up would need the plateau state and the warm-up epoch in one resume path; not worth it.
        if (o.warmup > 0) throw OptionError("--warmup cannot be combined with --schedule plateau");
        s = std::make_unique<optim::ReduceLROnPlateau>(
            opt, optim::ReduceLROnPlateauOptions{.factor = o.gamma > 0 ? o.gamma : 0.1, .patience = o.patience});
    } else {
        throw OptionError(fmt::format("unknown schedule \"{}\" (known: {})", o.name, fmt::join(schedule_names(), ", ")));
    }
    if (o.warmup > 0)
        s = s ? std::make_unique<optim::LinearWarmup>(std::move(s), optim::LinearWarmupOptions{.warmup_steps = o.warmup})
              : std::make_unique<optim::LinearWarmup>(opt, optim::LinearWarmupOptions{.warmup_steps = o.warmup});
    return s;
}

void step_schedule(optim::LrSchedule* s, double test_loss) {
    if (!s) return;
    if (dynamic_cast<optim::ReduceLROnPlateau*>(s))
        s->step(test_loss);
    else
        s->step();
}

void save_schedule_state(const optim::LrSchedule* s, io::Metadata& meta) {
    const auto* p = dynamic_cast<const optim::ReduceLROnPlateau*>(s);
    if (!p) return;
    auto st = p->state();
    // %.17g: doubles survive the text round trip exactly.
    meta["plateau.lr"] = fmt::format("{:.17g}", st.lr);
    meta["plateau.best"] = fmt::format("{:.17g}", st.best);
    meta["plateau.num_bad_epochs"] = std::to_string(st.num_bad_epochs);
    meta["plateau.cooldown_counter"] = std::to_string(st.cooldown_counter);
}

void resume_schedule(optim::LrSchedule* s, int64_t epoch, const io::Metadata& meta, const std::string& source) {
    if (!s) return;
    auto* p = dynamic_cast<optim::ReduceLROnPlateau*>(s);
    if (!p) {
        s->seek(epoch);
        return;
    }
    if (!meta.count("plateau.best"))
        throw OptionError("--resume: the checkpoint has no plateau schedule state (it was trained with another "
                         "--schedule)");
    auto number = [&](const char* key) {
        auto v = io::metadata_double(meta, key, source);
        if (!v) throw io::DataError(fmt::format("{}: plateau schedule state without \"{}\"", source, key));
        return *v;
    };
    auto count = [&](const char* key) {
        auto v = io::metadata_int(meta, key, source);
        if (!v) throw io::DataError(fmt::format("{}: plateau schedule state without \"{}\"", source, key));
        return *v;
    };
    const double lr = number("plateau.lr");
    if (!(lr >= 0)) throw io::DataError(fmt::format("{}: plateau.lr {} is negative", source, lr));
    p->restore({epoch, lr, number("plateau.best"), count("plateau.num_bad_epochs"), count("plateau.cooldown_counter")});
}

}  // namespace gg::train
