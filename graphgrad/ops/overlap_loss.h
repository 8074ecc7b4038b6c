// Overlap losses for segmentation: soft Dice and soft Jaccard (IoU) between softmax
// probabilities and one-hot labels, as differentiable graph code (composites of softmax,
// one_hot, sums and arithmetic; no op of their own).
//
// Variant: per class over the whole batch, then the mean over classes (Milletari et al.'s soft
// Dice with plain, not squared, sums below, extended to C classes): for every class c the sums
// run over all N·H·W positions of the batch,
//   I_c = Σ p_c·q_c,  P_c = Σ p_c,  Q_c = Σ q_c
//   dice_c = (2·I_c + ε) / (P_c + Q_c + ε)        jaccard_c = (I_c + ε) / (P_c + Q_c − I_c + ε)
// and the loss is 1 − mean_c over all C classes (background included). With a hard one-hot
// prediction and ε → 0 it is 1 − the metric of train/segmentation_metrics.h over the batch
// when every class occurs; a class absent from both prediction and labels scores (0+ε)/(0+ε)
// = 1 here, where the metric leaves it out. ε (default 1) keeps the gradient finite for
// absent classes and softens the loss for rare ones.
//
//   Value logits = gg::models::unet(x, 11);                      // [N, 11, H, W]
//   Value loss = gg::cross_entropy(logits, labels) + gg::dice_loss(logits, labels);
#pragma once

#include "graphgrad/graph/node.h"

namespace gg {

// logits [N, C, d...] (classes on axis 1, any float dtype), labels i64 [N, d...] in [0, C).
Value dice_loss(Value logits, Value labels, double smooth = 1.0);
Value jaccard_loss(Value logits, Value labels, double smooth = 1.0);

// The per-class scores [C] the losses average, from probabilities (rows summing to 1 over
// axis 1, e.g. softmax(logits, 1)) and labels: for reports and tests.
Value soft_dice_per_class(Value probabilities, Value labels, double smooth = 1.0);
Value soft_jaccard_per_class(Value probabilities, Value labels, double smooth = 1.0);

}  // namespace gg
