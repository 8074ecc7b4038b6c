// Adam and AdamW: steps scaled by bias-corrected running means of the gradient and its square.
// Adam's weight decay is L2 added to the gradient (so it is rescaled by the adaptive
// denominator); AdamW decays the weights directly, which is what "weight decay" means in
// modern recipes, hence its non-zero default.
//
//   gg::optim::AdamW opt(g, params, {.lr = 1e-3, .weight_decay = 0.05});
//   opt.step(grads);
#pragma once

#include "graphgrad/optim/optimizer.h"

namespace gg::optim {

struct AdamOptions {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;  // added to the bias-corrected √v̂, outside the square root
    double weight_decay = 0.0;
    bool amsgrad = false;  // divide by the running maximum of v instead of v
};

// AdamOptions with AdamW's default decay (PyTorch's 1e-2); the fields mean the same.
struct AdamWOptions {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 1e-2;
    bool amsgrad = false;
};

// torch.optim.Adam: g ← g + λθ; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; (amsgrad: v̄ ← max(v̄, v));
// θ ← θ − η/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε). A row-sparse gradient gets lazy Adam instead
// (torch.optim.SparseAdam, see optim/optimizer.h): only the touched rows' moments and weights.
class Adam : public Optimizer {
public:
    Adam(Graph& g, const std::vector<Value>& params, AdamOptions o = {});
    const char* name() const override { return decoupled_ ? "adamw" : "adam"; }
    const AdamOptions& options() const { return o_; }

protected:
    Adam(Graph& g, const std::vector<Value>& params, AdamOptions o, bool decoupled);

private:
    void update(std::size_t index, Tensor& param, const Tensor& grad, int64_t step) override;
    const char* sparse_refusal() const override;
    void update_rows(std::size_t index, Tensor& param, const SparseRows& g, int64_t step) override;
    AdamOptions o_;
    bool decoupled_;
    std::vector<Tensor*> exp_avg_, exp_avg_sq_, max_exp_avg_sq_;  // PyTorch's state names
};

// torch.optim.AdamW: θ ← θ − η·λ·θ (decoupled decay, before the step), then Adam's step with λ = 0.
class AdamW final : public Adam {
public:
    AdamW(Graph& g, const std::vector<Value>& params, AdamWOptions o = {});
};

}  // namespace gg::optim
