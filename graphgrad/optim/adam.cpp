#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/optim/adam.h"

#include <algorithm>
#include <cmath>

namespace gg::optim {

Adam::Adam(Graph& g, const std::vector<Value>& params, AdamOptions o) : Adam(g, params, o, false) {}

Adam::Adam(Graph& g, const std::vector<Value>& params, AdamOptions o, bool decoupled)
    : Optimizer(g, params, o.lr), o_(o), decoupled_(decoupled) {
    const char* who = decoupled ? "adamw" : "adam";
    check_option(o.beta1 >= 0 && o.beta1 < 1, who, "beta1", o.beta1);
    check_option(o.beta2 >= 0 && o.beta2 < 1, who, "beta2", o.beta2);
    check_option(o.eps >= 0, who, "eps", o.eps);
    check_option(o.weight_decay >= 0, who, "weight_decay", o.weight_decay);
    for (std::size_t i = 0; i < names_.size(); ++i) {
        exp_avg_.push_back(&add_state(i, "exp_avg"));
        exp_avg_sq_.push_back(&add_state(i, "exp_avg_sq"));
        if (o.amsgrad) max_exp_avg_sq_.push_back(&add_state(i, "max_exp_avg_sq"));
    }
}

AdamW::AdamW(Graph& g, const std::vector<Value>& params, AdamWOptions o)
    : Adam(g, params, {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad}, true) {}

void Adam::update(std::size_t index, Tensor& param, const Tensor& grad, int64_t step) {
    // Bias corrections are per-step scalars, computed in double as PyTorch does in Python.
    const double t = static_cast<double>(step);
    const double step_size = lr() / (1.0 - std::pow(o_.beta1, t));
    const double bc2_sqrt = std::sqrt(1.0 - std::pow(o_.beta2, t));
    dispatch_float(param.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* w = param.data<T>();
        T* m = exp_avg_[index]->data<T>();
        T* v = exp_avg_sq_[index]->data<T>();
        T* vmax = max_exp_avg_sq_.empty() ? nullptr : max_exp_avg_sq_[index]->data<T>();
        const T* g = grad.data<T>();
        const T b1 = static_cast<T>(o_.beta1), b2 = static_cast<T>(o_.beta2);
        const T one_m_b1 = static_cast<T>(1.0 - o_.beta1), one_m_b2 = static_cast<T>(1.0 - o_.beta2);
        const T eps = static_cast<T>(o_.eps), ss = static_cast<T>(step_size), bc2 = static_cast<T>(bc2_sqrt);
        // L2 (Adam) enters the gradient; decoupled decay (AdamW) scales θ by 1 − ηλ first.
        const T l2 = decoupled_ ? T(0) : static_cast<T>(o_.weight_decay);
        const T shrink = static_cast<T>(decoupled_ ? 1.0 - lr() * o_.weight_decay : 1.0);
        parallel_range(param.numel(), [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) {
                w[i] *= shrink;
                const T d = g[i] + l2 * w[i];
                m[i] = m[i] * b1 + one_m_b1 * d;
                v[i] = v[i] * b2 + one_m_b2 * d * d;
                T second = v[i];
                if (vmax) second = vmax[i] = std::max(vmax[i], v[i]);
                w[i] -= ss * m[i] / (std::sqrt(second) / bc2 + eps);
            }
        });
        return 0;
    });
}

}  // namespace gg::optim
