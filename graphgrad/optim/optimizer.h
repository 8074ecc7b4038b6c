// Optimizers update the ParameterStore after run(): plain parallel loops over parameter and
// gradient buffers, no allocation per step. Their state (momentum, moments, step counts) lives
// in the same store under "optim.<parameter>.<slot>", so a checkpoint of the store includes it
// and an optimizer built over a store that already holds its slots resumes from them.
//
//   gg::optim::Sgd opt(g, params, {.lr = 0.1, .momentum = 0.9});
//   auto out = step.run(feeds);                       // fetch loss, then the gradients
//   opt.step({out.begin() + 1, out.end()});
//   auto gs = gg::gradients(loss, params);            // row-sparse where embeddings ask
//   opt.step_gradients(gg::optim::gradient_tensors(gs, out, 1));  // gs[i].values() fetched
//
// Row-sparse gradients (graph/gradient.h: embedding with sparse_grad, taken with gradients())
// go through the same step(): all parts of a parameter are first coalesced (the rows of equal
// indices summed, in order of appearance, so results do not depend on the thread count), then
// only the touched rows are updated, as PyTorch does with sparse gradients:
//   Sgd      the dense result exactly (momentum too, but momentum makes the update dense:
//            every row with a non-zero buffer moves, as PyTorch's sparse momentum buffer does)
//   Adagrad  the dense result exactly (an untouched row's sum and weight do not change)
//   Adam     torch.optim.SparseAdam ("lazy Adam"): moments of touched rows only, bias
//            correction from the parameter's step count, ε added to √v outside the correction
// Weight decay, amsgrad and AdamW's decoupled decay touch every row: with a sparse gradient
// they are refused, as PyTorch refuses them. Scratch for coalescing is sized at the first
// sparse step (V row slots per parameter) and grows only when a later step has more rows.
//
// Every optimizer follows torch.optim's update formulas exactly (same eps placement, same
// first-step rules), so hyperparameters carry over from PyTorch recipes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graphgrad/graph/gradient.h"
#include "graphgrad/graph/graph.h"

namespace gg::optim {

// A parameter's gradient as run() returned it: dense, or the row-sparse parts.
struct RowSparseTensors {
    Tensor indices;  // i64 [K]
    Tensor rows;     // [K, ...]
};
struct GradientTensors {
    Tensor dense;
    std::vector<RowSparseTensors> sparse;
    bool is_sparse() const { return !sparse.empty(); }
};
// The fetched tensors of `grads`: outputs[first...] hold each grads[i].values() in turn.
std::vector<GradientTensors> gradient_tensors(const std::vector<Gradient>& grads, const std::vector<Tensor>& outputs,
                                              std::size_t first = 0);

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
    // Dense or row-sparse gradients (sparse ones are checked: i64 indices in [0, V), rows of
    // the parameter's row shape).
    void step_gradients(const std::vector<GradientTensors>& grads);

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

    // A coalesced row-sparse gradient: n distinct rows, values [n, row] of the parameter's
    // dtype, and slot_of_row[r] = the position of row r among them, or -1 (size V).
    struct SparseRows {
        const int64_t* rows;
        int64_t n;
        const void* values;
        const int64_t* slot_of_row;
    };
    // Why this optimizer, as configured, cannot take row-sparse gradients (nullptr: it can).
    virtual const char* sparse_refusal() const { return "it has no row-sparse update"; }
    virtual void update_rows(std::size_t index, Tensor& param, const SparseRows& g, int64_t step);

    std::vector<std::string> names_;

private:
    struct Coalescer {  // scratch of one parameter's sparse steps
        std::vector<int64_t> slot;                   // [V], -1 between steps
        std::vector<int64_t> unique, first, order;   // distinct rows, occurrence lists
        std::vector<const char*> source, grouped;     // each occurrence's row; grouped by row
        Tensor sums;                                 // [capacity, row]
    };
    SparseRows coalesce(std::size_t index, const GradientTensors& g);
    void check_sparse(std::size_t index, const GradientTensors& g) const;

    struct Slot {
        Tensor* tensor;  // points into a std::map node of the store: stable while the store lives
        double init;
    };
    ParameterStore& store_;
    std::vector<Tensor*> params_;
    std::vector<Tensor*> step_counts_;  // "optim.<param>.step", i64 scalars
    std::vector<Slot> slots_;
    std::vector<Coalescer> coalescers_;
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
    const char* sparse_refusal() const override;
    void update_rows(std::size_t index, Tensor& param, const SparseRows& g, int64_t step) override;
    SgdOptions o_;
    std::vector<Tensor*> buf_;  // "momentum_buffer", only when momentum > 0
};

}  // namespace gg::optim
