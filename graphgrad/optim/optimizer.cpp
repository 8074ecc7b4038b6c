#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/optim/optimizer.h"

#include <cmath>
#include <set>

namespace gg::optim {

void check_option(bool ok, const char* optimizer, const char* what, double value) {
    if (!ok) throw_graph("{}: invalid {}: {}", optimizer, what, value);
}

Optimizer::Optimizer(Graph& g, const std::vector<Value>& params, double lr) : store_(g.store()), lr_(lr) {
    std::set<std::string> seen;
    for (const Value& p : params) {
        const Node& n = p.producer();
        if (n.kind() != NodeKind::Parameter)
            throw_graph("optimizer: \"{}\" is a {} node, not a trainable parameter", n.name, n.op_name());
        // A parameter listed twice would be updated twice per step with the same gradient.
        if (!seen.insert(n.name).second) throw_graph("optimizer: parameter \"{}\" listed twice", n.name);
        names_.push_back(n.name);
        params_.push_back(&store_.get(n.name));
    }
    check_option(std::isfinite(lr) && lr >= 0, "optimizer", "learning rate", lr);
    for (const std::string& name : names_) {
        std::string key = "optim." + name + ".step";
        if (!store_.contains(key)) store_.add(key, Tensor::zeros({}, DType::I64), false);
        Tensor& t = store_.get(key);
        if (t.desc() != TensorDesc{{}, DType::I64})
            throw_graph("optimizer: store entry \"{}\" is {}, expected i64[]", key, t.desc());
        step_counts_.push_back(&t);
    }
}

void Optimizer::set_lr(double lr) {
    check_option(std::isfinite(lr) && lr >= 0, name(), "learning rate", lr);
    lr_ = lr;
}

uint64_t Optimizer::steps() const {
    return step_counts_.empty() ? 0 : static_cast<uint64_t>(*step_counts_[0]->data<int64_t>());
}

void Optimizer::step(const std::vector<Tensor>& grads) {
    if (grads.size() != names_.size())
        throw_runtime("{}: {} gradients for {} parameters", name(), grads.size(), names_.size());
    // Validate everything first so a bad gradient leaves no parameter half-updated.
    for (std::size_t i = 0; i < names_.size(); ++i) {
        if (grads[i].desc() != params_[i]->desc() || !grads[i].defined())
            throw_runtime("{}: gradient {} for parameter \"{}\" {}", name(), grads[i].desc(), names_[i],
                          params_[i]->desc());
    }
    for (std::size_t i = 0; i < names_.size(); ++i) {
        int64_t t = ++*step_counts_[i]->data<int64_t>();
        update(i, *params_[i], grads[i], t);
    }
}

Tensor& Optimizer::add_state(std::size_t index, const std::string& slot, double init) {
    const Tensor& p = *params_.at(index);
    std::string key = "optim." + names_[index] + "." + slot;
    if (!store_.contains(key)) store_.add(key, Tensor::full(p.shape(), init, p.dtype()), false);
    Tensor& t = store_.get(key);
    if (t.desc() != p.desc())
        throw_graph("{}: store entry \"{}\" is {}, but parameter \"{}\" is {}", name(), key, t.desc(), names_[index],
                    p.desc());
    slots_.push_back({&t, init});
    return t;
}

void Optimizer::check_state(const std::string& source) const {
    for (std::size_t i = 0; i < step_counts_.size(); ++i)
        if (*step_counts_[i]->data<int64_t>() < 0)
            throw_graph("{}: optimizer step count of \"{}\" is {}", source, names_[i], *step_counts_[i]->data<int64_t>());
    for (const Slot& s : slots_)
        for (int64_t k = 0; k < s.tensor->numel(); ++k)
            if (!std::isfinite(s.tensor->get(k)))
                throw_graph("{}: optimizer state holds {} at index {} (a {}-element slot)", source, s.tensor->get(k), k,
                            s.tensor->numel());
}

void Optimizer::reset_state() {
    for (Slot& s : slots_) s.tensor->fill(s.init);
    for (Tensor* t : step_counts_) *t->data<int64_t>() = 0;
}

Sgd::Sgd(Graph& g, const std::vector<Value>& params, SgdOptions o) : Optimizer(g, params, o.lr), o_(o) {
    check_option(o.momentum >= 0, "sgd", "momentum", o.momentum);
    check_option(o.weight_decay >= 0, "sgd", "weight_decay", o.weight_decay);
    if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
        throw_graph("sgd: Nesterov momentum needs momentum > 0 and zero dampening");
    if (o.momentum > 0)
        for (std::size_t i = 0; i < names_.size(); ++i) buf_.push_back(&add_state(i, "momentum_buffer"));
}

void Sgd::update(std::size_t index, Tensor& param, const Tensor& grad, int64_t step) {
    dispatch_float(param.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* w = param.data<T>();
        const T* g = grad.data<T>();
        T* b = buf_.empty() ? nullptr : buf_[index]->data<T>();
        const T eta = static_cast<T>(lr()), wd = static_cast<T>(o_.weight_decay), mu = static_cast<T>(o_.momentum),
                damp = static_cast<T>(1.0 - o_.dampening);
        const bool first = step == 1, nesterov = o_.nesterov;
        parallel_range(param.numel(), [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) {
                T d = g[i] + wd * w[i];
                if (b) {
                    b[i] = first ? d : mu * b[i] + damp * d;  // PyTorch starts the buffer at g, undamped
                    d = nesterov ? d + mu * b[i] : b[i];
                }
                w[i] -= eta * d;
            }
        });
        return 0;
    });
}

}  // namespace gg::optim
