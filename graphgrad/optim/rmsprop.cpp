#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/optim/rmsprop.h"

#include <cmath>

namespace gg::optim {

RmsProp::RmsProp(Graph& g, const std::vector<Value>& params, RmsPropOptions o) : Optimizer(g, params, o.lr), o_(o) {
    check_option(o.alpha >= 0, "rmsprop", "alpha", o.alpha);
    check_option(o.eps >= 0, "rmsprop", "eps", o.eps);
    check_option(o.weight_decay >= 0, "rmsprop", "weight_decay", o.weight_decay);
    check_option(o.momentum >= 0, "rmsprop", "momentum", o.momentum);
    for (std::size_t i = 0; i < names_.size(); ++i) {
        square_avg_.push_back(&add_state(i, "square_avg"));
        if (o.centered) grad_avg_.push_back(&add_state(i, "grad_avg"));
        // Unlike SGD's, PyTorch's RMSprop momentum buffer starts at zero, not at the first step.
        if (o.momentum > 0) buf_.push_back(&add_state(i, "momentum_buffer"));
    }
}

void RmsProp::update(std::size_t index, Tensor& param, const Tensor& grad, int64_t /*step*/) {
    dispatch_float(param.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* w = param.data<T>();
        T* v = square_avg_[index]->data<T>();
        T* ga = grad_avg_.empty() ? nullptr : grad_avg_[index]->data<T>();
        T* b = buf_.empty() ? nullptr : buf_[index]->data<T>();
        const T* g = grad.data<T>();
        const T eta = static_cast<T>(lr()), wd = static_cast<T>(o_.weight_decay), eps = static_cast<T>(o_.eps),
                alpha = static_cast<T>(o_.alpha), one_m_alpha = static_cast<T>(1.0 - o_.alpha),
                mu = static_cast<T>(o_.momentum);
        parallel_range(param.numel(), [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) {
                const T d = g[i] + wd * w[i];
                v[i] = v[i] * alpha + one_m_alpha * d * d;
                T avg;
                if (ga) {
                    ga[i] = ga[i] * alpha + one_m_alpha * d;
                    avg = std::sqrt(v[i] - ga[i] * ga[i]) + eps;
                } else {
                    avg = std::sqrt(v[i]) + eps;
                }
                if (b) {
                    b[i] = b[i] * mu + d / avg;
                    w[i] -= eta * b[i];
                } else {
                    w[i] -= eta * d / avg;
                }
            }
        });
        return 0;
    });
}

}  // namespace gg::optim
