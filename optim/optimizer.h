// Optimizers update the ParameterStore after run(): plain parallel loops over parameter and
// gradient buffers, no allocation per step. Their state (momentum, moments) lives in the same
// store under "optim.<parameter>.<slot>", so a checkpoint of the store includes it.
//
//   gg::optim::Sgd opt(g, params, {.lr = 0.1, .momentum = 0.9});
//   auto out = step.run(feeds);                       // fetch loss, then the gradients
//   opt.step({out.begin() + 1, out.end()});
#pragma once

#include <string>
#include <vector>

#include "graph/graph.h"

namespace gg::optim {

class Optimizer {
public:
    Optimizer(Graph& g, const std::vector<Value>& params);
    virtual ~Optimizer() = default;

    // grads[i] is the gradient of params[i] (same desc).
    void step(const std::vector<Tensor>& grads);
    double lr() const { return lr_; }
    void set_lr(double lr) { lr_ = lr; }
    uint64_t steps() const { return steps_; }

protected:
    // Updates one parameter in place; called once per parameter per step.
    virtual void update(std::size_t index, Tensor& param, const Tensor& grad) = 0;
    // A zero-initialised state tensor shaped like parameter `index`, created once in the store.
    Tensor& state(std::size_t index, const std::string& slot);

    ParameterStore& store_;
    std::vector<std::string> names_;
    double lr_ = 0.01;
    uint64_t steps_ = 0;
};

struct SgdOptions {
    double lr = 0.01;
    double momentum = 0.0;
    double dampening = 0.0;
    double weight_decay = 0.0;  // L2 added to the gradient (PyTorch SGD semantics)
    bool nesterov = false;
};

// PyTorch's SGD: g ← g + λθ; b ← μb + (1−τ)g; g ← nesterov ? g + μb : b; θ ← θ − η·g.
class Sgd final : public Optimizer {
public:
    Sgd(Graph& g, const std::vector<Value>& params, SgdOptions o = {});

private:
    void update(std::size_t index, Tensor& param, const Tensor& grad) override;
    SgdOptions o_;
};

}  // namespace gg::optim
