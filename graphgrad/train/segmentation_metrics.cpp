#include "graphgrad/train/segmentation_metrics.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "graphgrad/graph/errors.h"

namespace gg::train {

OverlapCounts::OverlapCounts(int64_t num_classes) {
    if (num_classes < 1) throw OptionError(fmt::format("OverlapCounts: need at least one class, got {}", num_classes));
    const auto n = static_cast<std::size_t>(num_classes);
    intersection_.assign(n, 0), predicted_.assign(n, 0), truth_.assign(n, 0);
}

void OverlapCounts::reset() {
    std::fill(intersection_.begin(), intersection_.end(), 0);
    std::fill(predicted_.begin(), predicted_.end(), 0);
    std::fill(truth_.begin(), truth_.end(), 0);
    positions_ = correct_ = 0;
}

void OverlapCounts::add(const int64_t* predicted, const int64_t* truth, int64_t n) {
    const int64_t c = num_classes();
    for (int64_t i = 0; i < n; ++i) {
        const int64_t p = predicted[i], t = truth[i];
        if (p < 0 || p >= c || t < 0 || t >= c)
            throw OptionError(fmt::format("OverlapCounts: position {} has predicted class {} and label {}; both must be "
                                          "in [0, {})", i, p, t, c));
        ++predicted_[static_cast<std::size_t>(p)];
        ++truth_[static_cast<std::size_t>(t)];
        if (p == t) ++intersection_[static_cast<std::size_t>(p)], ++correct_;
    }
    positions_ += n;
}

void OverlapCounts::add_scores(const Tensor& scores, const Tensor& labels, int64_t valid) {
    const Shape& s = scores.shape();
    Shape want = s;
    if (s.size() >= 2) want.erase(want.begin() + 1);
    if (s.size() < 2 || scores.dtype() != DType::F32 || labels.dtype() != DType::I64 || labels.shape() != want ||
        s[1] != num_classes() || valid < 0 || valid > s[0])
        throw OptionError(fmt::format("OverlapCounts: expected f32 scores [B, {}, d...] and i64 labels [B, d...] with "
                                      "valid <= B, got {} and {} (valid {})", num_classes(), scores.desc(),
                                      labels.desc(), valid));
    const int64_t classes = s[1], inner = scores.numel() / (s[0] * classes);
    const float* z = scores.data<float>();
    std::vector<int64_t> argmax(static_cast<std::size_t>(inner));
    for (int64_t b = 0; b < valid; ++b) {
        const float* base = z + b * classes * inner;
        for (int64_t i = 0; i < inner; ++i) {
            int64_t best = 0;
            for (int64_t c = 1; c < classes; ++c)
                if (base[c * inner + i] > base[best * inner + i]) best = c;
            argmax[static_cast<std::size_t>(i)] = best;
        }
        add(argmax.data(), labels.data<int64_t>() + b * inner, inner);
    }
}

int64_t OverlapCounts::union_count(int64_t c) const {
    const auto i = static_cast<std::size_t>(c);
    return predicted_.at(i) + truth_.at(i) - intersection_.at(i);
}

double OverlapCounts::iou(int64_t c) const {
    const int64_t u = union_count(c);
    return u == 0 ? std::numeric_limits<double>::quiet_NaN()
                  : static_cast<double>(intersection(c)) / static_cast<double>(u);
}

double OverlapCounts::dice(int64_t c) const {
    const auto i = static_cast<std::size_t>(c);
    const int64_t d = predicted_.at(i) + truth_.at(i);
    return d == 0 ? std::numeric_limits<double>::quiet_NaN()
                  : 2.0 * static_cast<double>(intersection_[i]) / static_cast<double>(d);
}

double OverlapCounts::mean_over(bool include_background, double (OverlapCounts::*score)(int64_t) const) const {
    double total = 0;
    int64_t n = 0;
    for (int64_t c = include_background ? 0 : 1; c < num_classes(); ++c) {
        const double v = (this->*score)(c);
        if (std::isnan(v)) continue;
        total += v;
        ++n;
    }
    return n == 0 ? std::numeric_limits<double>::quiet_NaN() : total / static_cast<double>(n);
}

double OverlapCounts::mean_iou(bool include_background) const { return mean_over(include_background, &OverlapCounts::iou); }
double OverlapCounts::mean_dice(bool include_background) const {
    return mean_over(include_background, &OverlapCounts::dice);
}

double OverlapCounts::pixel_accuracy() const {
    return positions_ == 0 ? std::numeric_limits<double>::quiet_NaN()
                           : static_cast<double>(correct_) / static_cast<double>(positions_);
}

void MeanIouMetric::add(const std::vector<Tensor>& watched, const std::vector<Tensor>& feeds, int64_t valid) {
    if (watched.empty() || feeds.size() < 2)
        throw OptionError("mIoU: needs the scores as the first watched value and the labels as the second feed");
    counts_.add_scores(watched[0], feeds[1], valid);
}

}  // namespace gg::train
