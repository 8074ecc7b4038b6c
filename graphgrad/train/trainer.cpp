#include "graphgrad/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "graphgrad/io/checkpoint.h"
#include "graphgrad/optim/clip.h"
#include "graphgrad/train/progress_bar.h"
#include "graphgrad/train/schedule_by_name.h"

namespace gg::train {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// {loss, watch..., grads..., carried states...}
std::vector<Value> step_fetches(const TrainTask& t) {
    std::vector<Value> f{t.loss};
    f.insert(f.end(), t.watch.begin(), t.watch.end());
    f.insert(f.end(), t.grads.begin(), t.grads.end());
    for (const auto& [from, to] : t.carry) f.push_back(from);
    return f;
}

const TrainTask& checked(const TrainTask& t) {
    if (!t.graph) throw OptionError("train: the task has no graph");
    if (!t.loss.valid() || t.loss.rank() != 0)
        throw OptionError(fmt::format("train: the loss must be a scalar value of the graph, got {}",
                                      t.loss.valid() ? desc_str(t.loss.desc()) : std::string("none")));
    if (t.params.size() != t.grads.size())
        throw OptionError(fmt::format("train: {} parameters but {} gradients", t.params.size(), t.grads.size()));
    for (std::size_t i = 0; i < t.params.size(); ++i)
        if (t.grads[i].desc() != t.params[i].desc())
            throw OptionError(fmt::format("train: gradient {} is {}, but parameter \"{}\" is {}", i,
                                          desc_str(t.grads[i].desc()), t.params[i].name(), desc_str(t.params[i].desc())));
    if (t.inputs.empty()) throw OptionError("train: the task feeds no inputs");
    for (const auto& [from, to] : t.carry) {
        if (from.desc() != to.desc())
            throw OptionError(fmt::format("train: carried state \"{}\" {} does not fit input \"{}\" {}", from.name(),
                                          desc_str(from.desc()), to.name(), desc_str(to.desc())));
        if (to.producer().kind() != NodeKind::Input)
            throw OptionError(fmt::format("train: a state is carried into \"{}\", which is not an input", to.name()));
    }
    return t;
}

// Metadata first: a checkpoint of another model or optimizer is named as such, not as a list
// of mismatching tensors. Keys either side lacks are not compared.
void check_metadata(const io::Metadata& theirs, const io::Metadata& mine, const std::vector<std::string>& keys,
                    const char* what, const std::string& path) {
    for (const std::string& key : keys) {
        auto m = mine.find(key);
        auto t = theirs.find(key);
        if (m != mine.end() && t != theirs.end() && m->second != t->second)
            throw OptionError(fmt::format("{} {}: the checkpoint's {} is \"{}\", this run's is \"{}\"", what, path, key,
                                          t->second, m->second));
    }
}

// " accuracy 91.20%" (with its leading space), or nothing without a metric.
std::string metric_text(const Metric* m, double v) {
    if (!m) return {};
    return m->is_fraction() ? fmt::format(" {} {:.2f}%", m->name(), 100 * v) : fmt::format(" {} {:.4f}", m->name(), v);
}

}  // namespace

Trainer::Trainer(TrainTask task, optim::Optimizer& optimizer, optim::LrSchedule* schedule, TrainerOptions options)
    : task_(checked(task)),
      opt_(optimizer),
      schedule_(schedule),
      o_(std::move(options)),
      step_(compile(*task_.graph, step_fetches(task_), o_.compile)) {
    if (o_.epochs < 1) throw OptionError(fmt::format("train: epochs must be positive, got {}", o_.epochs));
    if (!(o_.clip >= 0)) throw OptionError(fmt::format("train: clip must be >= 0, got {}", o_.clip));
    if (!o_.init.empty() && !o_.resume.empty())
        throw OptionError(fmt::format("train: init ({}) and resume ({}) exclude each other: resume continues a run, "
                                      "weights included; init starts a new run from a checkpoint's weights",
                                      o_.init, o_.resume));
    if (opt_.parameter_names().size() != task_.params.size())
        throw OptionError(fmt::format("train: the optimizer updates {} parameters, the task trains {}",
                                      opt_.parameter_names().size(), task_.params.size()));
    for (std::size_t i = 0; i < task_.params.size(); ++i)
        if (opt_.parameter_names()[i] != task_.params[i].name())
            throw OptionError(fmt::format("train: optimizer parameter {} is \"{}\", the task's is \"{}\"", i,
                                          opt_.parameter_names()[i], task_.params[i].name()));
}

void Trainer::initialize() {
    check_metadata(io::SafetensorsFile::open(o_.init).metadata(), o_.metadata, o_.init_must_match, "init", o_.init);
    // Weights only: the optimizer's fresh (zero) state, step count and the schedule stay as a
    // new run has them.
    io::load_checkpoint(task_.graph->store(), o_.init, {.weights_only = true, .keep = o_.init_keep});
    o_.metadata["init"] = o_.init;
}

int64_t Trainer::resume() {
    if (o_.resume.empty()) return 0;
    resumed_ = io::SafetensorsFile::open(o_.resume).metadata();
    io::Metadata mine_all = o_.metadata;
    mine_all["optimizer"] = opt_.name();
    check_metadata(resumed_, mine_all, o_.resume_must_match, "resume", o_.resume);
    // The optimizer exists already, so its slots are in the store and loading copies the
    // file's momentum and moments into them.
    io::load_checkpoint(task_.graph->store(), o_.resume);
    opt_.check_state(o_.resume);
    const int64_t done = io::metadata_int(resumed_, "epoch", o_.resume).value_or(0);
    best_before_ = io::metadata_double(resumed_, "best_metric", o_.resume);
    if (done > 0) resume_schedule(schedule_, done, resumed_, o_.resume);
    return done;
}

EpochRecord Trainer::train_epoch(int64_t epoch, BatchSource& train, Metric* metric) {
    EpochRecord r;
    r.epoch = epoch + 1;
    r.lr = opt_.lr();
    train.start_epoch(epoch);
    if (metric) metric->reset();
    std::vector<Tensor> feeds;
    for (const Value& in : task_.inputs) feeds.emplace_back(in.desc());
    Feeds bound;
    for (std::size_t i = 0; i < feeds.size(); ++i) bound.emplace_back(task_.inputs[i], feeds[i]);
    std::vector<Tensor> carried;  // made once per epoch, zero: the first chunk starts from rest
    for (const auto& [from, to] : task_.carry) {
        carried.push_back(Tensor::zeros(to.shape(), to.dtype()));
        bound.emplace_back(to, carried.back());
    }
    std::vector<Tensor> watched, grads;

    const int64_t batches = train.num_batches();
    if (batches < 1) throw OptionError("train: the batch source has no batches (fewer samples than one batch?)");
    ProgressBar bar(fmt::format("epoch {}/{}", epoch + 1, o_.epochs), batches, o_.progress);
    double loss_sum = 0, step_seconds = 0;
    int64_t seen = 0;
    const std::size_t n_watch = task_.watch.size();
    for (int64_t b = 0; b < batches; ++b) {
        const int64_t valid = train.fill(b, feeds);
        // Feeds hold the tensors by handle: refilled in place, they need no rebinding.
        auto t0 = Clock::now();
        std::vector<Tensor> out = step_.run(bound);
        const double loss = out[0].get(0);
        if (!std::isfinite(loss))
            throw RuntimeError(fmt::format("training diverged: the loss is {} at epoch {}, batch {}; the weights were "
                                           "not updated and the last checkpoint (if any) is intact (try a lower "
                                           "learning rate or --clip 1{})",
                                           loss, epoch + 1, b + 1,
                                           o_.compile.check_numerics ? "" : "; --check-numerics names the first node producing it"));
        const auto grads_begin = out.begin() + 1 + static_cast<std::ptrdiff_t>(n_watch);
        const auto grads_end = grads_begin + static_cast<std::ptrdiff_t>(task_.grads.size());
        grads.assign(grads_begin, grads_end);
        // Fetched results are views into the arena: copy the states out before the next run.
        for (std::size_t c = 0; c < carried.size(); ++c)
            std::memcpy(carried[c].raw(), grads_end[static_cast<std::ptrdiff_t>(c)].raw(), carried[c].bytes());
        if (o_.clip > 0) optim::clip_grad_norm(grads, o_.clip);
        opt_.step(grads);
        step_seconds += seconds_since(t0);

        loss_sum += loss * static_cast<double>(valid);
        seen += valid;
        if (metric) {
            watched.assign(out.begin() + 1, out.begin() + 1 + static_cast<std::ptrdiff_t>(n_watch));
            metric->add(watched, feeds, valid);
        }
        bar.update(b + 1, loss_sum / static_cast<double>(std::max<int64_t>(seen, 1)),
                   metric ? metric_text(metric, metric->value()) : std::string());
    }
    bar.finish();
    r.seconds = bar.seconds();
    r.train_loss = loss_sum / static_cast<double>(std::max<int64_t>(seen, 1));
    r.train_metric = metric ? metric->value() : 0;
    r.ms_per_step = 1e3 * step_seconds / static_cast<double>(batches);
    return r;
}

void Trainer::save(int64_t epochs_done, const EvalResult& e, double best) {
    io::Metadata meta = o_.metadata;
    meta["epoch"] = std::to_string(epochs_done);
    meta["optimizer"] = opt_.name();
    meta["lr"] = fmt::format("{:.17g}", opt_.lr());
    meta["eval_metric"] = fmt::format("{:.17g}", e.metric);
    meta["best_metric"] = fmt::format("{:.17g}", best);
    save_schedule_state(schedule_, meta);
    io::save_checkpoint(task_.graph->store(), o_.checkpoint, meta);  // atomic: temp file, fsync, rename
    if (o_.progress) fmt::print("  checkpoint: {} (epoch {})\n", o_.checkpoint, epochs_done);
}

TrainReport Trainer::fit(BatchSource& train, const std::function<EvalResult()>& evaluate, Metric* metric) {
    if (!evaluate) throw OptionError("train: no evaluation function");
    TrainReport report;
    report.train_peak_bytes = step_.peak_bytes();
    report.remat = step_.compile_report().remat;
    if (!o_.init.empty()) {
        initialize();
        if (o_.progress) fmt::print("initialised from the weights of {}\n", o_.init);
    }
    report.start_epoch = resume();
    if (o_.progress && report.start_epoch > 0)
        fmt::print("resumed from {} after epoch {}\n", o_.resume, report.start_epoch);
    const bool higher = !metric || metric->higher_is_better();
    auto better = [higher](double a, double b) { return higher ? std::max(a, b) : std::min(a, b); };
    std::optional<double> best = best_before_;
    double step_seconds = 0;
    int64_t steps = 0;
    const auto t_train = Clock::now();
    for (int64_t epoch = report.start_epoch; epoch < o_.epochs; ++epoch) {
        EpochRecord r = train_epoch(epoch, train, metric);
        step_seconds += r.ms_per_step * 1e-3 * static_cast<double>(train.num_batches());
        steps += train.num_batches();
        if (o_.before_eval) o_.before_eval(epoch);
        r.eval = evaluate();
        best = best ? better(*best, r.eval.metric) : r.eval.metric;
        step_schedule(schedule_, r.eval.loss);
        report.records.push_back(r);
        if (o_.progress)
            fmt::print("epoch {}/{}: train loss {:.4f}{} | eval loss {:.4f}{} | lr {:.4g} | {:.1f} s ({:.2f} ms/step), "
                       "eval {:.1f} s\n",
                       r.epoch, o_.epochs, r.train_loss, metric_text(metric, r.train_metric), r.eval.loss,
                       metric_text(metric, r.eval.metric), r.lr, r.seconds,
                       r.ms_per_step, r.eval.seconds);
        if (!o_.checkpoint.empty()) save(epoch + 1, r.eval, *best);
        if (o_.progress) std::fflush(stdout);  // a log file sees each epoch as it ends
    }
    report.wall_seconds = seconds_since(t_train);
    report.ms_per_step = steps ? 1e3 * step_seconds / static_cast<double>(steps) : 0.0;
    report.final_eval = report.records.empty() ? evaluate() : report.records.back().eval;
    report.best_metric = best ? better(*best, report.final_eval.metric) : report.final_eval.metric;
    return report;
}

}  // namespace gg::train
