// The meaning of the box ops of ops/detection.h (box_iou, nms): plain loops templated on
// float/double, boxes (x1, y1, x2, y2) as torchvision's. These loops are the ops' only kernels
// (their work is small next to the convolutions around them); RoI ops: reference/roi.h.
//
//   gg::reference::box_iou<float>(a, n, b, m, iou);              // iou [n, m]
//   int64_t kept = gg::reference::nms<float>(boxes, scores, n, 0.5, keep);  // keep [n], −1 padded
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>

namespace gg::reference {

// ---- box IoU ----------------------------------------------------------------------------
// IoU = I / U with I = max(0, min(x2) − max(x1)) · max(0, min(y2) − max(y1)), U = area_a +
// area_b − I, areas (x2 − x1)(y2 − y1) as torchvision. A pair whose union is not positive
// (degenerate boxes) has IoU 0 where torchvision gives 0/0.
template <typename T>
T iou_pair(const T* a, const T* b) {
    const T w = std::min(a[2], b[2]) - std::max(a[0], b[0]);
    const T h = std::min(a[3], b[3]) - std::max(a[1], b[1]);
    const T inter = std::max(w, T(0)) * std::max(h, T(0));
    const T uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return uni > T(0) ? inter / uni : T(0);
}

template <typename T>
void box_iou(const T* a, int64_t n, const T* b, int64_t m, T* iou) {
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < m; ++j) iou[i * m + j] = iou_pair(a + 4 * i, b + 4 * j);
}

// Adds dy · ∂IoU/∂a and dy · ∂IoU/∂b of one pair. With I = w⁺h⁺ (⁺: clamped at 0):
// ∂IoU/∂I = (U + I)/U², ∂IoU/∂area = −I/U²; ∂I/∂w = h⁺ where w > 0, else 0 (the clamp's
// derivative at and below 0 is 0, as relu's). min/max ties send the derivative to box a.
template <typename T>
void iou_pair_backward(const T* a, const T* b, T dy, T* da, T* db) {
    const T w = std::min(a[2], b[2]) - std::max(a[0], b[0]);
    const T h = std::min(a[3], b[3]) - std::max(a[1], b[1]);
    const T wp = std::max(w, T(0)), hp = std::max(h, T(0)), inter = wp * hp;
    const T uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if (!(uni > T(0))) return;  // IoU is held at 0 there: no gradient
    const T d_inter = dy * (uni + inter) / (uni * uni), d_area = -dy * inter / (uni * uni);
    // areas: ∂(x2−x1)(y2−y1) = (−(y2−y1), −(x2−x1), y2−y1, x2−x1)
    for (auto [box, d] : {std::pair{a, da}, std::pair{b, db}}) {
        const T bw = box[2] - box[0], bh = box[3] - box[1];
        d[0] -= d_area * bh;
        d[1] -= d_area * bw;
        d[2] += d_area * bh;
        d[3] += d_area * bw;
    }
    const T dw = w > T(0) ? d_inter * hp : T(0), dh = h > T(0) ? d_inter * wp : T(0);
    (a[2] <= b[2] ? da : db)[2] += dw;  // w = min(x2) − max(x1)
    (a[0] >= b[0] ? da : db)[0] -= dw;
    (a[3] <= b[3] ? da : db)[3] += dh;
    (a[1] >= b[1] ? da : db)[1] -= dh;
}

template <typename T>
void box_iou_backward(const T* dy, const T* a, int64_t n, const T* b, int64_t m, T* da, T* db) {
    std::fill(da, da + 4 * n, T(0));
    std::fill(db, db + 4 * m, T(0));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < m; ++j) iou_pair_backward(a + 4 * i, b + 4 * j, dy[i * m + j], da + 4 * i, db + 4 * j);
}

// ---- non-maximum suppression ------------------------------------------------------------
// Greedy, as torchvision.ops.nms: visit boxes by decreasing score (equal scores: lower index
// first, a stable sort), keep a box unless a kept one overlaps it with IoU > threshold.
// Writes the kept indices to keep[0, count) and −1 after; returns count. `order` (n) and
// `suppressed` (n) are the caller's workspace (a kernel's planned scratch: no allocation per run).
template <typename T>
int64_t nms(const T* boxes, const T* scores, int64_t n, double threshold, int64_t* keep, int64_t* order,
            char* suppressed) {
    std::iota(order, order + n, int64_t{0});
    std::stable_sort(order, order + n, [&](int64_t i, int64_t j) { return scores[i] > scores[j]; });
    std::fill(suppressed, suppressed + n, char{0});
    int64_t count = 0;
    for (int64_t r = 0; r < n; ++r) {
        const int64_t i = order[r];
        if (suppressed[i]) continue;
        keep[count++] = i;
        for (int64_t s = r + 1; s < n; ++s) {
            const int64_t j = order[s];
            if (!suppressed[j] && static_cast<double>(iou_pair(boxes + 4 * i, boxes + 4 * j)) > threshold) suppressed[j] = 1;
        }
    }
    std::fill(keep + count, keep + n, int64_t{-1});
    return count;
}

}  // namespace gg::reference
