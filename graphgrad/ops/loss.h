// Losses (scalar outputs, mean over the batch) and stop_gradient.
//
//   auto loss = gg::cross_entropy(logits, labels);          // logits [N,C], labels i64 [N]
//   auto loss2 = gg::cross_entropy(logits, labels, 0.1);    // label smoothing ε = 0.1
//   auto seg = gg::cross_entropy(scores, masks, 0.0, 255);  // scores [N,C,H,W], masks [N,H,W], 255 ignored
#pragma once

#include "graphgrad/graph/node.h"

namespace gg {

// PyTorch's default ignore_index.
inline constexpr int64_t kIgnoreIndex = -100;

// Mean of −Σ_c q_c·log softmax(logits)_c with q = (1−ε)·onehot + ε/C, as PyTorch's
// F.cross_entropy(reduction="mean"): logits [N, C] with labels [N], or [N, C, d1, ...] with
// labels [N, d1, ...] (classes on axis 1); positions labelled ignore_index are left out of
// the mean and get no gradient (all of them ignored: NaN loss, zero gradient).
Value cross_entropy(Value logits, Value labels, double label_smoothing = 0.0, int64_t ignore_index = kIgnoreIndex);
Value mse(Value prediction, Value target);  // mean of squared differences
// 1 at each label's class, 0 elsewhere: i64 labels [N, d...] → [N, C, d...] with the classes
// on `axis` (1 by default, as cross_entropy's logits; −1: last). A label outside [0, C) stops
// the run with an error naming the node. Not differentiable (labels are data).
Value one_hot(Value labels, int64_t num_classes, int64_t axis = 1, DType dtype = DType::F32);
Value stop_gradient(Value x);               // identity forward, no gradient

}  // namespace gg
