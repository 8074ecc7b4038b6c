// `graphgrad train MODEL`: trains a zoo classifier on an IDX image folder (Fashion-MNIST from
// the Debian package by default). A thin caller of the library's harness
// (graphgrad/train/classification.h): it parses options, builds the zoo model's program, the
// optimizer and the schedule, and prints the report.
//
//   graphgrad train lenet5 --epochs 10
//   graphgrad train resnet20 --epochs 15 --augment crop,flip --checkpoint r20.safetensors
//   graphgrad train resnet20 --epochs 20 --resume r20.safetensors --checkpoint r20.safetensors
//   graphgrad train lenet5 --init pytorch_lenet.safetensors --epochs 2    # a new run from given weights
//   graphgrad train lenet5 --class-subset 5-9 --train-per-class 100 --init l04.safetensors
//       --freeze 'conv*,fc1.*,fc2.*' --new-head 5                          # (one line) transfer
#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli_common.h"
#include "train_options.h"
#include "graphgrad/io/checkpoint.h"
#include "graphgrad/optim/optim.h"
#include "graphgrad/train/class_subset.h"
#include "graphgrad/train/classification.h"
#include "graphgrad/train/language_model.h"
#include "graphgrad/train/schedule_by_name.h"
#include "graphgrad/train/transfer.h"

namespace gg::cli {
namespace {


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

// --mean/--std win; else --normalize: "auto" computes them from the training images (nullopt
// here: the harness does it), "none" feeds pixel / 255.
std::optional<io::PixelStats> normalization(const TrainOptions& o) {
    if (o.mean.has_value() != o.std.has_value()) throw UsageError("--mean and --std go together");
    if (o.mean) {
        if (!(*o.std > 0) || !std::isfinite(*o.mean)) throw UsageError("--std must be positive and --mean finite");
        return io::PixelStats{*o.mean, *o.std};
    }
    if (o.normalize == "auto") return std::nullopt;
    if (o.normalize == "none") return io::PixelStats{0.0f, 1.0f};
    throw UsageError(fmt::format("--normalize \"{}\": expected auto or none (or give --mean and --std)", o.normalize));
}

nlohmann::json record_json(const EpochRecord& r) {
    return {{"epoch", r.epoch},
            {"lr", r.lr},
            {"train_loss", r.train_loss},
            {"train_accuracy", r.train_metric},
            {"test_loss", r.eval.loss},
            {"test_accuracy", r.eval.metric},
            {"seconds", r.seconds},
            {"eval_seconds", r.eval.seconds},
            {"ms_per_step", r.ms_per_step}};
}

bool uses_transfer_options(const TrainOptions& o) {
    return !o.freeze.empty() || o.new_head != 0 || !o.class_subset.empty() || o.train_per_class != 0;
}

// --class-subset and --train-per-class: the classes both sets keep, then N images per class.
void select_data(const TrainOptions& o, io::ImageDataset& train, io::ImageDataset& test) {
    if (!o.class_subset.empty()) {
        const std::vector<int64_t> classes = parse_class_list(o.class_subset, train.num_classes);
        train = select_classes(train, classes);
        test = select_classes(test, classes);
    }
    if (o.train_per_class < 0) throw UsageError(fmt::format("--train-per-class must be positive, got {}", o.train_per_class));
    if (o.train_per_class > 0) train = take_per_class(train, o.train_per_class, o.seed);
}

void check_new_head(const TrainOptions& o, int64_t classes) {
    if (o.new_head == 0) return;
    if (o.new_head < 2) throw UsageError(fmt::format("--new-head {}: a classifier needs at least 2 outputs", o.new_head));
    if (o.init.empty())
        throw UsageError("--new-head replaces the classifier head of the --init checkpoint's model: give --init");
    if (o.new_head != classes)
        throw UsageError(fmt::format("--new-head {} but the training data has {} classes{}", o.new_head, classes,
                                     o.class_subset.empty() ? " (choose some with --class-subset)" : ""));
}

int run_train(const TrainOptions& o) {
    if (uses_transfer_options(o) && (is_language_model(o.model) || is_embedding_model(o.model) ||
                                     is_text_classifier(o.model) || is_word_vector_model(o.model)))
        throw UsageError(fmt::format("--freeze, --new-head, --class-subset and --train-per-class apply to zoo image "
                                     "classifiers (lenet5, resnet20, ...), not {}",
                                     o.model));
    if (is_language_model(o.model)) return run_train_language_model(o);
    if (is_embedding_model(o.model)) return run_train_embedding(o);
    if (is_text_classifier(o.model)) return run_train_text_classifier(o);
    if (is_word_vector_model(o.model)) return run_train_word_vectors(o);
    if (is_canvas_model(o.model)) return run_train_canvas(o);
    auto t_setup = std::chrono::steady_clock::now();
    const io::Augmentations augment = io::Augmentations::parse(o.augment);
    const std::optional<io::PixelStats> norm_option = normalization(o);
    io::ImageFolder folder = io::load_image_folder(o.data);
    io::ImageDataset train = take_first(folder.train, o.limit_train);
    io::ImageDataset test = take_first(folder.test, o.limit_test);
    select_data(o, train, test);
    check_new_head(o, train.num_classes);
    const io::PixelStats norm = norm_option ? *norm_option : io::pixel_statistics(train);

    // Frozen parameters never become gradient targets: the program is built without
    // gradients, then freeze_parameters() builds them for the trainable ones only.
    const Shape chw{1, train.rows, train.cols};
    auto p = build_model_program(o.model, o.batch, chw, o.seed, /*with_grads=*/o.freeze.empty(), train.num_classes);
    const std::vector<std::string> frozen = o.freeze.empty() ? std::vector<std::string>{} : freeze_parameters(*p, o.freeze);
    const std::vector<std::string> head =
        o.new_head ? classifier_head(p->entry->build, chw, o.model) : std::vector<std::string>{};
    std::unique_ptr<optim::Optimizer> opt;
    try {
        opt = optim::make_optimizer(o.optimizer, *p->graph, p->params, optimizer_options(o));
    } catch (const GraphError& e) {  // an unknown optimizer or an option it lacks: bad usage
        throw UsageError(e.what());
    }
    auto sched = make_schedule(o.schedule, *opt, o.epochs);
    const double setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();

    ClassifierTrainOptions to{.trainer = {.epochs = o.epochs,
                                          .clip = o.clip,
                                          .checkpoint = o.checkpoint,
                                          .resume = o.resume,
                                          .init = o.init,
                                          .init_keep = head,
                                          .progress = !o.json,
                                          .metadata = {{"model", o.model},
                                                       {"schedule", o.schedule.name},
                                                       {"seed", std::to_string(o.seed)},
                                                       {"batch", std::to_string(o.batch)}},
                                          .resume_must_match = {"model", "optimizer"}},
                              .batch = o.batch,
                              .seed = o.seed,
                              .augment = augment,
                              .normalization = norm,
                              .precise_bn = o.precise_bn};
    to.trainer.compile.check_numerics = o.check_numerics;
    if (!o.class_subset.empty()) to.trainer.metadata["classes"] = o.class_subset;
    if (!o.freeze.empty()) to.trainer.metadata["frozen"] = o.freeze;
    if (!o.json && (!frozen.empty() || !head.empty()))
        fmt::print("transfer: {} frozen parameter tensors ({}){}\n", frozen.size(), o.freeze.empty() ? "none" : o.freeze,
                   head.empty() ? "" : fmt::format("; new head {} ({} outputs) not loaded from {}", fmt::join(head, ", "),
                                                   o.new_head, o.init));
    if (!o.memory_budget.empty()) to.trainer.compile.memory_budget = parse_bytes(o.memory_budget);
    if (!o.json)
        fmt::print("{}: {}\n{} parameters; {} train / {} test images {}x{} from {}, normalised with mean {:.4f} std "
                   "{:.4f}{}\nbatch {}, {} lr {:g}, schedule {}{}, {} epoch{}, augmentation {}\n",
                   o.model, p->entry->description, with_commas(p->num_parameters()), train.count, test.count,
                   train.rows, train.cols, o.data, norm.mean, norm.std, norm_option ? "" : " (from the training images)",
                   o.batch, opt->name(), sched ? sched->base_lr() : opt->lr(), o.schedule.name,
                   o.schedule.warmup > 0 ? fmt::format(" after {} warm-up epochs", o.schedule.warmup) : "", o.epochs,
                   o.epochs == 1 ? "" : "s", augment.str());
    std::fflush(stdout);  // the header reaches a log file before the first epoch ends
    const TrainReport r = train_classifier(*p, train, test, *opt, sched.get(), to);

    if (o.json) {
        nlohmann::json epochs = nlohmann::json::array();
        for (const auto& e : r.records) epochs.push_back(record_json(e));
        print_json({{"model", o.model},
                    {"parameters", p->num_parameters()},
                    {"data", o.data},
                    {"train_size", train.count},
                    {"classes", o.class_subset.empty() ? "all" : o.class_subset},
                    {"frozen", frozen},
                    {"new_head", head},
                    {"test_size", test.count},
                    {"batch", o.batch},
                    {"optimizer", opt->name()},
                    {"schedule", o.schedule.name},
                    {"augment", augment.str()},
                    {"normalize", {{"mean", norm.mean}, {"std", norm.std}}},
                    {"seed", o.seed},
                    {"start_epoch", r.start_epoch},
                    {"epochs", o.epochs},
                    {"records", epochs},
                    {"final_test_accuracy", r.final_eval.metric},
                    {"best_test_accuracy", r.best_metric},
                    {"wall_seconds", r.wall_seconds},
                    {"setup_seconds", setup_seconds},
                    {"ms_per_step", r.ms_per_step},
                    {"train_peak_bytes", r.train_peak_bytes},
                    {"remat", remat_json(r.remat)}});
        return 0;
    }
    fmt::print("{}: test accuracy final {:.2f}%, best {:.2f}% after {} epoch{}; wall time {:.1f} s (setup {:.1f} s), "
               "{:.2f} ms/step; planned training arena {} ({})\n",
               o.model, 100 * r.final_eval.metric, 100 * r.best_metric, o.epochs, o.epochs == 1 ? "" : "s",
               r.wall_seconds, setup_seconds, r.ms_per_step, human_bytes(r.train_peak_bytes), remat_text(r.remat));
    return 0;
}

}  // namespace

Command add_train_command(CLI::App& app) {
    auto o = std::make_shared<TrainOptions>();
    CLI::App* sub = app.add_subcommand("train", "Train a zoo model on an IDX image folder (Fashion-MNIST by default)");
    sub->add_option("model", o->model,
                    "Model name: a zoo classifier (see `graphgrad summary --help`), e.g. lenet5, resnet20, or a "
                    "character-level language model: char_lstm, char_gru, char_rnn, a text classifier: text_cnn, "
                    "fasttext_classifier, word vectors: word2vec, fasttext, embedding_net (metric learning: triplet "
                    "loss on P x K batches, Recall@K on the test set), or on canvases of several Fashion-MNIST items: "
                    "unet_seg (segmentation, mean IoU), yolo_v1 (detection, mAP@0.5)")
        ->required();
    sub->add_option("--data", o->data, "Folder with the four IDX files (plain or .gz)")->capture_default_str();
    sub->add_option("--epochs", o->epochs, "Total epochs (a resumed run continues up to this)")->capture_default_str();
    sub->add_option("--batch", o->batch, "Minibatch size")->capture_default_str();
    sub->add_option("--optimizer", o->optimizer, "sgd, adagrad, rmsprop, adam or adamw")->capture_default_str();
    sub->add_option("--lr", o->lr, "Learning rate (default: 0.05 for sgd, else the optimizer's default)");
    sub->add_option("--momentum", o->momentum, "Momentum (sgd: default 0.9; rmsprop)");
    sub->add_option("--weight-decay", o->weight_decay, "L2 weight decay (sgd: default 5e-4; adamw: decoupled)");
    sub->add_flag("--nesterov", o->nesterov, "Nesterov momentum (sgd)");
    sub->add_option("--clip", o->clip, "Clip gradients to this global L2 norm (0: off)")->capture_default_str();
    sub->add_flag("--check-numerics", o->check_numerics,
                  "Check every step's outputs for NaN and Inf and name the first node producing one (slower)");
    sub->add_option("--schedule", o->schedule.name, "Per-epoch LR schedule: none, step, exponential, cosine, "
                                                    "cosine-restarts, plateau (on test loss)")
        ->capture_default_str();
    sub->add_option("--step-size", o->schedule.step_size, "step: epochs between decays (default: a third of the run)");
    sub->add_option("--gamma", o->schedule.gamma, "Decay factor (step 0.1, exponential 0.9, plateau 0.1)");
    sub->add_option("--t0", o->schedule.t0, "cosine-restarts: first period in epochs (default: a third of the run)");
    sub->add_option("--eta-min", o->schedule.eta_min, "cosine schedules: lowest rate")->capture_default_str();
    sub->add_option("--patience", o->schedule.patience, "plateau: epochs without improvement")->capture_default_str();
    sub->add_option("--warmup", o->schedule.warmup, "Epochs of linear warm-up first")->capture_default_str();
    sub->add_option("--augment", o->augment,
                    "Training augmentations, each on its own: crop (2-pixel zero padding, random crop; crop:P "
                    "for P pixels), flip (left-right: wrong for digits), e.g. crop,flip; none")
        ->capture_default_str();
    sub->add_option("--normalize", o->normalize,
                    "Input normalisation: auto (mean and std of the training images) or none (pixel/255); "
                    "recorded in checkpoints, which eval then follows")
        ->capture_default_str();
    sub->add_option("--mean", o->mean, "Normalisation mean of pixel/255 (with --std; overrides --normalize)");
    sub->add_option("--std", o->std, "Normalisation standard deviation of pixel/255 (with --mean)");
    sub->add_option("--seed", o->seed, "Seed of initial weights, shuffling and augmentation")->capture_default_str();
    sub->add_option("--checkpoint", o->checkpoint, "Save a safetensors checkpoint here after every epoch (atomic)");
    sub->add_option("--resume", o->resume, "Continue from this checkpoint (weights, optimizer state, epoch)");
    sub->add_option("--init", o->init,
                    "Start a new run from this checkpoint's weights (graphgrad's, or a PyTorch state_dict as "
                    "safetensors; not its optimizer state, epoch or schedule). Language models: the checkpoint must "
                    "record the corpus's vocabulary and the same architecture")
        ->excludes("--resume");
    sub->add_option("--freeze", o->freeze,
                    "Image classifiers: do not train the parameters matching these comma-separated globs, e.g. "
                    "'conv*,layer1.*' (no gradient is built for them; frozen batch norm still updates its running "
                    "statistics, as PyTorch's requires_grad=False)");
    sub->add_option("--new-head", o->new_head,
                    "Image classifiers, with --init: replace the final classifier layer by a freshly initialised one "
                    "with K outputs (K = the classes trained on); --init loads every other tensor");
    sub->add_option("--class-subset", o->class_subset,
                    "Image classifiers: train and test only on these classes, relabelled 0..K-1 in the order given, "
                    "e.g. 5-9 or 0,2,4");
    sub->add_option("--train-per-class", o->train_per_class,
                    "Image classifiers: N training images per class, drawn reproducibly with --seed");
    sub->add_option("--limit-train", o->limit_train, "Use only the first N training images (quick runs)");
    sub->add_option("--limit-test", o->limit_test, "Evaluate on only the first N test images");
    sub->add_option("--memory-budget", o->memory_budget,
                    "Plan the training step within this many bytes (e.g. 300MiB), recomputing activations in the "
                    "backward pass to fit; fails naming the smallest reachable budget");
    sub->add_option("--precise-bn", o->precise_bn,
                    "Before each evaluation, re-estimate batch-norm running statistics on N training batches "
                    "with the epoch's final weights (0: off)")
        ->capture_default_str();
    sub->add_option("--text", o->text, "Language models: a UTF-8 text file (default: the King James Bible from "
                                       "Debian's bible-kjv)");
    sub->add_option("--seq", o->seq, "Language models: truncated-BPTT window in characters")->capture_default_str();
    sub->add_option("--embedding", o->embedding, "Language models: character embedding width")->capture_default_str();
    sub->add_option("--hidden", o->hidden, "Language models: recurrent state width")->capture_default_str();
    sub->add_option("--layers", o->layers, "Language models: recurrent layers")->capture_default_str();
    sub->add_option("--dropout", o->dropout, "Language models: dropout between recurrent layers")->capture_default_str();
    sub->add_flag("--fused", o->fused, "Language models: one fused recurrent op per layer (oneDNN) instead of graph code");
    sub->add_option("--split-blocks", o->split_blocks,
                    "Language models: cut the text into N equal blocks and split each 90/5/5 % into train/valid/test "
                    "(held-out pieces from every part of the text; 1: one contiguous split, char-rnn's; 0: one block "
                    "per 10,000 characters, at most 100)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--limit-valid", o->limit_valid, "Language models: validate on only the first N windows");
    sub->add_option("--loss", o->loss, "embedding_net: the metric-learning loss (triplet); unet_seg: ce, dice, jaccard, ce+dice or ce+jaccard (default ce)")->capture_default_str();
    sub->add_option("--mining", o->mining, "embedding_net: triplet mining in the batch: batch-hard, semi-hard, batch-all")
        ->capture_default_str();
    sub->add_option("--margin", o->margin, "embedding_net: triplet margin")->capture_default_str();
    sub->add_option("--sec", o->sec, "embedding_net: weight η of the spherical embedding constraint (0: off)")
        ->capture_default_str();
    sub->add_option("--distance", o->distance,
                    "embedding_net: squared or euclidean distance between L2-normalised embeddings in the loss")
        ->capture_default_str();
    sub->add_option("--classes", o->classes, "embedding_net: P, classes per batch (batch = P x K)")->capture_default_str();
    sub->add_option("--per-class", o->per_class, "embedding_net: K, images per class in a batch")->capture_default_str();
    sub->add_option("--plot", o->plot, "embedding_net: PNG of the test embeddings' 2-D PCA projection (gnuplot)");
    sub->add_option("--corpus", o->corpus, "Text classifiers: fortune-category (the category of each English fortune) "
                                           "or language (de, en, es, it, pt) from Debian's fortune packages");
    sub->add_option("--variant", o->variant, "text_cnn: rand (embeddings learnt from scratch), static or non-static "
                                             "(pre-trained vectors, frozen or fine-tuned)")
        ->capture_default_str();
    sub->add_option("--dim", o->dim, "Embedding width (default: 64 for embedding_net, 128 for text_cnn, 100 for fasttext_classifier, word2vec and fasttext)");
    sub->add_option("--word-ngrams", o->word_ngrams, "fasttext_classifier: longest word n-gram (1: words only)")
        ->capture_default_str();
    sub->add_option("--buckets", o->buckets,
                    "Hash buckets for word n-grams (fasttext_classifier, default 200,000) or character n-grams (word "
                    "vectors, default 2,000,000)");
    sub->add_option("--max-tokens", o->max_tokens, "text_cnn: texts padded or cut to this many tokens")->capture_default_str();
    sub->add_option("--max-per-class", o->max_per_class,
                    "Text classifiers: at most N texts per class, drawn by the seeded split (default: 3000 for "
                    "language, all for fortune-category; 0: all)");
    sub->add_option("--embeddings", o->embeddings,
                    "text_cnn: pre-trained word vectors in word2vec's text format (graphgrad train word2vec --out, "
                    "fastText .vec) for --variant static or non-static");
    sub->add_option("--write-split", o->write_split,
                    "Text classifiers: also write train.txt, valid.txt, test.txt in fastText's format to this folder");
    sub->add_flag("--json", o->json, "Print JSON (per-epoch records) instead of progress and text");
    add_word_vector_options(sub, o->words);
    add_canvas_options(sub, o->canvas);
    return {sub, [o, sub] {
                o->given_epochs = sub->count("--epochs") > 0;
                o->given_loss = sub->count("--loss") > 0;
                o->given_lr = sub->count("--lr") > 0;
                o->given_batch = sub->count("--batch") > 0;
                o->given_optimizer = sub->count("--optimizer") > 0;
                o->given_clip = sub->count("--clip") > 0;
                o->given_schedule = sub->count("--schedule") > 0;
                return run_train(*o);
            }};
}

}  // namespace gg::cli
