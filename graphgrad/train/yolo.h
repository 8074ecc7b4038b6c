// Training and evaluating the YOLO v1 detector (models/yolo.h) on canvases (io/canvas.h):
// target encoding per batch, decoding predictions into scored boxes, NMS and mAP
// (train/detection_eval.h). `graphgrad train yolo_v1` is a thin caller.
//
// Encoding: a box belongs to the cell containing its centre; x, y are the centre's offsets
// within that cell (0..1), √w, √h the square roots of its size over the canvas size. YOLO v1
// has one set of class probabilities per cell, so when two centres fall in one cell only the
// larger box is kept as a target (the other is still in the ground truth of the evaluation).
//
// Decoding: every predictor b of every cell gives a box and, for each class c, the paper's
// class-specific confidence Pr(c | object) · confidence; each (box, class) with a score of at
// least `score_threshold` is a detection, then NMS per image and class.
//
//   auto p = gg::train::build_yolo_program({.grid = 7}, /*batch=*/32, /*seed=*/1);
//   auto opt = gg::optim::make_optimizer("adam", *p->graph, p->params, {.lr = 1e-3});
//   gg::train::YoloReport r = gg::train::train_yolo(*p, train, test, *opt, nullptr, {});
//   fmt::print("mAP@0.5 {:.3f}\n", r.test.mean_ap);
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/io/canvas.h"
#include "graphgrad/models/yolo.h"
#include "graphgrad/optim/optimizer.h"
#include "graphgrad/optim/schedule.h"
#include "graphgrad/train/canvas_batches.h"
#include "graphgrad/train/detection_eval.h"
#include "graphgrad/train/trainer.h"

namespace gg::train {

struct YoloProgram {
    std::unique_ptr<Graph> graph;
    models::YoloV1Options options;
    Value x, target_boxes, object, target_classes, pred;
    models::YoloV1Loss loss;
    std::vector<Value> params, grads;
    int64_t num_parameters() const;
};

std::unique_ptr<YoloProgram> build_yolo_program(const models::YoloV1Options& o, int64_t batch, uint64_t seed);

// Writes the targets of `boxes` (one canvas of `size` pixels) into row `row` of the feeds
// target_boxes [B,4,S,S], object [B,1,S,S], target_classes [B,C,S,S] (f32, zeroed by the caller).
void encode_yolo_targets(const std::vector<io::CanvasBox>& boxes, int64_t size, const models::YoloV1Options& o,
                         int64_t row, Tensor& target_boxes, Tensor& object, Tensor& target_classes);

// Detections of row `row` of predictions [B, B·5+C, S, S] (f32) as canvas-pixel boxes, before NMS.
std::vector<Detection> decode_yolo(const Tensor& pred, int64_t row, int64_t image, int64_t size,
                                   const models::YoloV1Options& o, double score_threshold);

// Feeds x, target_boxes, object, target_classes.
class YoloBatches : public BatchSource {
public:
    YoloBatches(const io::CanvasSet& data, const models::YoloV1Options& model, CanvasBatchOptions options)
        : canvases_(data, options), model_(model) {}
    int64_t num_batches() const override { return canvases_.num_batches(); }
    void start_epoch(int64_t epoch) override { canvases_.start_epoch(epoch); }
    int64_t fill(int64_t b, std::vector<Tensor>& feeds) override;
    const CanvasBatches& canvases() const { return canvases_; }

private:
    CanvasBatches canvases_;
    models::YoloV1Options model_;
};

struct DetectionEvalOptions {
    double score_threshold = 0.01;  // low, as for any AP measurement: the ranking matters, not a cut
    double nms_iou = 0.5;
    double ap_iou = 0.5;
};

struct YoloReport {
    TrainReport train;
    ApReport test;          // after the last epoch
    int64_t detections = 0; // kept after NMS on the test set
    io::PixelStats normalization;
};

ApReport evaluate_yolo(CompiledGraph& eval, const YoloProgram& p, const io::CanvasSet& data,
                       const io::PixelStats& normalization, const DetectionEvalOptions& o, int64_t* detections = nullptr);

struct YoloTrainOptions {
    TrainerOptions trainer;
    uint64_t seed = 1;
    DetectionEvalOptions eval;
};

YoloReport train_yolo(YoloProgram& p, const io::CanvasSet& train, const io::CanvasSet& test, optim::Optimizer& optimizer,
                      optim::LrSchedule* schedule, YoloTrainOptions o);

}  // namespace gg::train
