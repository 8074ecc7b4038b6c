// Segmentation metrics: per-class intersection and union of predicted and true label maps,
// accumulated over a whole dataset (not averaged per image), then
//   IoU_c = |pred_c ∩ true_c| / |pred_c ∪ true_c|      Dice_c = 2|pred_c ∩ true_c| / (|pred_c| + |true_c|)
// and the mean over the classes whose union is non-empty (a class neither predicted nor
// present has no score, as in torchmetrics' JaccardIndex with absent classes ignored and
// VOC's mean IoU). Background (class 0) can be included or left out of the mean.
//
//   gg::train::OverlapCounts counts(11);
//   counts.add_scores(logits, labels, valid);                  // logits [B, C, H, W], labels [B, H, W]
//   double miou = counts.mean_iou(), fg = counts.mean_iou(/*include_background=*/false);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graphgrad/graph/tensor.h"
#include "graphgrad/train/trainer.h"

namespace gg::train {

class OverlapCounts {
public:
    explicit OverlapCounts(int64_t num_classes);

    // n positions of predicted and true class indices, each in [0, C) (else OptionError).
    void add(const int64_t* predicted, const int64_t* truth, int64_t n);
    // The argmax over axis 1 of f32 scores [B, C, d...] against i64 labels [B, d...], first
    // `valid` rows only (the rest is padding).
    void add_scores(const Tensor& scores, const Tensor& labels, int64_t valid);
    void reset();

    int64_t num_classes() const { return static_cast<int64_t>(intersection_.size()); }
    int64_t intersection(int64_t c) const { return intersection_.at(static_cast<std::size_t>(c)); }
    int64_t union_count(int64_t c) const;
    double iou(int64_t c) const;   // NaN when class c is neither predicted nor present
    double dice(int64_t c) const;  // NaN likewise
    double mean_iou(bool include_background = true) const;   // over classes with a score; NaN if none
    double mean_dice(bool include_background = true) const;
    double pixel_accuracy() const;

private:
    double mean_over(bool include_background, double (OverlapCounts::*score)(int64_t) const) const;
    std::vector<int64_t> intersection_, predicted_, truth_;
    int64_t positions_ = 0, correct_ = 0;
};

// Mean IoU (background included) for the Trainer: the first watched value holds the scores,
// the second feed the labels.
class MeanIouMetric : public Metric {
public:
    explicit MeanIouMetric(int64_t num_classes) : counts_(num_classes) {}
    std::string name() const override { return "mIoU"; }
    void reset() override { counts_.reset(); }
    void add(const std::vector<Tensor>& watched, const std::vector<Tensor>& feeds, int64_t valid) override;
    double value() const override { return counts_.mean_iou(); }
    bool is_fraction() const override { return true; }

private:
    OverlapCounts counts_;
};

}  // namespace gg::train
