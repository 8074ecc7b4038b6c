#include "graphgrad/train/detection_eval.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <utility>

#include <fmt/format.h>

#include "graphgrad/graph/errors.h"

namespace gg::train {

double box_iou(const Box& a, const Box& b) {
    auto area = [](const Box& r) {
        return std::max(0.0, double(r.x1) - r.x0) * std::max(0.0, double(r.y1) - r.y0);
    };
    const double w = std::max(0.0, double(std::min(a.x1, b.x1)) - std::max(a.x0, b.x0));
    const double h = std::max(0.0, double(std::min(a.y1, b.y1)) - std::max(a.y0, b.y0));
    const double inter = w * h, uni = area(a) + area(b) - inter;
    return uni > 0 ? inter / uni : 0.0;
}

std::vector<Detection> nms(std::vector<Detection> d, double iou_threshold) {
    std::stable_sort(d.begin(), d.end(), [](const Detection& a, const Detection& b) {
        if (a.image != b.image) return a.image < b.image;
        if (a.cls != b.cls) return a.cls < b.cls;
        return a.score > b.score;
    });
    std::vector<Detection> kept;
    for (std::size_t start = 0; start < d.size();) {
        std::size_t end = start;  // [start, end): one (image, class), best first
        while (end < d.size() && d[end].image == d[start].image && d[end].cls == d[start].cls) ++end;
        const std::size_t first_kept = kept.size();
        for (std::size_t i = start; i < end; ++i) {
            const bool suppressed = std::any_of(kept.begin() + static_cast<std::ptrdiff_t>(first_kept), kept.end(),
                                                [&](const Detection& k) { return box_iou(k.box, d[i].box) > iou_threshold; });
            if (!suppressed) kept.push_back(d[i]);
        }
        start = end;
    }
    return kept;
}

double average_precision(const std::vector<Detection>& detections, const std::vector<GroundTruth>& truth, int64_t cls,
                         double iou_threshold) {
    std::map<int64_t, std::vector<std::pair<Box, bool>>> gt;  // per image: box, matched
    int64_t positives = 0;
    for (const GroundTruth& t : truth)
        if (t.cls == cls) gt[t.image].push_back({t.box, false}), ++positives;
    if (positives == 0) return std::numeric_limits<double>::quiet_NaN();
    std::vector<const Detection*> d;
    for (const Detection& x : detections)
        if (x.cls == cls) d.push_back(&x);
    std::stable_sort(d.begin(), d.end(), [](const Detection* a, const Detection* b) { return a->score > b->score; });
    std::vector<double> precision, recall;
    int64_t tp = 0;
    for (std::size_t k = 0; k < d.size(); ++k) {
        auto it = gt.find(d[k]->image);
        std::pair<Box, bool>* best = nullptr;
        double best_iou = -1;
        if (it != gt.end())
            for (auto& g : it->second) {
                const double v = box_iou(d[k]->box, g.first);
                if (v > best_iou) best_iou = v, best = &g;
            }
        if (best && best_iou >= iou_threshold && !best->second) best->second = true, ++tp;
        precision.push_back(static_cast<double>(tp) / static_cast<double>(k + 1));
        recall.push_back(static_cast<double>(tp) / static_cast<double>(positives));
    }
    for (std::size_t k = precision.size(); k-- > 1;) precision[k - 1] = std::max(precision[k - 1], precision[k]);
    double ap = 0, previous_recall = 0;
    for (std::size_t k = 0; k < precision.size(); ++k) {
        ap += (recall[k] - previous_recall) * precision[k];
        previous_recall = recall[k];
    }
    return ap;
}

ApReport mean_average_precision(const std::vector<Detection>& detections, const std::vector<GroundTruth>& truth,
                                int64_t num_classes, double iou_threshold) {
    if (!(iou_threshold > 0 && iou_threshold <= 1))
        throw OptionError(fmt::format("mean_average_precision: IoU threshold {} must be in (0, 1]", iou_threshold));
    for (const Detection& d : detections)
        if (d.cls < 0 || d.cls >= num_classes)
            throw OptionError(fmt::format("mean_average_precision: detection class {} outside [0, {})", d.cls, num_classes));
    ApReport r;
    r.truths.assign(static_cast<std::size_t>(num_classes), 0);
    for (const GroundTruth& t : truth) {
        if (t.cls < 0 || t.cls >= num_classes)
            throw OptionError(fmt::format("mean_average_precision: ground-truth class {} outside [0, {})", t.cls, num_classes));
        ++r.truths[static_cast<std::size_t>(t.cls)];
    }
    double total = 0;
    int64_t counted = 0;
    for (int64_t c = 0; c < num_classes; ++c) {
        r.ap.push_back(average_precision(detections, truth, c, iou_threshold));
        if (!std::isnan(r.ap.back())) total += r.ap.back(), ++counted;
    }
    r.mean_ap = counted ? total / static_cast<double>(counted) : std::numeric_limits<double>::quiet_NaN();
    return r;
}

}  // namespace gg::train
