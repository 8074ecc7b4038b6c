// Row-sparse optimizer steps (optim/optimizer.h): validation, coalescing, and the row updates
// of SGD, Adagrad and lazy Adam (torch.optim.SparseAdam). Coalescing is serial over the K
// occurrences (integer work only: slot lookup, counting sort), then parallel over the
// distinct rows, each summing its occurrences in order of appearance: deterministic results
// whatever the thread count.
#include <cmath>
#include <cstring>

#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/optim/adagrad.h"
#include "graphgrad/optim/adam.h"
#include "graphgrad/optim/optimizer.h"

namespace gg::optim {

std::vector<GradientTensors> gradient_tensors(const std::vector<Gradient>& grads, const std::vector<Tensor>& outputs,
                                              std::size_t first) {
    std::vector<GradientTensors> out;
    out.reserve(grads.size());
    std::size_t at = first;
    auto next = [&]() -> const Tensor& {
        if (at >= outputs.size())
            throw_runtime("gradient_tensors: {} outputs, but the gradients need more (from output {})", outputs.size(), first);
        return outputs[at++];
    };
    for (const Gradient& g : grads) {
        GradientTensors t;
        if (!g.is_sparse()) t.dense = next();
        for (std::size_t k = 0; k < g.sparse.size(); ++k) {
            const Tensor& idx = next();
            t.sparse.push_back({idx, next()});
        }
        out.push_back(std::move(t));
    }
    return out;
}

void Optimizer::step_gradients(const std::vector<GradientTensors>& grads) {
    if (grads.size() != names_.size())
        throw_runtime("{}: {} gradients for {} parameters", name(), grads.size(), names_.size());
    // Validate everything first so a bad gradient leaves no parameter half-updated.
    for (std::size_t i = 0; i < names_.size(); ++i) {
        if (grads[i].is_sparse()) check_sparse(i, grads[i]);
        else if (grads[i].dense.desc() != params_[i]->desc() || !grads[i].dense.defined())
            throw_runtime("{}: gradient {} for parameter \"{}\" {}", name(), grads[i].dense.desc(), names_[i],
                          params_[i]->desc());
    }
    if (coalescers_.size() < names_.size()) coalescers_.resize(names_.size());
    for (std::size_t i = 0; i < names_.size(); ++i) {
        int64_t t = ++*step_counts_[i]->data<int64_t>();
        if (!grads[i].is_sparse()) {
            update(i, *params_[i], grads[i].dense, t);
            continue;
        }
        const SparseRows rows = coalesce(i, grads[i]);
        update_rows(i, *params_[i], rows, t);
        Coalescer& c = coalescers_[i];  // back to "no row touched" for the next step
        for (int64_t u = 0; u < rows.n; ++u) c.slot[static_cast<std::size_t>(c.unique[static_cast<std::size_t>(u)])] = -1;
    }
}

void Optimizer::check_sparse(std::size_t i, const GradientTensors& g) const {
    const Tensor& p = *params_[i];
    if (const char* why = sparse_refusal())
        throw_runtime("{}: parameter \"{}\" has a row-sparse gradient, but {}", name(), names_[i], why);
    if (p.shape().empty()) throw_runtime("{}: scalar parameter \"{}\" cannot have a row-sparse gradient", name(), names_[i]);
    const int64_t v = p.shape()[0];
    for (const RowSparseTensors& part : g.sparse) {
        const Shape& rs = part.rows.shape();
        const bool ok = part.indices.dtype() == DType::I64 && part.indices.shape().size() == 1 &&
                        part.rows.dtype() == p.dtype() && rs.size() == p.shape().size() && rs[0] == part.indices.shape()[0] &&
                        std::equal(rs.begin() + 1, rs.end(), p.shape().begin() + 1) && part.rows.defined();
        if (!ok)
            throw_runtime("{}: row-sparse gradient of parameter \"{}\" {} has indices {} and rows {}", name(), names_[i],
                          p.desc(), part.indices.desc(), part.rows.desc());
        const int64_t* idx = part.indices.data<int64_t>();
        for (int64_t k = 0; k < part.indices.numel(); ++k)
            if (idx[k] < 0 || idx[k] >= v)
                throw_runtime("{}: row-sparse gradient of parameter \"{}\" {}: index {} at position {} is outside [0, {})",
                              name(), names_[i], p.desc(), idx[k], k, v);
    }
}

Optimizer::SparseRows Optimizer::coalesce(std::size_t i, const GradientTensors& g) {
    const Tensor& p = *params_[i];
    Coalescer& c = coalescers_[i];
    const int64_t v = p.shape()[0], row = p.numel() / std::max<int64_t>(v, 1);
    const std::size_t bytes = static_cast<std::size_t>(row) * dtype_size(p.dtype());
    int64_t k_total = 0;
    for (const RowSparseTensors& part : g.sparse) k_total += part.indices.numel();
    const auto K = static_cast<std::size_t>(k_total);
    if (c.slot.size() != static_cast<std::size_t>(v)) c.slot.assign(static_cast<std::size_t>(v), -1);
    if (c.source.size() < K) {
        c.unique.resize(K);
        c.first.resize(K + 1);
        c.order.resize(K);
        c.source.resize(K);
        c.grouped.resize(K);
    }
    if (!c.sums.defined() || c.sums.shape()[0] < k_total) c.sums = Tensor(TensorDesc{{std::max<int64_t>(k_total, 1), row}, p.dtype()});

    // Distinct rows in order of first appearance; `order` lists each one's occurrences.
    std::vector<int64_t>& cnt = c.order;  // per distinct row: its count, then its fill position
    int64_t n = 0;
    std::size_t j = 0;
    for (const RowSparseTensors& part : g.sparse) {
        const int64_t* idx = part.indices.data<int64_t>();
        const char* rows = static_cast<const char*>(part.rows.raw());
        for (int64_t k = 0; k < part.indices.numel(); ++k, ++j) {
            int64_t& s = c.slot[static_cast<std::size_t>(idx[k])];
            if (s < 0) {
                s = n++;
                c.unique[static_cast<std::size_t>(s)] = idx[k];
                cnt[static_cast<std::size_t>(s)] = 0;
            }
            ++cnt[static_cast<std::size_t>(s)];
            c.source[j] = rows + static_cast<std::size_t>(k) * bytes;
        }
    }
    c.first[0] = 0;
    for (int64_t u = 0; u < n; ++u) c.first[static_cast<std::size_t>(u + 1)] = c.first[static_cast<std::size_t>(u)] + cnt[static_cast<std::size_t>(u)];
    // Each occurrence's row, grouped by distinct row (a stable counting sort): `cnt` becomes
    // the next free position of each group.
    for (int64_t u = 0; u < n; ++u) cnt[static_cast<std::size_t>(u)] = c.first[static_cast<std::size_t>(u)];
    j = 0;
    for (const RowSparseTensors& part : g.sparse) {
        const int64_t* idx = part.indices.data<int64_t>();
        for (int64_t k = 0; k < part.indices.numel(); ++k, ++j) {
            const auto u = static_cast<std::size_t>(c.slot[static_cast<std::size_t>(idx[k])]);
            c.grouped[static_cast<std::size_t>(cnt[u]++)] = c.source[j];
        }
    }
    dispatch_float(p.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* sums = c.sums.data<T>();
        const char* const* s = c.grouped.data();
        const int64_t* first = c.first.data();
        parallel_range(
            n,
            [&](int64_t u0, int64_t u1) {
                for (int64_t u = u0; u < u1; ++u) {
                    T* d = sums + u * row;
                    std::memcpy(d, s[first[u]], bytes);
                    for (int64_t o = first[u] + 1; o < first[u + 1]; ++o) {
                        const T* r = reinterpret_cast<const T*>(s[o]);
#pragma omp simd
                        for (int64_t e = 0; e < row; ++e) d[e] += r[e];
                    }
                }
            },
            grain_for(row));
        return 0;
    });
    return SparseRows{c.unique.data(), n, c.sums.raw(), c.slot.data()};
}

// For every touched row u (in parallel): f(offset of its row in the parameter, offset of its
// gradient row in g.values). The loop SGD, Adagrad and lazy Adam share.
namespace {

template <typename Rows, typename F>  // Rows: Optimizer::SparseRows (protected there)
void for_each_touched_row(const Rows& g, int64_t row, F f) {
    parallel_range(
        g.n,
        [&](int64_t u0, int64_t u1) {
            for (int64_t u = u0; u < u1; ++u) f(g.rows[u] * row, u * row);
        },
        grain_for(row));
}

}  // namespace

void Optimizer::update_rows(std::size_t, Tensor&, const SparseRows&, int64_t) {
    throw_runtime("{}: row-sparse gradients are not supported", name());
}

// ---- SGD ----------------------------------------------------------------------------------
const char* Sgd::sparse_refusal() const {
    return o_.weight_decay != 0 ? "weight decay touches every row (PyTorch refuses it too)" : nullptr;
}

void Sgd::update_rows(std::size_t index, Tensor& param, const SparseRows& g, int64_t step) {
    dispatch_float(param.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* w = param.data<T>();
        const T* gv = static_cast<const T*>(g.values);
        const int64_t row = param.numel() / param.shape()[0];
        const T eta = static_cast<T>(lr());
        if (buf_.empty()) {  // only the touched rows move
            for_each_touched_row(g, row, [&](int64_t base, int64_t from) {
                for (int64_t e = 0; e < row; ++e) w[base + e] -= eta * gv[from + e];
            });
            return 0;
        }
        // Momentum: the dense update with d = 0 on untouched rows (their buffers still decay
        // and move the weights), so the result is the dense one exactly.
        T* b = buf_[index]->data<T>();
        const T mu = static_cast<T>(o_.momentum), damp = static_cast<T>(1.0 - o_.dampening);
        const bool first = step == 1, nesterov = o_.nesterov;
        parallel_range(
            param.shape()[0],
            [&](int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r) {
                    const int64_t u = g.slot_of_row[r];
                    for (int64_t e = 0; e < row; ++e) {
                        const int64_t i = r * row + e;
                        T d = u >= 0 ? gv[u * row + e] : T(0);
                        b[i] = first ? d : mu * b[i] + damp * d;
                        d = nesterov ? d + mu * b[i] : b[i];
                        w[i] -= eta * d;
                    }
                }
            },
            grain_for(row));
        return 0;
    });
}

// ---- Adagrad ------------------------------------------------------------------------------
const char* Adagrad::sparse_refusal() const {
    return o_.weight_decay != 0 ? "weight decay is not compatible with sparse gradients (as in PyTorch)" : nullptr;
}

void Adagrad::update_rows(std::size_t index, Tensor& param, const SparseRows& g, int64_t step) {
    const double clr = lr() / (1.0 + static_cast<double>(step - 1) * o_.lr_decay);
    dispatch_float(param.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* w = param.data<T>();
        T* s = sum_[index]->data<T>();
        const T* gv = static_cast<const T*>(g.values);
        const int64_t row = param.numel() / param.shape()[0];
        const T eta = static_cast<T>(clr), eps = static_cast<T>(o_.eps);
        for_each_touched_row(g, row, [&](int64_t base, int64_t from) {
            for (int64_t e = 0; e < row; ++e) {
                const T d = gv[from + e];
                s[base + e] += d * d;
                w[base + e] -= eta * d / (std::sqrt(s[base + e]) + eps);
            }
        });
        return 0;
    });
}

// ---- lazy Adam ----------------------------------------------------------------------------
const char* Adam::sparse_refusal() const {
    if (decoupled_) return "AdamW's decoupled decay touches every row (use Adam: lazy Adam on sparse gradients)";
    if (o_.weight_decay != 0) return "weight decay touches every row (torch.optim.SparseAdam has none)";
    if (o_.amsgrad) return "amsgrad is not defined for lazy Adam (torch.optim.SparseAdam has none)";
    return nullptr;
}

// torch.optim.SparseAdam: for the touched rows only, m ← m + (1−β₁)(g − m),
// v ← v + (1−β₂)(g² − v), θ ← θ − η·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε).
void Adam::update_rows(std::size_t index, Tensor& param, const SparseRows& g, int64_t step) {
    const double t = static_cast<double>(step);
    const double step_size = lr() * std::sqrt(1.0 - std::pow(o_.beta2, t)) / (1.0 - std::pow(o_.beta1, t));
    dispatch_float(param.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* w = param.data<T>();
        T* m = exp_avg_[index]->data<T>();
        T* v = exp_avg_sq_[index]->data<T>();
        const T* gv = static_cast<const T*>(g.values);
        const int64_t row = param.numel() / param.shape()[0];
        const T one_m_b1 = static_cast<T>(1.0 - o_.beta1), one_m_b2 = static_cast<T>(1.0 - o_.beta2);
        const T eps = static_cast<T>(o_.eps), ss = static_cast<T>(step_size);
        for_each_touched_row(g, row, [&](int64_t base, int64_t from) {
            for (int64_t e = 0; e < row; ++e) {
                const int64_t i = base + e;
                const T d = gv[from + e];
                m[i] += (d - m[i]) * one_m_b1;
                v[i] += (d * d - v[i]) * one_m_b2;
                w[i] += -ss * (m[i] / (std::sqrt(v[i]) + eps));
            }
        });
        return 0;
    });
}

}  // namespace gg::optim
