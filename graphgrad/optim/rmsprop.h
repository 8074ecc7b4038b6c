// RMSProp: steps divided by a running RMS of the gradient; optionally centered (divides by an
// estimate of the gradient's standard deviation instead) and with heavy-ball momentum.
//
//   gg::optim::RmsProp opt(g, params, {.lr = 1e-3, .momentum = 0.9, .centered = true});
//   opt.step(grads);
#pragma once

#include "graphgrad/optim/optimizer.h"

namespace gg::optim {

struct RmsPropOptions {
    double lr = 0.01;
    double alpha = 0.99;  // smoothing constant of the squared-gradient average
    double eps = 1e-8;    // added outside the square root, as PyTorch does (TensorFlow adds it inside)
    double weight_decay = 0.0;  // L2 added to the gradient
    double momentum = 0.0;
    bool centered = false;
};

// torch.optim.RMSprop: g ← g + λθ; v ← αv + (1−α)g²; centered: ḡ ← αḡ + (1−α)g, d ← √(v − ḡ²) + ε,
// else d ← √v + ε; momentum: b ← μb + g/d, θ ← θ − η·b; otherwise θ ← θ − η·g/d.
class RmsProp final : public Optimizer {
public:
    RmsProp(Graph& g, const std::vector<Value>& params, RmsPropOptions o = {});
    const char* name() const override { return "rmsprop"; }
    const RmsPropOptions& options() const { return o_; }

private:
    void update(std::size_t index, Tensor& param, const Tensor& grad, int64_t step) override;
    RmsPropOptions o_;
    std::vector<Tensor*> square_avg_, grad_avg_, buf_;  // PyTorch's state names
};

}  // namespace gg::optim
