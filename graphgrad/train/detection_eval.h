// Plain detection evaluation: greedy non-maximum suppression on the host and VOC-style
// average precision at an IoU threshold (mAP@0.5).
//
// AP of a class (PASCAL VOC 2010+ devkit): its detections over all images sorted by score
// (descending; equal scores keep their input order); each is a true positive when the
// ground-truth box of its image and class with the highest IoU has IoU ≥ threshold and is not
// yet matched (then it is matched), else a false positive (a duplicate of a matched box
// included). With precision p_k and recall r_k after the k-th detection, AP is the area under
// the precision envelope: Σ_k (r_k − r_{k−1}) · max_{j ≥ k} p_j ("all-point interpolation").
// mAP is the mean of AP over the classes that have ground truth (a class with detections but
// no ground truth is left out, as in the devkit).
//
//   std::vector<gg::train::Detection> d = gg::train::nms(raw, 0.5);   // per image and class
//   gg::train::ApReport r = gg::train::mean_average_precision(d, truth, 10, 0.5);
//   fmt::print("mAP@0.5 {:.3f}\n", r.mean_ap);
#pragma once

#include <cstdint>
#include <vector>

namespace gg::train {

struct Box {
    float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // corners, x0 ≤ x1 and y0 ≤ y1 (else the box is empty)
};

struct Detection {
    int64_t image = 0, cls = 0;
    float score = 0;
    Box box;
};

struct GroundTruth {
    int64_t image = 0, cls = 0;
    Box box;
};

// Intersection over union; 0 when both boxes are empty.
double box_iou(const Box& a, const Box& b);

// Greedy NMS within each (image, class): keep the highest-scoring box, drop every remaining
// box whose IoU with it exceeds `iou_threshold`, repeat. Returns the kept detections sorted by
// (image, class, descending score).
std::vector<Detection> nms(std::vector<Detection> detections, double iou_threshold);

// AP of one class: only detections and ground truth of class `cls` are looked at.
double average_precision(const std::vector<Detection>& detections, const std::vector<GroundTruth>& truth,
                         int64_t cls, double iou_threshold = 0.5);

struct ApReport {
    std::vector<double> ap;        // per class; NaN for classes without ground truth
    std::vector<int64_t> truths;   // ground-truth boxes per class
    double mean_ap = 0;            // over classes with ground truth (NaN when none has)
};

// OptionError for a class outside [0, num_classes) or a threshold outside (0, 1].
ApReport mean_average_precision(const std::vector<Detection>& detections, const std::vector<GroundTruth>& truth,
                                int64_t num_classes, double iou_threshold = 0.5);

}  // namespace gg::train
