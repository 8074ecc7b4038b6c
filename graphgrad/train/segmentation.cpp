#include "graphgrad/train/segmentation.h"

#include <chrono>

#include <fmt/format.h>

#include "graphgrad/graph/autodiff.h"
#include "graphgrad/graph/errors.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/loss.h"
#include "graphgrad/ops/overlap_loss.h"
#include "graphgrad/train/canvas_batches.h"

namespace gg::train {

int64_t SegmentationProgram::num_parameters() const {
    int64_t n = 0;
    for (const Value& v : params) n += v.numel();
    return n;
}

std::unique_ptr<SegmentationProgram> build_segmentation_program(const SegmentationModelOptions& o, int64_t size,
                                                                int64_t num_classes) {
    const bool ce = o.loss == "ce" || o.loss.starts_with("ce+");
    const std::string overlap = o.loss == "ce" ? "" : (ce ? o.loss.substr(3) : o.loss);
    if (!overlap.empty() && overlap != "dice" && overlap != "jaccard")
        throw OptionError(fmt::format("segmentation loss \"{}\": expected ce, dice, jaccard, ce+dice or ce+jaccard", o.loss));
    if (o.depth < 1 || size % (int64_t{1} << o.depth) != 0)
        throw OptionError(fmt::format("U-Net of depth {} needs a canvas size divisible by {}, got {}", o.depth,
                                      int64_t{1} << o.depth, size));
    auto p = std::make_unique<SegmentationProgram>();
    p->graph = std::make_unique<Graph>(o.seed);
    p->options = o;
    Graph& g = *p->graph;
    p->x = g.input("x", {o.batch, 1, size, size});
    p->labels = g.input("labels", {o.batch, size, size}, DType::I64);
    p->scores = models::unet(p->x, num_classes, o.base, o.depth);
    std::vector<Value> terms;
    if (ce) terms.push_back(cross_entropy(p->scores, p->labels));
    if (overlap == "dice") terms.push_back(dice_loss(p->scores, p->labels, o.smooth));
    if (overlap == "jaccard") terms.push_back(jaccard_loss(p->scores, p->labels, o.smooth));
    p->loss = terms.size() == 1 ? terms[0] : terms[0] + terms[1];
    p->params = g.parameters();
    p->grads = grad(p->loss, p->params);
    return p;
}

OverlapCounts evaluate_segmentation(CompiledGraph& eval, const SegmentationProgram& p, const io::CanvasSet& data,
                                    const io::PixelStats& normalization) {
    CanvasBatches batches(data, {.batch = p.x.dim(0), .shuffle = false, .last_batch = io::LastBatch::Pad,
                                 .normalization = normalization});
    std::vector<Tensor> feeds{Tensor(p.x.desc()), Tensor(p.labels.desc())};
    OverlapCounts counts(p.scores.dim(1));
    for (int64_t b = 0; b < batches.num_batches(); ++b) {
        const int64_t valid = batches.fill(b, feeds);
        counts.add_scores(eval.run({{p.x, feeds[0]}})[0], feeds[1], valid);
    }
    return counts;
}

SegmentationReport train_segmentation(SegmentationProgram& p, const io::CanvasSet& train, const io::CanvasSet& test,
                                      optim::Optimizer& optimizer, optim::LrSchedule* schedule,
                                      SegmentationTrainOptions o) {
    if (train.num_classes + 1 != p.scores.dim(1) || train.size != p.x.dim(2) || test.size != train.size)
        throw OptionError(fmt::format("train_segmentation: canvases {}x{} with {} classes (+ background) do not fit "
                                      "the program's scores {}", train.size, train.size, train.num_classes,
                                      shape_str(p.scores.shape())));
    SegmentationReport report;
    report.normalization = canvas_statistics(train);
    o.trainer.metadata["normalize_mean"] = fmt::format("{:.9g}", report.normalization.mean);
    o.trainer.metadata["normalize_std"] = fmt::format("{:.9g}", report.normalization.std);
    o.trainer.metadata["segmentation.loss"] = p.options.loss;
    CanvasBatches batches(train, {.batch = p.x.dim(0), .seed = o.seed, .normalization = report.normalization});
    CompiledGraph eval = compile(*p.graph, {p.scores});  // no gradient nodes: evaluation mode
    Trainer trainer({.graph = p.graph.get(),
                     .inputs = {p.x, p.labels},
                     .loss = p.loss,
                     .params = p.params,
                     .grads = p.grads,
                     .watch = {p.scores}},
                    optimizer, schedule, o.trainer);
    MeanIouMetric miou(p.scores.dim(1));
    report.train = trainer.fit(batches, [&] {
        const auto t0 = std::chrono::steady_clock::now();
        report.test = evaluate_segmentation(eval, p, test, report.normalization);
        return EvalResult{.loss = 1.0 - report.test.mean_iou(),  // the Trainer's "test loss": 1 − mIoU
                          .metric = report.test.mean_iou(),
                          .samples = test.count,
                          .seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
    }, &miou);
    return report;
}

}  // namespace gg::train
