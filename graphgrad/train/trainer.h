// The training harness: trains any graph-code model whose loss is a scalar value of its graph,
// on any source of fixed-shape batches, with an optimizer and an optional per-epoch schedule.
// It compiles the training step once, and per epoch runs every batch (gradient clipping,
// optimizer step, a stop with a clear message on a non-finite loss), shows a progress bar,
// evaluates, saves an atomic checkpoint (weights, optimizer state, epoch, schedule state and
// the caller's metadata) and can resume from one, or start a new run from another run's (or
// another framework's) weights. `graphgrad train` is a thin caller of it;
// train/classification.h wraps it for image classifiers.
//
//   gg::train::TrainTask task{.graph = &g, .inputs = {x, y}, .loss = loss, .params = params,
//                             .grads = gg::grad(loss, params), .watch = {logits}};
//   gg::train::Trainer trainer(task, opt, schedule.get(), {.epochs = 5, .checkpoint = "m.safetensors"});
//   gg::train::TrainReport r = trainer.fit(batches, [&] { return my_evaluation(); }, &accuracy);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/io/safetensors.h"
#include "graphgrad/optim/optimizer.h"
#include "graphgrad/optim/schedule.h"

namespace gg::train {

// Fixed-shape batches for the values a program feeds. fill() writes batch b of the current
// epoch into `feeds` (one tensor per TrainTask::inputs entry, made once with the inputs'
// descs and refilled in place: no allocation per step) and returns how many of its rows are
// real samples (the rest is padding a metric must not count).
class BatchSource {
public:
    virtual ~BatchSource() = default;
    virtual int64_t num_batches() const = 0;
    virtual void start_epoch(int64_t epoch) = 0;  // order and augmentation of `epoch`
    virtual int64_t fill(int64_t b, std::vector<Tensor>& feeds) = 0;
};

// A quantity accumulated over the batches of an epoch (accuracy, bits per character, ...).
// add() sees the step's watched values (TrainTask::watch) and the batch's feeds.
class Metric {
public:
    virtual ~Metric() = default;
    virtual std::string name() const = 0;  // "accuracy": shown in progress and reports
    virtual void reset() = 0;
    virtual void add(const std::vector<Tensor>& watched, const std::vector<Tensor>& feeds, int64_t valid) = 0;
    virtual double value() const = 0;
    // Percentages print as such: accuracy 0.912 shows as 91.2%.
    virtual bool is_fraction() const { return false; }
    // Which way "best" goes (accuracy: up; bits per character: down).
    virtual bool higher_is_better() const { return true; }
};

// What to train: a graph, the inputs a BatchSource fills, a scalar loss (a mean over the
// batch), the parameters and their gradients (grad(loss, params): building them is the
// caller's, so frozen parameters simply stay out), and values to fetch for metrics.
struct TrainTask {
    Graph* graph = nullptr;
    std::vector<Value> inputs;
    Value loss;
    std::vector<Value> params;
    std::vector<Value> grads;
    std::vector<Value> watch;
    // State carried from one step to the next (truncated BPTT): after every step the value
    // of `first` (e.g. an LSTM's final state) is copied into the feed of input `second` (the
    // next chunk's initial state), which the BatchSource does not fill. Being an input, it
    // stops the gradient there. Zeroed at the start of every epoch.
    std::vector<std::pair<Value, Value>> carry;
};

struct EvalResult {
    double loss = 0;
    double metric = 0;  // the task's main metric (accuracy for classifiers)
    int64_t samples = 0;
    double seconds = 0;
};

struct TrainerOptions {
    int64_t epochs = 10;         // total: a resumed run continues up to this
    double clip = 0;             // > 0: clip gradients to this global L2 norm
    std::string checkpoint;      // saved atomically after every epoch when set
    std::string resume;          // continue from this checkpoint (weights, optimizer, epoch)
    // Start from this checkpoint's weights (parameters and buffers) but not its optimizer
    // state, epoch or schedule: a new run (fine-tuning, or another framework's initial
    // weights). Excludes `resume`. Its path is recorded as metadata "init".
    std::string init;
    // Store entries `init` leaves at their initialisation (a classifier head replaced for a new
    // task, train/transfer.h): the file's tensors of these names are not read, whatever their
    // shape; any other mismatch is still an error.
    std::vector<std::string> init_keep;
    bool progress = true;        // progress bars and a line per epoch on stdout
    io::Metadata metadata;       // stored in every checkpoint (model name, normalisation, ...)
    // Metadata keys a resumed checkpoint must agree on (e.g. "model", "optimizer").
    std::vector<std::string> resume_must_match = {"model", "optimizer"};
    // Metadata keys an init checkpoint must agree on when it records them (a PyTorch
    // state_dict records none; its tensors' names and shapes are still checked).
    std::vector<std::string> init_must_match = {"model"};
    // Called after an epoch's batches and before its evaluation (e.g. precise batch norm).
    std::function<void(int64_t epoch)> before_eval;
    // How the training step compiles, e.g. compile.memory_budget (what it recomputes is in
    // step_program().compile_report().remat), or compile.check_numerics: the first node whose
    // output holds a NaN or Inf stops training, named (slower: every output is scanned).
    // Without it, a non-finite loss still stops training, before the optimizer step and the
    // checkpoint.
    CompileOptions compile;
};

struct EpochRecord {
    int64_t epoch = 0;  // 1-based
    double lr = 0, train_loss = 0, train_metric = 0;
    EvalResult eval;
    double seconds = 0, ms_per_step = 0;
};

struct TrainReport {
    std::vector<EpochRecord> records;  // the epochs this run trained (after start_epoch)
    int64_t start_epoch = 0;           // epochs done before this run (resume)
    EvalResult final_eval;             // after the last epoch (or at once if nothing was left)
    double best_metric = 0;            // over this run and, when resumed, the runs before (per the
                                       // metric's direction; higher without a metric)
    double wall_seconds = 0, ms_per_step = 0;
    std::size_t train_peak_bytes = 0;  // the training step's planned arena
    CompileReport::Remat remat;        // what the training step recomputes (memory budget)
};

class Trainer {
public:
    // Compiles the training step (loss, watched values, gradients). The optimizer must be
    // over task.params in that order; the schedule (may be null) steps once per epoch.
    Trainer(TrainTask task, optim::Optimizer& optimizer, optim::LrSchedule* schedule, TrainerOptions options);

    // Trains from the checkpoint's epoch (when resuming) up to options.epochs. `evaluate` runs
    // after every epoch (and once at the end when no epoch was left); `metric` may be null.
    TrainReport fit(BatchSource& train, const std::function<EvalResult()>& evaluate, Metric* metric = nullptr);

    CompiledGraph& step_program() { return step_; }

private:
    int64_t resume();  // returns the epochs already done
    void initialize();  // weights from options.init
    EpochRecord train_epoch(int64_t epoch, BatchSource& train, Metric* metric);
    void save(int64_t epochs_done, const EvalResult& e, double best);

    TrainTask task_;
    optim::Optimizer& opt_;
    optim::LrSchedule* schedule_;
    TrainerOptions o_;
    CompiledGraph step_;
    io::Metadata resumed_;
    std::optional<double> best_before_;  // best metric recorded in the resumed checkpoint
};

}  // namespace gg::train
