// Metric learning on the training harness: an embedding network trained with the triplet
// loss (in-batch mining) plus the spherical embedding constraint, on class-balanced P×K
// batches, evaluated by Recall@K retrieval on a test set. train_embedding() is
// `graphgrad train embedding_net` minus option parsing.
//
//   auto data = gg::io::load_image_folder();                                  // Fashion-MNIST
//   auto p = gg::train::build_embedding_program({.classes = 8, .per_class = 16, .dim = 64,
//                                                .triplet = {.mining = gg::models::TripletMining::SemiHard},
//                                                .sec = 0.1});
//   gg::optim::Adam opt(*p->graph, p->params, {.lr = 1e-3});
//   auto r = gg::train::train_embedding(*p, data.train, data.test, opt, nullptr, {.trainer = {.epochs = 3}});
//   // r.final_eval.recall[0] is Recall@1; r.final_eval.norms.cv() the spread of the norms
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/io/dataset.h"
#include "graphgrad/models/metric_learning.h"
#include "graphgrad/train/embedding_eval.h"
#include "graphgrad/train/trainer.h"

namespace gg::train {

// Batches of P classes × K images per class for x [P·K, 1, H, W] and y [P·K] (class by class:
// rows c·K … c·K + K − 1 share a label). Each batch draws P distinct classes uniformly among
// those with at least K images; each class deals K distinct images from its own shuffled
// deck, reshuffled when fewer than K are left, so an epoch (count / (P·K) batches) sees about
// every image once. Order is a pure function of (seed, epoch).
class PKBatches final : public BatchSource {
public:
    struct Options {
        int64_t classes = 8;     // P
        int64_t per_class = 16;  // K
        uint64_t seed = 1;
        io::PixelStats normalization;  // x = (pixel / 255 − mean) / std
    };
    // Keeps a reference to `data`. Throws OptionError when fewer than P classes have K images.
    PKBatches(const io::ImageDataset& data, Options options);

    int64_t num_batches() const override { return batches_; }
    void start_epoch(int64_t epoch) override;
    int64_t fill(int64_t b, std::vector<Tensor>& feeds) override;
    // The dataset rows of batch b in the current epoch, in batch order.
    std::vector<int64_t> batch_rows(int64_t b) const;

private:
    const io::ImageDataset& data_;
    Options o_;
    int64_t batches_ = 0;
    std::vector<std::vector<int64_t>> by_class_;  // eligible classes' rows
    std::vector<int64_t> order_;                  // batches_ · P · K rows for this epoch
    std::array<float, 256> lut_{};
};

struct EmbeddingProgramOptions {
    int64_t classes = 8, per_class = 16;  // the batch is P·K
    Shape chw = {1, 28, 28};
    int64_t dim = 64;
    models::TripletOptions triplet;
    double sec = 0;  // η: loss = triplet + η·L_sec (0: no SEC)
    uint64_t seed = 1;
    bool with_grads = true;
    // The network; default models::embedding_net.
    std::function<Value(Value x, int64_t dim)> net;
};

struct EmbeddingProgram {
    std::unique_ptr<Graph> graph;  // heap-held: Values point at it
    EmbeddingProgramOptions options;
    Value x, y;
    Value embeddings;             // raw network output [B, dim]
    models::TripletLoss triplet;  // triplet.loss and what was mined
    Value sec;                    // L_sec (computed and reported even when η = 0)
    Value loss;                   // triplet.loss + η·sec
    std::vector<Value> params, grads;
    int64_t num_parameters() const;
};
std::unique_ptr<EmbeddingProgram> build_embedding_program(EmbeddingProgramOptions options);

// Recall@1 inside each training batch (every row a query against the batch's other rows), from
// the raw embeddings (first watched value) and the labels (second feed).
class InBatchRecallMetric final : public Metric {
public:
    std::string name() const override { return "recall@1"; }
    void reset() override { hits_ = seen_ = 0; }
    void add(const std::vector<Tensor>& watched, const std::vector<Tensor>& feeds, int64_t valid) override;
    double value() const override { return seen_ ? static_cast<double>(hits_) / static_cast<double>(seen_) : 0; }
    bool is_fraction() const override { return true; }

private:
    int64_t hits_ = 0, seen_ = 0;
};

struct EmbeddingEvaluation {
    Embeddings embeddings;        // raw, every sample of the evaluated set in order
    std::vector<int64_t> ks;
    std::vector<double> recall;   // per K
    NormStats norms;              // of the raw embeddings
    double triplet_loss = 0;      // mean over the full fixed-order batches (no SEC)
    double seconds = 0;
};
// Embeds every sample of `data` with an evaluation program fetching {embeddings, triplet.loss}
// (batch norm on running statistics) and scores retrieval.
EmbeddingEvaluation evaluate_embeddings(CompiledGraph& eval, const EmbeddingProgram& p, const io::ImageDataset& data,
                                        const io::PixelStats& normalization, const std::vector<int64_t>& ks = {1, 5});

struct EmbeddingTrainOptions {
    TrainerOptions trainer;
    uint64_t seed = 1;  // batch sampling
    std::optional<io::PixelStats> normalization;  // unset: from the training images
    std::vector<int64_t> ks = {1, 5};
};
struct EmbeddingTrainReport {
    TrainReport train;              // EvalResult::metric is test Recall@1, loss the test triplet loss
    EmbeddingEvaluation final_eval;  // after the last epoch
};
EmbeddingTrainReport train_embedding(EmbeddingProgram& p, const io::ImageDataset& train, const io::ImageDataset& test,
                                     optim::Optimizer& optimizer, optim::LrSchedule* schedule,
                                     EmbeddingTrainOptions options);

}  // namespace gg::train
