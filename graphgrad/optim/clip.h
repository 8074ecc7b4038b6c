// Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_): all gradients are
// treated as one long vector, so clipping keeps the update's direction and only bounds its
// length. Applied in place to fetched gradients, between run() and the optimizer step.
//
//   auto out = step.run(feeds);
//   std::vector<gg::Tensor> grads(out.begin() + 1, out.end());
//   double norm = gg::optim::clip_grad_norm(grads, 1.0);   // the norm before clipping
//   opt.step(grads);
#pragma once

#include <limits>
#include <vector>

#include "graphgrad/graph/tensor.h"

namespace gg::optim {

constexpr double kInfNorm = std::numeric_limits<double>::infinity();

// ‖(g₁, …, gₙ)‖_p over every element of every tensor (p > 0, or kInfNorm for the max
// magnitude). Accumulated in double and summed in a fixed order, so the result does not
// depend on the number of threads.
double global_norm(const std::vector<Tensor>& grads, double norm_type = 2.0);

// Scales every gradient in place by min(1, max_norm / (‖g‖ + 1e-6)) and returns ‖g‖ before
// clipping. A non-finite norm throws when error_if_nonfinite is set; otherwise, as in PyTorch,
// the gradients are scaled by the resulting NaN or 0 and the caller sees it in the return value.
double clip_grad_norm(const std::vector<Tensor>& grads, double max_norm, double norm_type = 2.0,
                      bool error_if_nonfinite = false);

}  // namespace gg::optim
