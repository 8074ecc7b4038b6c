#include "graphgrad/train/classification.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include <fmt/format.h>

#include "graphgrad/io/checkpoint.h"
#include "graphgrad/optim/precise_bn.h"

namespace gg::train {

ImageBatches::ImageBatches(const io::ImageDataset& data, io::LoaderOptions options) : loader_(data, options) {}

int64_t ImageBatches::fill(int64_t b, std::vector<Tensor>& feeds) {
    if (feeds.size() != 2) throw OptionError(fmt::format("image batches feed x and y, the task has {} inputs", feeds.size()));
    return loader_.fill(b, feeds[0], feeds[1]);
}

BatchScore score_batch(const Tensor& logits, const Tensor& labels, int64_t valid) {
    const int64_t classes = logits.shape().at(1);
    const float* z = logits.data<float>();
    const int64_t* y = labels.data<int64_t>();
    BatchScore s;
    for (int64_t r = 0; r < valid; ++r) {
        const float* row = z + r * classes;
        const float* best = std::max_element(row, row + classes);
        // log-sum-exp around the maximum: exact cross-entropy without overflow.
        double sum = 0;
        for (int64_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(row[c]) - *best);
        s.loss_sum += std::log(sum) + *best - row[y[r]];
        s.correct += (best - row) == y[r];
    }
    return s;
}

void AccuracyMetric::add(const std::vector<Tensor>& watched, const std::vector<Tensor>& feeds, int64_t valid) {
    if (watched.empty() || feeds.size() < 2)
        throw OptionError("accuracy: needs the logits as the first watched value and labels as the second feed");
    correct_ += score_batch(watched[0], feeds[1], valid).correct;
    seen_ += valid;
}

EvalResult evaluate_classifier(CompiledGraph& eval, const ModelProgram& p, const io::ImageDataset& data,
                               const io::PixelStats& normalization) {
    const int64_t batch = p.x.dim(0);
    io::BatchLoader loader(data, {.batch_size = batch,
                                  .shuffle = false,
                                  .last_batch = io::LastBatch::Pad,
                                  .mean = normalization.mean,
                                  .std = normalization.std});
    loader.start_epoch(0);
    // Feed buffers made once and refilled: run() reads them through the pointers we pass.
    Tensor images(p.x.desc()), labels(p.y.desc());
    EvalResult r;
    BatchScore total;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t b = 0; b < loader.num_batches(); ++b) {
        const int64_t valid = loader.fill(b, images, labels);
        const Tensor logits = eval.run({{p.x, images}})[0];
        const BatchScore s = score_batch(logits, labels, valid);
        total.loss_sum += s.loss_sum;
        total.correct += s.correct;
        r.samples += valid;
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r.samples > 0) {
        r.loss = total.loss_sum / static_cast<double>(r.samples);
        r.metric = static_cast<double>(total.correct) / static_cast<double>(r.samples);
    }
    return r;
}

std::optional<io::PixelStats> recorded_normalization(const io::Metadata& meta, const std::string& source) {
    auto mean = io::metadata_double(meta, "normalize_mean", source, -1e6, 1e6);
    auto std = io::metadata_double(meta, "normalize_std", source, 1e-12, 1e6);
    if (!mean && !std) return std::nullopt;
    if (!mean || !std) throw io::DataError(fmt::format("{}: metadata has only one of normalize_mean and normalize_std", source));
    return io::PixelStats{static_cast<float>(*mean), static_cast<float>(*std)};
}

void record_normalization(io::Metadata& meta, const io::PixelStats& stats) {
    meta["normalize_mean"] = fmt::format("{:.9g}", stats.mean);
    meta["normalize_std"] = fmt::format("{:.9g}", stats.std);
}

TrainReport train_classifier(ModelProgram& p, const io::ImageDataset& train, const io::ImageDataset& test,
                             optim::Optimizer& optimizer, optim::LrSchedule* schedule, ClassifierTrainOptions o) {
    if (p.grads.size() != p.params.size())
        throw OptionError("train_classifier: the program was built without gradients (with_grads = false)");
    if (o.batch != p.x.dim(0))
        throw OptionError(fmt::format("train_classifier: batch {} but the program was built for {}", o.batch, p.x.dim(0)));
    if (train.count < o.batch)
        throw OptionError(fmt::format("the batch size {} is larger than the {} training samples", o.batch, train.count));
    if (o.precise_bn < 0) throw OptionError(fmt::format("precise_bn must be >= 0, got {}", o.precise_bn));
    const io::PixelStats norm = o.normalization ? *o.normalization : io::pixel_statistics(train);
    record_normalization(o.trainer.metadata, norm);
    o.trainer.metadata["augment"] = o.augment.str();

    ImageBatches batches(train, {.batch_size = o.batch,
                                 .seed = o.seed,
                                 .shuffle = true,
                                 .last_batch = io::LastBatch::Drop,  // every batch has the compiled shape
                                 .mean = norm.mean,
                                 .std = norm.std,
                                 .crop_padding = o.augment.crop_padding,
                                 .hflip = o.augment.hflip});
    CompiledGraph eval = compile(*p.graph, {p.logits});  // no gradient nodes: evaluation mode
    std::unique_ptr<optim::PreciseBatchNorm> precise;   // made once, on first use
    if (o.precise_bn > 0) {
        // Running statistics lag weights that move fast (attention after batch norm: 15-66%
        // test accuracy with them); optim/precise_bn.h re-estimates them with the final weights.
        o.trainer.before_eval = [&, n = o.precise_bn](int64_t) {
            if (!precise) precise = std::make_unique<optim::PreciseBatchNorm>(*p.graph, p.logits);
            std::vector<Tensor> feeds{Tensor(p.x.desc()), Tensor(p.y.desc())};
            precise->recalibrate([&](int64_t b) {
                batches.fill(b, feeds);
                return Feeds{{p.x, feeds[0]}};
            }, std::min(n, batches.num_batches()));
        };
    }
    Trainer trainer({.graph = p.graph.get(),
                     .inputs = {p.x, p.y},
                     .loss = p.loss,
                     .params = p.params,
                     .grads = p.grads,
                     .watch = {p.logits}},
                    optimizer, schedule, o.trainer);
    AccuracyMetric accuracy;
    return trainer.fit(batches, [&] { return evaluate_classifier(eval, p, test, norm); }, &accuracy);
}

io::ImageDataset take_first(const io::ImageDataset& data, int64_t n) {
    if (n <= 0 || n >= data.count) return data;
    io::ImageDataset d;
    d.count = n;
    d.rows = data.rows;
    d.cols = data.cols;
    d.num_classes = data.num_classes;
    d.pixels.assign(data.pixels.begin(), data.pixels.begin() + n * data.rows * data.cols);
    d.labels.assign(data.labels.begin(), data.labels.begin() + n);
    return d;
}

}  // namespace gg::train
