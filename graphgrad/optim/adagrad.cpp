#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/optim/adagrad.h"

#include <cmath>

namespace gg::optim {

Adagrad::Adagrad(Graph& g, const std::vector<Value>& params, AdagradOptions o)
    : Optimizer(g, params, o.lr), o_(o) {
    check_option(o.lr_decay >= 0, "adagrad", "lr_decay", o.lr_decay);
    check_option(o.weight_decay >= 0, "adagrad", "weight_decay", o.weight_decay);
    check_option(o.initial_accumulator_value >= 0, "adagrad", "initial_accumulator_value",
                 o.initial_accumulator_value);
    check_option(o.eps >= 0, "adagrad", "eps", o.eps);
    for (std::size_t i = 0; i < names_.size(); ++i) sum_.push_back(&add_state(i, "sum", o.initial_accumulator_value));
}

void Adagrad::update(std::size_t index, Tensor& param, const Tensor& grad, int64_t step) {
    // The decayed rate is a per-step scalar: computed once in double, as PyTorch does in Python.
    const double clr = lr() / (1.0 + static_cast<double>(step - 1) * o_.lr_decay);
    dispatch_float(param.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* w = param.data<T>();
        T* s = sum_[index]->data<T>();
        const T* g = grad.data<T>();
        const T eta = static_cast<T>(clr), wd = static_cast<T>(o_.weight_decay), eps = static_cast<T>(o_.eps);
        parallel_range(param.numel(), [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) {
                const T d = g[i] + wd * w[i];
                s[i] += d * d;
                w[i] -= eta * d / (std::sqrt(s[i]) + eps);
            }
        });
        return 0;
    });
}

}  // namespace gg::optim
