// Semantic segmentation of canvases (io/canvas.h) with the zoo's U-Net: per-pixel scores over
// 1 + item classes (0 = background), trained with cross-entropy, Dice, Jaccard or a sum of
// cross-entropy and an overlap loss (ops/overlap_loss.h), and evaluated by dataset-level IoU
// (train/segmentation_metrics.h). `graphgrad train unet_seg` is a thin caller.
//
//   auto p = gg::train::build_segmentation_program({.batch = 32, .loss = "ce+dice"}, 56, 11);
//   auto opt = gg::optim::make_optimizer("adam", *p->graph, p->params, {.lr = 1e-3});
//   gg::train::SegmentationReport r = gg::train::train_segmentation(*p, train, test, *opt, nullptr, {});
//   fmt::print("mIoU {:.3f}\n", r.test.mean_iou());
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graphgrad/graph/graph.h"
#include "graphgrad/io/canvas.h"
#include "graphgrad/optim/optimizer.h"
#include "graphgrad/optim/schedule.h"
#include "graphgrad/train/segmentation_metrics.h"
#include "graphgrad/train/trainer.h"

namespace gg::train {

struct SegmentationModelOptions {
    int64_t batch = 32;
    std::string loss = "ce";  // ce, dice, jaccard, ce+dice, ce+jaccard
    double smooth = 1.0;      // ε of the overlap losses
    int64_t base = 16, depth = 3;  // U-Net width and levels
    uint64_t seed = 1;
};

struct SegmentationProgram {
    std::unique_ptr<Graph> graph;  // heap-held: Values point at it
    SegmentationModelOptions options;
    Value x, labels, scores, loss;  // x [B,1,S,S], labels i64 [B,S,S], scores [B,C,S,S]
    std::vector<Value> params, grads;
    int64_t num_parameters() const;
};

// OptionError for an unknown loss name or a size U-Net cannot halve `depth` times.
std::unique_ptr<SegmentationProgram> build_segmentation_program(const SegmentationModelOptions& o, int64_t size,
                                                                int64_t num_classes);

struct SegmentationTrainOptions {
    TrainerOptions trainer;
    uint64_t seed = 1;  // shuffling
};

struct SegmentationReport {
    TrainReport train;
    OverlapCounts test{1};  // after the last epoch, on the whole test set
    io::PixelStats normalization;
};

// Evaluates the program's scores (compiled without gradients: batch norm uses running
// statistics) over every canvas of `data`.
OverlapCounts evaluate_segmentation(CompiledGraph& eval, const SegmentationProgram& p, const io::CanvasSet& data,
                                    const io::PixelStats& normalization);

SegmentationReport train_segmentation(SegmentationProgram& p, const io::CanvasSet& train, const io::CanvasSet& test,
                                      optim::Optimizer& optimizer, optim::LrSchedule* schedule,
                                      SegmentationTrainOptions o);

}  // namespace gg::train
