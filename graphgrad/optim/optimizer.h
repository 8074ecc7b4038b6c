// Optimizers update the ParameterStore after run(): plain parallel loops over parameter and
// gradient buffers, no allocation per step. Their state (momentum, moments, step counts) lives
// in the same store under "optim.<parameter>.<slot>", so a checkpoint of the store includes it
// and an optimizer built over a store that already holds its slots resumes from them.
//
//   gg::optim::Sgd opt(g, params, {.lr = 0.1, .momentum = 0.9});
//   auto out = step.run(feeds);                       // fetch loss, then the gradients
//   opt.step({out.begin() + 1, out.end()});
//
// Every optimizer follows torch.optim's update formulas exactly (same eps placement, same
// first-step rules), so hyperparameters carry over from PyTorch recipes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graphgrad/graph/graph.h"

namespace gg::optim {

class Optimizer {
public:
    // params must be distinct trainable parameters of g; lr is the initial learning rate.
    Optimizer(Graph& g, const std::vector<Value>& params, double lr);
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    virtual const char* name() const = 0;  // "sgd", "adam", ... as make_optimizer() spells it

    // grads[i] is the gradient of params[i] (same desc). Gradients are only read.
    void step(const std::vector<Tensor>& grads);

    double lr() const { return lr_; }
    void set_lr(double lr);  // what LR schedules call
    // Completed steps, read from the store (so it survives a checkpoint round trip).
    uint64_t steps() const;
    const std::vector<std::string>& parameter_names() const { return names_; }
    // Back to the state of a fresh optimizer: slots to their initial values, step counts to 0.
    void reset_state();
    // After loading state from a file (`source` for messages): every step count is >= 0 and
    // every slot finite, else a DataError-like GraphError naming the entry.
    void check_state(const std::string& source) const;

protected:
    // Creates "optim.<param>.<slot>" shaped like the parameter and filled with `init`, or adopts
    // an existing entry of the same desc (resume). Constructors only: step() never allocates.
    Tensor& add_state(std::size_t index, const std::string& slot, double init = 0.0);

    // Updates one parameter in place; `step` counts this parameter's updates, starting at 1.
    virtual void update(std::size_t index, Tensor& param, const Tensor& grad, int64_t step) = 0;

    std::vector<std::string> names_;

private:
    struct Slot {
        Tensor* tensor;  // points into a std::map node of the store: stable while the store lives
        double init;
    };
    ParameterStore& store_;
    std::vector<Tensor*> params_;
    std::vector<Tensor*> step_counts_;  // "optim.<param>.step", i64 scalars
    std::vector<Slot> slots_;
    double lr_;
};

// Throws a GraphError naming the optimizer when `ok` is false (hyperparameter validation).
void check_option(bool ok, const char* optimizer, const char* what, double value);

struct SgdOptions {
    double lr = 0.01;
    double momentum = 0.0;
    double dampening = 0.0;
    double weight_decay = 0.0;  // L2 added to the gradient (PyTorch SGD semantics)
    bool nesterov = false;
};

// torch.optim.SGD: g ← g + λθ; b ← t=1 ? g : μb + (1−τ)g; g ← nesterov ? g + μb : b; θ ← θ − η·g.
class Sgd final : public Optimizer {
public:
    Sgd(Graph& g, const std::vector<Value>& params, SgdOptions o = {});
    const char* name() const override { return "sgd"; }
    const SgdOptions& options() const { return o_; }

private:
    void update(std::size_t index, Tensor& param, const Tensor& grad, int64_t step) override;
    SgdOptions o_;
    std::vector<Tensor*> buf_;  // "momentum_buffer", only when momentum > 0
};

}  // namespace gg::optim
