// Losses (scalar outputs, mean over the batch) and stop_gradient.
//
//   auto loss = gg::cross_entropy(logits, labels);          // logits [N,C], labels i64 [N]
//   auto loss2 = gg::cross_entropy(logits, labels, 0.1);    // label smoothing ε = 0.1
#pragma once

#include "graphgrad/graph/node.h"

namespace gg {

// Mean over N of −Σ_c q_c·log softmax(logits)_c with q = (1−ε)·onehot + ε/C.
Value cross_entropy(Value logits, Value labels, double label_smoothing = 0.0);
Value mse(Value prediction, Value target);  // mean of squared differences
Value stop_gradient(Value x);               // identity forward, no gradient

}  // namespace gg
