// Image classification on the training harness: batches of an ImageDataset for a
// ModelProgram's x and y, top-1 accuracy, evaluation over a whole test set, and
// train_classifier(), which is `graphgrad train` minus option parsing. Input normalisation
// and augmentations are the caller's choice and are recorded in checkpoints, so evaluation
// normalises the way training did.
//
//   auto data = gg::io::load_image_folder();                       // Fashion-MNIST
//   auto p = gg::train::build_classifier_program(my_net, 128, {1, 28, 28}, 1, true);
//   gg::optim::Adam opt(*p->graph, p->params, {.lr = 1e-3});
//   auto report = gg::train::train_classifier(*p, data.train, data.test, opt, nullptr,
//                                             {.trainer = {.epochs = 3}, .batch = 128});
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "graphgrad/graph/executor.h"
#include "graphgrad/io/dataset.h"
#include "graphgrad/train/model_program.h"
#include "graphgrad/train/trainer.h"

namespace gg::train {

// Batches for x [B, C, H, W] and y [B] through io::BatchLoader (shuffle, augmentation and
// normalisation per its options). Keeps a reference to `data`.
class ImageBatches final : public BatchSource {
public:
    ImageBatches(const io::ImageDataset& data, io::LoaderOptions options);
    int64_t num_batches() const override { return loader_.num_batches(); }
    void start_epoch(int64_t epoch) override { loader_.start_epoch(epoch); }
    int64_t fill(int64_t b, std::vector<Tensor>& feeds) override;

private:
    io::BatchLoader loader_;
};

// Top-1 accuracy of logits (the first watched value) against labels (the second feed).
class AccuracyMetric final : public Metric {
public:
    std::string name() const override { return "accuracy"; }
    void reset() override { correct_ = seen_ = 0; }
    void add(const std::vector<Tensor>& watched, const std::vector<Tensor>& feeds, int64_t valid) override;
    double value() const override { return seen_ ? static_cast<double>(correct_) / static_cast<double>(seen_) : 0; }
    bool is_fraction() const override { return true; }

private:
    int64_t correct_ = 0, seen_ = 0;
};

// Mean cross-entropy numerator and correct count over the first `valid` rows of f32 logits
// [B, C] (host side, so the padded rows of a fixed-shape evaluation batch are not counted).
struct BatchScore {
    double loss_sum = 0;
    int64_t correct = 0;
};
BatchScore score_batch(const Tensor& logits, const Tensor& labels, int64_t valid);

// Test loss and accuracy (EvalResult::metric) of a forward program fetching p.logits, over
// every sample of `data` in fixed-shape batches (the last one padded and its padding ignored).
EvalResult evaluate_classifier(CompiledGraph& eval, const ModelProgram& p, const io::ImageDataset& data,
                               const io::PixelStats& normalization);

struct ClassifierTrainOptions {
    TrainerOptions trainer;
    int64_t batch = 128;
    uint64_t seed = 1;                  // shuffling and augmentation draws
    io::Augmentations augment;          // none by default
    // Input normalisation; unset: computed from the training images (io::pixel_statistics).
    std::optional<io::PixelStats> normalization;
    int64_t precise_bn = 0;             // > 0: re-estimate batch-norm statistics on N batches before each evaluation
};

// Trains p on `train`, evaluating on `test` after every epoch, with the options' normalisation
// (recorded in checkpoint metadata as "normalize_mean"/"normalize_std") and augmentations.
TrainReport train_classifier(ModelProgram& p, const io::ImageDataset& train, const io::ImageDataset& test,
                             optim::Optimizer& optimizer, optim::LrSchedule* schedule, ClassifierTrainOptions options);

// The normalisation a checkpoint's metadata records, if any (`source` names the file in the
// DataError a malformed record raises).
std::optional<io::PixelStats> recorded_normalization(const io::Metadata& meta, const std::string& source = "checkpoint");
void record_normalization(io::Metadata& meta, const io::PixelStats& stats);

// The first n samples of `data` (n <= 0 or >= count: all of it), for quick runs.
io::ImageDataset take_first(const io::ImageDataset& data, int64_t n);

}  // namespace gg::train
