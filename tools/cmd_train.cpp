// `graphgrad train MODEL`: trains a zoo classifier on an IDX image folder (Fashion-MNIST from
// the Debian package by default). One graph, two programs compiled from it: the training step
// (loss, logits, gradients; batch norm on batch statistics) and the evaluation program
// (logits only; batch norm on running statistics), sharing the parameter store that the
// optimizer updates and the checkpoint dumps.
//
//   graphgrad train lenet5 --epochs 10
//   graphgrad train resnet20 --epochs 15 --augment --checkpoint r20.safetensors
//   graphgrad train resnet20 --epochs 20 --resume r20.safetensors --checkpoint r20.safetensors
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/io/checkpoint.h"
#include "graphgrad/train/model_program.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/optim/optim.h"
#include "graphgrad/train/progress_bar.h"
#include "graphgrad/train/schedule_by_name.h"

namespace gg::cli {
namespace {

struct TrainOptions {
    std::string model;
    std::string data = io::kFashionMnistDir;
    int64_t epochs = 10;
    int64_t batch = 128;
    std::string optimizer = "sgd";
    std::optional<double> lr, momentum, weight_decay;
    bool nesterov = false;
    double clip = 0;  // 0: no clipping
    ScheduleOptions schedule;
    bool augment = false;
    uint64_t seed = 1;
    std::string checkpoint, resume;
    int64_t limit_train = 0, limit_test = 0;
    int64_t precise_bn = 0;  // > 0: re-estimate batch-norm running statistics on this many batches
    bool json = false;
};

// SGD gets a recipe that trains the zoo's conv nets well (momentum 0.9, lr 0.05, weight decay
// 5e-4); other optimizers keep PyTorch's defaults unless flags say otherwise.
optim::OptimizerOptions optimizer_options(const TrainOptions& o) {
    optim::OptimizerOptions oo;
    const bool sgd = o.optimizer == "sgd";
    oo.lr = o.lr ? o.lr : (sgd ? std::optional<double>(0.05) : std::nullopt);
    oo.momentum = o.momentum ? o.momentum : (sgd ? std::optional<double>(0.9) : std::nullopt);
    oo.weight_decay = o.weight_decay ? o.weight_decay : (sgd ? std::optional<double>(5e-4) : std::nullopt);
    if (o.nesterov) oo.nesterov = true;
    return oo;
}

struct EpochRecord {
    int64_t epoch = 0;  // 1-based
    double lr = 0, train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0;
    double seconds = 0, eval_seconds = 0, batches_per_second = 0, ms_per_step = 0;
    nlohmann::json to_json() const {
        return {{"epoch", epoch},           {"lr", lr},
                {"train_loss", train_loss}, {"train_accuracy", train_accuracy},
                {"test_loss", test_loss},   {"test_accuracy", test_accuracy},
                {"seconds", seconds},       {"eval_seconds", eval_seconds},
                {"batches_per_second", batches_per_second}, {"ms_per_step", ms_per_step}};
    }
};

int run_train(const TrainOptions& o) {
    if (o.epochs < 1) throw UsageError("--epochs must be positive");
    if (o.clip < 0) throw UsageError("--clip must be >= 0");
    if (o.precise_bn < 0) throw UsageError("--precise-bn must be >= 0");
    auto t_setup = std::chrono::steady_clock::now();
    io::ImageFolder folder = io::load_image_folder(o.data);
    const io::ImageDataset train = take_first(folder.train, o.limit_train);
    const io::ImageDataset test = take_first(folder.test, o.limit_test);
    if (train.count < o.batch)
        throw UsageError(fmt::format("--batch {} is larger than the {} training samples", o.batch, train.count));

    auto p = build_model_program(o.model, o.batch, {1, train.rows, train.cols}, o.seed, /*with_grads=*/true,
                                 train.num_classes);
    Graph& g = *p->graph;
    CompiledGraph step = compile(g, p->train_fetches());
    CompiledGraph eval = compile(g, {p->logits});  // no gradient nodes: evaluation mode

    // Resume before the optimizer exists: load_checkpoint adds the file's optimizer slots to
    // the store and the optimizer adopts them, so momentum and Adam moments carry on.
    int64_t start_epoch = 0;
    double best_accuracy = 0;
    io::Metadata resumed;
    if (!o.resume.empty()) {
        resumed = io::load_checkpoint(g.store(), o.resume);
        if (resumed.count("model") && resumed.at("model") != o.model)
            throw UsageError(fmt::format("--resume {}: the checkpoint is of model {}, not {}", o.resume,
                                         resumed.at("model"), o.model));
        if (resumed.count("optimizer") && resumed.at("optimizer") != o.optimizer)
            throw UsageError(fmt::format("--resume {}: the checkpoint was trained with --optimizer {}; resume with the "
                                         "same optimizer",
                                         o.resume, resumed.at("optimizer")));
        start_epoch = resumed.count("epoch") ? std::stoll(resumed.at("epoch")) : 0;
        if (resumed.count("best_test_accuracy")) best_accuracy = std::stod(resumed.at("best_test_accuracy"));
    }
    std::unique_ptr<optim::Optimizer> opt;
    try {
        opt = optim::make_optimizer(o.optimizer, g, p->params, optimizer_options(o));
    } catch (const GraphError& e) {  // an unknown optimizer or an option it lacks: bad usage
        throw UsageError(e.what());
    }
    auto sched = make_schedule(o.schedule, *opt, o.epochs);
    if (start_epoch > 0) resume_schedule(sched.get(), start_epoch, resumed);

    io::BatchLoader loader(train, {.batch_size = o.batch,
                                   .seed = o.seed,
                                   .shuffle = true,
                                   .last_batch = io::LastBatch::Drop,  // every batch has the compiled shape
                                   .crop_padding = o.augment ? 2 : 0,
                                   .hflip = o.augment});
    const int64_t batches = loader.num_batches();
    const double setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();

    if (!o.json) {
        fmt::print("{}: {}\n{} parameters; {} train / {} test images {}x{} from {}\n", o.model, p->entry->description,
                   with_commas(p->num_parameters()), train.count, test.count, train.rows, train.cols, o.data);
        fmt::print("batch {}, {} lr {:g}, schedule {}{}, {} epoch{}{}; planned arena: training step {}, evaluation {}\n",
                   o.batch, opt->name(), sched ? sched->base_lr() : opt->lr(), o.schedule.name,
                   o.schedule.warmup > 0 ? fmt::format(" after {} warm-up epochs", o.schedule.warmup) : "", o.epochs,
                   o.epochs == 1 ? "" : "s", o.augment ? ", augmented (crop, flip)" : "", human_bytes(step.peak_bytes()),
                   human_bytes(eval.peak_bytes()));
        if (start_epoch > 0) fmt::print("resumed from {} after epoch {}\n", o.resume, start_epoch);
    }

    Tensor images(p->x.desc()), labels(p->y.desc());  // feed buffers, refilled in place
    std::vector<Tensor> grads;
    grads.reserve(p->grads.size());
    std::vector<EpochRecord> records;
    double step_seconds = 0;
    int64_t steps = 0;
    std::unique_ptr<optim::PreciseBatchNorm> precise;  // --precise-bn's forward program, made once
    auto t_train = std::chrono::steady_clock::now();
    for (int64_t epoch = start_epoch; epoch < o.epochs; ++epoch) {
        EpochRecord r;
        r.epoch = epoch + 1;
        r.lr = opt->lr();
        loader.start_epoch(epoch);
        ProgressBar bar(fmt::format("epoch {}/{}", epoch + 1, o.epochs), batches, !o.json);
        double loss_sum = 0, epoch_step_seconds = 0;
        int64_t correct = 0, seen = 0;
        for (int64_t b = 0; b < batches; ++b) {
            loader.fill(b, images, labels);
            auto t0 = std::chrono::steady_clock::now();
            std::vector<Tensor> out = step.run({{p->x, images}, {p->y, labels}});
            grads.assign(out.begin() + 2, out.end());
            if (o.clip > 0) optim::clip_grad_norm(grads, o.clip);
            opt->step(grads);
            epoch_step_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

            const double loss = out[0].get(0);
            if (!std::isfinite(loss))
                throw_graph("training diverged: loss is {} at epoch {}, batch {} (try a lower --lr or --clip 1)", loss,
                            epoch + 1, b + 1);
            BatchScore s = score_batch(out[1], labels, o.batch);
            loss_sum += loss * static_cast<double>(o.batch);
            correct += s.correct;
            seen += o.batch;
            bar.update(b + 1, loss_sum / static_cast<double>(seen), static_cast<double>(correct) / static_cast<double>(seen));
        }
        bar.finish();
        r.seconds = bar.seconds();
        r.train_loss = loss_sum / static_cast<double>(seen);
        r.train_accuracy = static_cast<double>(correct) / static_cast<double>(seen);
        r.batches_per_second = static_cast<double>(batches) / r.seconds;
        r.ms_per_step = 1e3 * epoch_step_seconds / static_cast<double>(batches);
        step_seconds += epoch_step_seconds;
        steps += batches;

        if (o.precise_bn > 0) {
            // Running statistics lag weights that move fast (attention after batch norm: 15-66%
            // test accuracy with them); optim/precise_bn.h re-estimates them with the final weights.
            if (!precise) precise = std::make_unique<optim::PreciseBatchNorm>(g, p->logits);
            precise->recalibrate([&](int64_t b) {
                loader.fill(b, images, labels);
                return Feeds{{p->x, images}};
            }, std::min(o.precise_bn, batches));
        }
        EvalResult e = evaluate(eval, *p, test);
        r.test_loss = e.loss;
        r.test_accuracy = e.accuracy;
        r.eval_seconds = e.seconds;
        best_accuracy = std::max(best_accuracy, e.accuracy);
        step_schedule(sched.get(), e.loss);
        records.push_back(r);
        if (!o.json)
            fmt::print("epoch {}/{}: train loss {:.4f} acc {:.2f}% | test loss {:.4f} acc {:.2f}% | lr {:.4g} | {:.1f} s "
                       "({:.2f} ms/step), eval {:.1f} s\n",
                       r.epoch, o.epochs, r.train_loss, 100 * r.train_accuracy, r.test_loss, 100 * r.test_accuracy,
                       r.lr, r.seconds, r.ms_per_step, r.eval_seconds);

        if (!o.checkpoint.empty()) {
            io::Metadata meta{{"epoch", std::to_string(epoch + 1)},
                              {"model", o.model},
                              {"optimizer", o.optimizer},
                              {"lr", fmt::format("{:.17g}", opt->lr())},
                              {"schedule", o.schedule.name},
                              {"seed", std::to_string(o.seed)},
                              {"batch", std::to_string(o.batch)},
                              {"test_accuracy", fmt::format("{:.6f}", e.accuracy)},
                              {"best_test_accuracy", fmt::format("{:.17g}", best_accuracy)}};
            save_schedule_state(sched.get(), meta);
            io::save_checkpoint(g.store(), o.checkpoint, meta);  // atomic: temp file, fsync, rename
            if (!o.json) fmt::print("  checkpoint: {} (epoch {})\n", o.checkpoint, epoch + 1);
        }
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_train).count();
    const double ms_per_step = steps ? 1e3 * step_seconds / static_cast<double>(steps) : 0.0;
    std::optional<EvalResult> final_eval;
    if (records.empty()) final_eval = evaluate(eval, *p, test);  // resumed at or past --epochs
    const double final_accuracy = records.empty() ? final_eval->accuracy : records.back().test_accuracy;
    best_accuracy = std::max(best_accuracy, final_accuracy);

    if (o.json) {
        nlohmann::json epochs = nlohmann::json::array();
        for (const auto& r : records) epochs.push_back(r.to_json());
        print_json({{"model", o.model},
                    {"parameters", p->num_parameters()},
                    {"data", o.data},
                    {"train_size", train.count},
                    {"test_size", test.count},
                    {"batch", o.batch},
                    {"optimizer", opt->name()},
                    {"schedule", o.schedule.name},
                    {"augment", o.augment},
                    {"seed", o.seed},
                    {"start_epoch", start_epoch},
                    {"epochs", o.epochs},
                    {"records", epochs},
                    {"final_test_accuracy", final_accuracy},
                    {"best_test_accuracy", best_accuracy},
                    {"wall_seconds", wall},
                    {"setup_seconds", setup_seconds},
                    {"ms_per_step", ms_per_step},
                    {"train_peak_bytes", step.peak_bytes()},
                    {"eval_peak_bytes", eval.peak_bytes()}});
        return 0;
    }
    fmt::print("{}: test accuracy final {:.2f}%, best {:.2f}% after {} epoch{}; wall time {:.1f} s (setup {:.1f} s), "
               "{:.2f} ms/step\n",
               o.model, 100 * final_accuracy, 100 * best_accuracy, o.epochs, o.epochs == 1 ? "" : "s", wall,
               setup_seconds, ms_per_step);
    return 0;
}

}  // namespace

Command add_train_command(CLI::App& app) {
    auto o = std::make_shared<TrainOptions>();
    CLI::App* sub = app.add_subcommand("train", "Train a zoo model on an IDX image folder (Fashion-MNIST by default)");
    sub->add_option("model", o->model, "Model name (see `graphgrad summary --help`), e.g. lenet5, resnet20")->required();
    sub->add_option("--data", o->data, "Folder with the four IDX files (plain or .gz)")->capture_default_str();
    sub->add_option("--epochs", o->epochs, "Total epochs (a resumed run continues up to this)")->capture_default_str();
    sub->add_option("--batch", o->batch, "Minibatch size")->capture_default_str();
    sub->add_option("--optimizer", o->optimizer, "sgd, adagrad, rmsprop, adam or adamw")->capture_default_str();
    sub->add_option("--lr", o->lr, "Learning rate (default: 0.05 for sgd, else the optimizer's default)");
    sub->add_option("--momentum", o->momentum, "Momentum (sgd: default 0.9; rmsprop)");
    sub->add_option("--weight-decay", o->weight_decay, "L2 weight decay (sgd: default 5e-4; adamw: decoupled)");
    sub->add_flag("--nesterov", o->nesterov, "Nesterov momentum (sgd)");
    sub->add_option("--clip", o->clip, "Clip gradients to this global L2 norm (0: off)")->capture_default_str();
    sub->add_option("--schedule", o->schedule.name, "Per-epoch LR schedule: none, step, exponential, cosine, "
                                                    "cosine-restarts, plateau (on test loss)")
        ->capture_default_str();
    sub->add_option("--step-size", o->schedule.step_size, "step: epochs between decays (default: a third of the run)");
    sub->add_option("--gamma", o->schedule.gamma, "Decay factor (step 0.1, exponential 0.9, plateau 0.1)");
    sub->add_option("--t0", o->schedule.t0, "cosine-restarts: first period in epochs (default: a third of the run)");
    sub->add_option("--eta-min", o->schedule.eta_min, "cosine schedules: lowest rate")->capture_default_str();
    sub->add_option("--patience", o->schedule.patience, "plateau: epochs without improvement")->capture_default_str();
    sub->add_option("--warmup", o->schedule.warmup, "Epochs of linear warm-up first")->capture_default_str();
    sub->add_flag("--augment", o->augment, "Random crop (2-pixel zero padding) and horizontal flip");
    sub->add_option("--seed", o->seed, "Seed of initial weights, shuffling and augmentation")->capture_default_str();
    sub->add_option("--checkpoint", o->checkpoint, "Save a safetensors checkpoint here after every epoch (atomic)");
    sub->add_option("--resume", o->resume, "Continue from this checkpoint (weights, optimizer state, epoch)");
    sub->add_option("--limit-train", o->limit_train, "Use only the first N training images (quick runs)");
    sub->add_option("--limit-test", o->limit_test, "Evaluate on only the first N test images");
    sub->add_option("--precise-bn", o->precise_bn,
                    "Before each evaluation, re-estimate batch-norm running statistics on N training batches "
                    "with the epoch's final weights (0: off)")
        ->capture_default_str();
    sub->add_flag("--json", o->json, "Print JSON (per-epoch records) instead of progress and text");
    return {sub, [o] { return run_train(*o); }};
}

}  // namespace gg::cli
