#include "optim/optimizer.h"

#include "ops/kernel_util.h"

namespace gg::optim {

Optimizer::Optimizer(Graph& g, const std::vector<Value>& params) : store_(g.store()) {
    for (const Value& p : params) {
        const Node& n = p.producer();
        if (n.op->name != "parameter" || !std::any_cast<const ParameterAttrs&>(n.attrs).trainable)
            throw_graph("optimizer: \"{}\" is a {} node, not a trainable parameter", n.name, n.op->name);
        names_.push_back(n.name);
    }
}

void Optimizer::step(const std::vector<Tensor>& grads) {
    if (grads.size() != names_.size())
        throw_runtime("optimizer: {} gradients for {} parameters", grads.size(), names_.size());
    ++steps_;
    for (std::size_t i = 0; i < names_.size(); ++i) {
        Tensor& p = store_.get(names_[i]);
        if (grads[i].desc() != p.desc())
            throw_runtime("optimizer: gradient {} for parameter \"{}\" {}", grads[i].desc(), names_[i], p.desc());
        update(i, p, grads[i]);
    }
}

Tensor& Optimizer::state(std::size_t index, const std::string& slot) {
    std::string key = "optim." + names_[index] + "." + slot;
    if (!store_.contains(key)) {
        const Tensor& p = store_.get(names_[index]);
        store_.add(key, Tensor::zeros(p.shape(), p.dtype()), false);
    }
    return store_.get(key);
}

Sgd::Sgd(Graph& g, const std::vector<Value>& params, SgdOptions o) : Optimizer(g, params), o_(o) {
    lr_ = o.lr;
    if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
        throw_graph("SGD: Nesterov momentum needs momentum > 0 and zero dampening");
    if (o.momentum > 0)
        for (std::size_t i = 0; i < names_.size(); ++i) state(i, "momentum_buffer");  // allocate up front
}

void Sgd::update(std::size_t index, Tensor& param, const Tensor& grad) {
    dispatch_float(param.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* w = param.data<T>();
        const T* g = grad.data<T>();
        T* b = o_.momentum > 0 ? state(index, "momentum_buffer").data<T>() : nullptr;
        const T lr = static_cast<T>(lr_), wd = static_cast<T>(o_.weight_decay), mu = static_cast<T>(o_.momentum),
                damp = static_cast<T>(1.0 - o_.dampening);
        const bool first = steps_ == 1, nesterov = o_.nesterov;
        parallel_range(param.numel(), [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) {
                T d = g[i] + wd * w[i];
                if (b) {
                    b[i] = first ? d : mu * b[i] + damp * d;  // PyTorch starts the buffer at g
                    d = nesterov ? d + mu * b[i] : b[i];
                }
                w[i] -= lr * d;
            }
        });
        return 0;
    });
}

}  // namespace gg::optim
