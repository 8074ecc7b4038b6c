// AdaGrad: per-coordinate steps shrink with the accumulated squared gradient, so rarely
// updated coordinates (embeddings, sparse features) keep large steps.
//
//   gg::optim::Adagrad opt(g, params, {.lr = 0.01, .initial_accumulator_value = 0.1});
//   opt.step(grads);
#pragma once

#include "graphgrad/optim/optimizer.h"

namespace gg::optim {

struct AdagradOptions {
    double lr = 0.01;
    double lr_decay = 0.0;                   // η_t = η / (1 + (t−1)·lr_decay)
    double weight_decay = 0.0;               // L2 added to the gradient
    double initial_accumulator_value = 0.0;  // the sum starts here instead of 0
    double eps = 1e-10;
};

// torch.optim.Adagrad: g ← g + λθ; s ← s + g²; θ ← θ − η/(1 + (t−1)·lr_decay) · g / (√s + ε).
class Adagrad final : public Optimizer {
public:
    Adagrad(Graph& g, const std::vector<Value>& params, AdagradOptions o = {});
    const char* name() const override { return "adagrad"; }
    const AdagradOptions& options() const { return o_; }

private:
    void update(std::size_t index, Tensor& param, const Tensor& grad, int64_t step) override;
    const char* sparse_refusal() const override;
    void update_rows(std::size_t index, Tensor& param, const SparseRows& g, int64_t step) override;
    AdagradOptions o_;
    std::vector<Tensor*> sum_;  // "sum", PyTorch's state name
};

}  // namespace gg::optim
