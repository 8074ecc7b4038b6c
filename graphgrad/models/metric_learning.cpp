// Triplet losses with in-batch mining and the spherical embedding constraint, written with
// the public builders only. Masks are comparisons (no gradient); a "masked max" is
// max(where(mask, x, filler)) with a filler no real entry reaches, so the max's gradient goes
// to the chosen entry and never to a masked one.
#include "graphgrad/models/metric_learning.h"

#include <numeric>
#include <vector>

#include <fmt/format.h>

#include "graphgrad/graph/errors.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/ops.h"

namespace gg::models {
namespace {

// Larger than any distance between (normalised or raw) embeddings we train: a masked-out
// entry of a min never wins. Finite, so that a row with nothing to choose stays finite and
// its weight 0 removes it.
constexpr double kFar = 1e9;

// sqrt(x) for x ≥ 0, with value and gradient 0 where x = 0.
Value safe_sqrt(Value x) {
    Value positive = greater(x, 0.0);
    Value one = scalar_like(x, 1.0), zero = scalar_like(x, 0.0);
    return where(positive, sqrt(where(positive, x, one)), zero);
}

// Maximum of x over `axis` among entries where mask ≠ 0; `filler` where nothing is selected.
Value masked_max(Value x, Value mask, int64_t axis, double filler, bool keepdims = false) {
    return max(where(mask, x, scalar_like(x, filler)), {axis}, keepdims);
}
Value masked_min(Value x, Value mask, int64_t axis, double filler, bool keepdims = false) {
    return neg(masked_max(neg(x), mask, axis, -filler, keepdims));
}

// The identity pattern [B, B] as i64 (dtype-free: built from indices).
Value eye_mask(Graph& g, int64_t b) {
    std::vector<int64_t> iota(static_cast<std::size_t>(b));
    std::iota(iota.begin(), iota.end(), int64_t{0});
    Value i = g.constant(Tensor::from_vector(iota, {b}));
    return equal(reshape(i, {b, 1}), reshape(i, {1, b}));
}

struct LabelMasks {
    Value positive;  // [B, B]: same label, not the anchor itself (1/0 in the embeddings' dtype)
    Value negative;  // [B, B]: different label
};

LabelMasks label_masks(Value e, Value labels) {
    const int64_t b = e.dim(0);
    Value one = scalar_like(e, 1.0), zero = scalar_like(e, 0.0);
    Value same = where(equal(reshape(labels, {b, 1}), reshape(labels, {1, b})), one, zero);
    Value not_self = where(eye_mask(*e.graph, b), zero, one);
    return {same * not_self, 1.0 - same};
}

void check_inputs(Value e, Value labels, const TripletOptions& o) {
    if (e.rank() != 2 || !is_floating(e.dtype()))
        throw ShapeError(fmt::format("triplet_loss: embeddings must be floating [B, D], got {}", desc_str(e.desc())));
    if (labels.shape() != Shape{e.dim(0)} || labels.dtype() != DType::I64)
        throw ShapeError(fmt::format("triplet_loss: labels must be i64 [{}] for embeddings {}, got {}", e.dim(0),
                                     desc_str(e.desc()), desc_str(labels.desc())));
    if (!(o.margin >= 0)) throw OptionError(fmt::format("triplet_loss: the margin must be >= 0, got {}", o.margin));
}

// Σ weight·hinge / max(count, 1): count is built from masks, so it carries no gradient.
Value weighted_mean(Value hinge, Value weight, Value count) {
    return sum(hinge * weight) / maximum(count, scalar_like(count, 1.0));
}

}  // namespace

Value row_norms(Value x) { return safe_sqrt(sum(x * x, {-1})); }

Value l2_normalize(Value x) {
    Value n = reshape(row_norms(x), {x.dim(0), 1});
    return x / maximum(n, scalar_like(n, 1e-12));
}

Value pairwise_distances(Value e, bool squared) {
    if (e.rank() != 2)
        throw ShapeError(fmt::format("pairwise_distances: embeddings must be [B, D], got {}", desc_str(e.desc())));
    const int64_t b = e.dim(0);
    Value sq = sum(e * e, {1}, true);                             // [B, 1]
    Value gram = matmul(e, e, false, true);                       // [B, B]
    Value d2 = relu(sq + reshape(sq, {1, b}) - 2.0 * gram);       // rounding can dip below 0
    // The diagonal is 0 by definition; the expansion leaves rounding noise of order ‖e‖²·ε there.
    d2 = where(eye_mask(*e.graph, b), scalar_like(d2, 0.0), d2);
    return squared ? d2 : safe_sqrt(d2);
}

TripletMining parse_triplet_mining(const std::string& name) {
    if (name == "batch-hard") return TripletMining::BatchHard;
    if (name == "semi-hard") return TripletMining::SemiHard;
    if (name == "batch-all") return TripletMining::BatchAll;
    throw OptionError(fmt::format("unknown triplet mining \"{}\" (known: batch-hard, semi-hard, batch-all)", name));
}

std::string triplet_mining_name(TripletMining m) {
    switch (m) {
    case TripletMining::BatchHard: return "batch-hard";
    case TripletMining::SemiHard: return "semi-hard";
    case TripletMining::BatchAll: return "batch-all";
    }
    return "?";
}

TripletLoss triplet_loss(Value e, Value labels, const TripletOptions& o) {
    check_inputs(e, labels, o);
    const int64_t b = e.dim(0);
    Value x = o.normalize ? l2_normalize(e) : e;
    Value d = pairwise_distances(x, o.squared);
    LabelMasks m = label_masks(e, labels);
    // An anchor needs a negative in every mode; rows without one get weight 0.
    Value has_neg = max(m.negative, {1}, true);  // [B, 1]
    TripletLoss t;
    switch (o.mining) {
    case TripletMining::BatchHard: {
        // Distances are ≥ 0, so filler −1 never beats a real positive.
        t.d_ap = masked_max(d, m.positive, 1, -1.0);
        t.d_an = masked_min(d, m.negative, 1, kFar);
        t.weight = max(m.positive, {1}) * reshape(has_neg, {b});
        t.loss = weighted_mean(relu(t.d_ap - t.d_an + o.margin), t.weight, sum(t.weight));
        break;
    }
    case TripletMining::SemiHard: {
        Value d_ap = reshape(d, {b, b, 1});          // [a, p, ·]
        Value d_an = reshape(d, {b, 1, b});          // [a, ·, n]
        Value neg = reshape(m.negative, {b, 1, b});
        // Semi-hard candidates: negatives farther than this positive. If there is one, the
        // closest (hinge > 0 only when it is within the margin; FaceNet's d_ap < d_an < d_ap + α).
        Value candidate = neg * greater(d_an, d_ap);  // [B, B, B]
        Value has_candidate = max(candidate, {2});    // [B, B]
        Value semi = masked_min(d_an, candidate, 2, kFar);
        // None: every negative is closer than the positive; take the farthest of them, the
        // least hard (the hardest one collapses embeddings early in training, FaceNet §3.2).
        Value easiest_hard = masked_max(d, m.negative, 1, -1.0, true);  // [B, 1]
        t.d_ap = d;
        t.d_an = where(has_candidate, semi, broadcast_to(easiest_hard, {b, b}));
        t.weight = m.positive * has_neg;
        t.loss = weighted_mean(relu(t.d_ap - t.d_an + o.margin), t.weight, sum(t.weight));
        break;
    }
    case TripletMining::BatchAll: {
        t.d_ap = broadcast_to(reshape(d, {b, b, 1}), {b, b, b});
        t.d_an = broadcast_to(reshape(d, {b, 1, b}), {b, b, b});
        t.weight = reshape(m.positive, {b, b, 1}) * reshape(m.negative, {b, 1, b});
        Value hinge = relu(t.d_ap - t.d_an + o.margin);
        // Hermans et al.'s "BA≠0": average over the triplets that still contribute, so the
        // loss does not fade as most triplets become easy.
        Value active = greater(hinge * t.weight, 0.0);
        t.loss = weighted_mean(hinge, t.weight, sum(active));
        break;
    }
    }
    return t;
}

Value spherical_embedding_constraint(Value e) {
    if (e.rank() != 2 || !is_floating(e.dtype()))
        throw ShapeError(fmt::format("spherical_embedding_constraint: embeddings must be floating [B, D], got {}",
                                     desc_str(e.desc())));
    Value n = row_norms(e);
    Value centred = n - mean(n);
    return mean(centred * centred);
}

Value embedding_net(Value x, int64_t dim) {
    if (dim < 1) throw OptionError(fmt::format("embedding_net: the embedding size must be positive, got {}", dim));
    Value h = max_pool2d(conv_bn(x, 32, 3, 1, "conv1"));  // [N, 32, 14, 14]
    h = max_pool2d(conv_bn(h, 64, 3, 1, "conv2"));        // [N, 64, 7, 7]
    h = max_pool2d(conv_bn(h, 64, 3, 1, "conv3"));        // [N, 64, 3, 3]
    h = relu(linear(flatten(h), 128, "fc1"));
    return linear(h, dim, "embed");
}

}  // namespace gg::models
