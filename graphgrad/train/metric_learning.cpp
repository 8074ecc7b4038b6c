#include "graphgrad/train/metric_learning.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "graphgrad/graph/rng.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/train/classification.h"

namespace gg::train {
namespace {

// Fisher-Yates with a fixed generator: the same order on every platform for a given seed.
void shuffle_rows(std::vector<int64_t>& v, std::mt19937_64& rng) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng() % i]);
}

}  // namespace

// --- P×K batches ---------------------------------------------------------------------------

PKBatches::PKBatches(const io::ImageDataset& data, Options o) : data_(data), o_(o) {
    if (o_.classes < 2 || o_.per_class < 2)
        throw OptionError(fmt::format("P×K batches need P ≥ 2 classes and K ≥ 2 images per class (a positive and a "
                                      "negative for every anchor), got P = {}, K = {}", o_.classes, o_.per_class));
    if (!(o_.normalization.std > 0) || !std::isfinite(o_.normalization.mean))
        throw OptionError(fmt::format("P×K batches: need std > 0 and a finite mean, got mean {} std {}",
                                      o_.normalization.mean, o_.normalization.std));
    std::vector<std::vector<int64_t>> rows(static_cast<std::size_t>(std::max<int64_t>(data.num_classes, 1)));
    for (int64_t i = 0; i < data.count; ++i) rows.at(data.labels[static_cast<std::size_t>(i)]).push_back(i);
    for (auto& r : rows)
        if (static_cast<int64_t>(r.size()) >= o_.per_class) by_class_.push_back(std::move(r));
    if (static_cast<int64_t>(by_class_.size()) < o_.classes)
        throw OptionError(fmt::format("P×K batches: only {} classes have at least K = {} images, P = {} needed",
                                      by_class_.size(), o_.per_class, o_.classes));
    batches_ = data.count / (o_.classes * o_.per_class);
    if (batches_ < 1)
        throw OptionError(fmt::format("P×K batches: {} images make no batch of {} × {}", data.count, o_.classes,
                                      o_.per_class));
    for (int v = 0; v < 256; ++v)
        lut_[v] = (static_cast<float>(v) / 255.0f - o_.normalization.mean) / o_.normalization.std;
    start_epoch(0);
}

void PKBatches::start_epoch(int64_t epoch) {
    std::mt19937_64 rng(hash_combine(o_.seed, static_cast<uint64_t>(epoch) + 0x9e3779b97f4a7c15ULL));
    std::vector<std::vector<int64_t>> decks = by_class_;
    std::vector<std::size_t> next(decks.size(), 0);
    for (auto& d : decks) shuffle_rows(d, rng);
    std::vector<int64_t> classes(by_class_.size());
    std::iota(classes.begin(), classes.end(), int64_t{0});
    order_.clear();
    order_.reserve(static_cast<std::size_t>(batches_ * o_.classes * o_.per_class));
    for (int64_t b = 0; b < batches_; ++b) {
        // P distinct classes: the first P of a partial Fisher-Yates.
        for (std::size_t c = 0; c < static_cast<std::size_t>(o_.classes); ++c)
            std::swap(classes[c], classes[c + rng() % (classes.size() - c)]);
        for (int64_t c = 0; c < o_.classes; ++c) {
            auto& deck = decks[classes[c]];
            std::size_t& at = next[classes[c]];
            // Too few left for K distinct images: reshuffle the whole deck (the remainder
            // waits for the next round), so a batch never holds an image twice.
            if (deck.size() - at < static_cast<std::size_t>(o_.per_class)) {
                shuffle_rows(deck, rng);
                at = 0;
            }
            for (int64_t k = 0; k < o_.per_class; ++k) order_.push_back(deck[at++]);
        }
    }
}

std::vector<int64_t> PKBatches::batch_rows(int64_t b) const {
    if (b < 0 || b >= batches_) throw OptionError(fmt::format("P×K batches: batch {} of {}", b, batches_));
    const int64_t n = o_.classes * o_.per_class;
    return {order_.begin() + b * n, order_.begin() + (b + 1) * n};
}

int64_t PKBatches::fill(int64_t b, std::vector<Tensor>& feeds) {
    const int64_t n = o_.classes * o_.per_class, pixels = data_.rows * data_.cols;
    if (feeds.size() != 2 || feeds[0].numel() != n * pixels || feeds[0].dtype() != DType::F32 ||
        feeds[1].numel() != n || feeds[1].dtype() != DType::I64)
        throw OptionError(fmt::format("P×K batches fill f32 x of {} images of {}x{} and i64 y [{}]", n, data_.rows,
                                      data_.cols, n));
    if (b < 0 || b >= batches_) throw OptionError(fmt::format("P×K batches: batch {} of {}", b, batches_));
    float* x = feeds[0].data<float>();
    int64_t* y = feeds[1].data<int64_t>();
    for (int64_t r = 0; r < n; ++r) {
        const int64_t row = order_[static_cast<std::size_t>(b * n + r)];
        const uint8_t* src = data_.image(row);
        for (int64_t p = 0; p < pixels; ++p) x[r * pixels + p] = lut_[src[p]];
        y[r] = data_.labels[static_cast<std::size_t>(row)];
    }
    return n;
}

// --- the program ---------------------------------------------------------------------------

int64_t EmbeddingProgram::num_parameters() const {
    int64_t n = 0;
    for (const Value& p : params) n += p.numel();
    return n;
}

std::unique_ptr<EmbeddingProgram> build_embedding_program(EmbeddingProgramOptions o) {
    if (o.classes < 2 || o.per_class < 2)
        throw OptionError(fmt::format("an embedding program needs P ≥ 2 and K ≥ 2, got P = {}, K = {}", o.classes,
                                      o.per_class));
    if (o.chw.size() != 3) throw OptionError(fmt::format("input must be C x H x W, got {}", shape_str(o.chw)));
    if (!(o.sec >= 0) || !std::isfinite(o.sec))
        throw OptionError(fmt::format("the SEC weight must be finite and >= 0, got {}", o.sec));
    if (!o.net) o.net = [](Value x, int64_t dim) { return models::embedding_net(x, dim); };
    auto p = std::make_unique<EmbeddingProgram>();
    p->graph = std::make_unique<Graph>(o.seed);
    Graph& g = *p->graph;
    const int64_t batch = o.classes * o.per_class;
    p->x = g.input("x", {batch, o.chw[0], o.chw[1], o.chw[2]});
    p->y = g.input("y", {batch}, DType::I64);
    p->embeddings = o.net(p->x, o.dim);
    if (p->embeddings.shape() != Shape{batch, o.dim})
        throw OptionError(fmt::format("the embedding network returned {}, expected [{}, {}]",
                                      desc_str(p->embeddings.desc()), batch, o.dim));
    p->triplet = models::triplet_loss(p->embeddings, p->y, o.triplet);
    p->sec = models::spherical_embedding_constraint(p->embeddings);
    p->loss = o.sec > 0 ? p->triplet.loss + o.sec * p->sec : p->triplet.loss;
    p->params = g.parameters();
    if (o.with_grads) p->grads = grad(p->loss, p->params);
    p->options = std::move(o);
    return p;
}

// --- metrics and evaluation ----------------------------------------------------------------

void InBatchRecallMetric::add(const std::vector<Tensor>& watched, const std::vector<Tensor>& feeds, int64_t valid) {
    if (watched.empty() || feeds.size() < 2 || watched[0].shape().size() != 2)
        throw OptionError("recall@1: needs embeddings [B, D] as the first watched value and labels as the second feed");
    Embeddings e;
    e.count = valid;
    e.dim = watched[0].shape()[1];
    e.values.assign(watched[0].data<float>(), watched[0].data<float>() + valid * e.dim);
    e.labels.assign(feeds[1].data<int64_t>(), feeds[1].data<int64_t>() + valid);
    const Embeddings n = normalized(e);
    for (int64_t i = 0; i < valid; ++i) {
        int64_t best = -1;
        double best_sim = -2;
        for (int64_t j = 0; j < valid; ++j) {
            if (j == i) continue;
            double s = 0;
            for (int64_t k = 0; k < n.dim; ++k) s += static_cast<double>(n.row(i)[k]) * n.row(j)[k];
            if (s > best_sim) best_sim = s, best = j;
        }
        hits_ += best >= 0 && n.labels[best] == n.labels[i];
    }
    seen_ += valid;
}

EmbeddingEvaluation evaluate_embeddings(CompiledGraph& eval, const EmbeddingProgram& p, const io::ImageDataset& data,
                                        const io::PixelStats& normalization, const std::vector<int64_t>& ks) {
    const int64_t batch = p.x.dim(0), dim = p.embeddings.dim(1);
    io::BatchLoader loader(data, {.batch_size = batch,
                                  .shuffle = false,
                                  .last_batch = io::LastBatch::Pad,
                                  .mean = normalization.mean,
                                  .std = normalization.std});
    loader.start_epoch(0);
    Tensor images(p.x.desc()), labels(p.y.desc());
    EmbeddingEvaluation r;
    r.ks = ks;
    r.embeddings.count = data.count;
    r.embeddings.dim = dim;
    r.embeddings.values.reserve(static_cast<std::size_t>(data.count * dim));
    r.embeddings.labels.reserve(static_cast<std::size_t>(data.count));
    auto t0 = std::chrono::steady_clock::now();
    double loss_sum = 0;
    int64_t full = 0;
    for (int64_t b = 0; b < loader.num_batches(); ++b) {
        const int64_t valid = loader.fill(b, images, labels);
        const std::vector<Tensor> out = eval.run({{p.x, images}, {p.y, labels}});
        const float* e = out[0].data<float>();
        r.embeddings.values.insert(r.embeddings.values.end(), e, e + valid * dim);
        const int64_t* y = labels.data<int64_t>();
        r.embeddings.labels.insert(r.embeddings.labels.end(), y, y + valid);
        // Padding rows would enter the in-batch mining: only full batches count for the loss.
        if (valid == batch) {
            loss_sum += static_cast<double>(out[1].data<float>()[0]);
            ++full;
        }
    }
    r.triplet_loss = full ? loss_sum / static_cast<double>(full) : 0;
    r.norms = norm_stats(r.embeddings);
    r.recall = recall_at_k(r.embeddings, ks);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

EmbeddingTrainReport train_embedding(EmbeddingProgram& p, const io::ImageDataset& train, const io::ImageDataset& test,
                                     optim::Optimizer& optimizer, optim::LrSchedule* schedule,
                                     EmbeddingTrainOptions o) {
    if (p.grads.size() != p.params.size())
        throw OptionError("train_embedding: the program was built without gradients (with_grads = false)");
    if (o.ks.empty() || o.ks.front() != 1)
        throw OptionError("train_embedding: ks must start with 1 (Recall@1 is the reported metric)");
    const io::PixelStats norm = o.normalization ? *o.normalization : io::pixel_statistics(train);
    record_normalization(o.trainer.metadata, norm);
    const auto& po = p.options;
    o.trainer.metadata["embedding.dim"] = std::to_string(po.dim);
    o.trainer.metadata["embedding.mining"] = models::triplet_mining_name(po.triplet.mining);
    o.trainer.metadata["embedding.margin"] = fmt::format("{:g}", po.triplet.margin);
    o.trainer.metadata["embedding.sec"] = fmt::format("{:g}", po.sec);
    PKBatches batches(train, {.classes = po.classes, .per_class = po.per_class, .seed = o.seed, .normalization = norm});
    CompiledGraph eval = compile(*p.graph, {p.embeddings, p.triplet.loss});  // evaluation mode: running BN statistics
    EmbeddingTrainReport report;
    Trainer trainer({.graph = p.graph.get(),
                     .inputs = {p.x, p.y},
                     .loss = p.loss,
                     .params = p.params,
                     .grads = p.grads,
                     .watch = {p.embeddings}},
                    optimizer, schedule, o.trainer);
    InBatchRecallMetric recall;
    report.train = trainer.fit(batches, [&] {
        report.final_eval = evaluate_embeddings(eval, p, test, norm, o.ks);
        return EvalResult{.loss = report.final_eval.triplet_loss,
                          .metric = report.final_eval.recall[0],
                          .samples = test.count,
                          .seconds = report.final_eval.seconds};
    }, &recall);
    return report;
}

}  // namespace gg::train
