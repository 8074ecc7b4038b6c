#include "graphgrad/optim/clip.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "graphgrad/ops/kernels/kernel_util.h"

namespace gg::optim {
namespace {

// Σ|x|^p (or max |x| for p = ∞) of one tensor. The tensor is cut into a fixed number of
// blocks whose partial results are combined in block order: a parallel reduction whose
// rounding does not change with the thread count (training runs stay reproducible).
double tensor_norm_part(const Tensor& t, double p) {
    constexpr int64_t kBlocks = 64;
    const bool inf = std::isinf(p);
    return dispatch_float(t.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* x = t.data<T>();
        const int64_t n = t.numel(), block = (n + kBlocks - 1) / kBlocks;
        std::array<double, kBlocks> part{};
        auto accumulate = [&](int64_t b, int64_t e) {
            double acc = 0;
            for (int64_t i = b; i < e; ++i) {
                const double a = std::abs(static_cast<double>(x[i]));
                if (inf)
                    acc = std::isnan(a) || a > acc ? a : acc;  // a NaN must not be hidden by max
                else if (p == 2.0)
                    acc += a * a;
                else
                    acc += std::pow(a, p);
            }
            return acc;
        };
        parallel_range(
            kBlocks,
            [&](int64_t bb, int64_t be) {
                for (int64_t k = bb; k < be; ++k)
                    part[static_cast<std::size_t>(k)] = accumulate(std::min(n, k * block), std::min(n, (k + 1) * block));
            },
            n < kParallelGrain ? kBlocks : 0);  // small tensors: one thread, no parallel region
        double total = 0;
        for (double v : part) total = inf ? (std::isnan(v) || v > total ? v : total) : total + v;
        return total;
    });
}

}  // namespace

double global_norm(const std::vector<Tensor>& grads, double norm_type) {
    if (!(norm_type > 0)) throw_runtime("global_norm: norm_type must be > 0 or infinity, got {}", norm_type);
    const bool inf = std::isinf(norm_type);
    double total = 0;
    for (const Tensor& g : grads) {
        const double part = tensor_norm_part(g, norm_type);
        total = inf ? (std::isnan(part) || part > total ? part : total) : total + part;
    }
    if (inf) return total;
    return norm_type == 2.0 ? std::sqrt(total) : std::pow(total, 1.0 / norm_type);
}

double clip_grad_norm(const std::vector<Tensor>& grads, double max_norm, double norm_type, bool error_if_nonfinite) {
    if (!(max_norm >= 0)) throw_runtime("clip_grad_norm: max_norm must be >= 0, got {}", max_norm);
    const double norm = global_norm(grads, norm_type);
    if (error_if_nonfinite && !std::isfinite(norm))
        throw_runtime("clip_grad_norm: the total norm of order {} of the gradients is {}", norm_type, norm);
    // PyTorch's coefficient: the 1e-6 keeps a zero gradient from dividing by zero.
    const double coef = std::min(max_norm / (norm + 1e-6), 1.0);  // NaN stays NaN, as in torch.clamp
    if (coef == 1.0) return norm;
    for (const Tensor& g : grads) {
        dispatch_float(g.dtype(), [&](auto tag) {
            using T = decltype(tag);
            T* x = g.data<T>();
            const T c = static_cast<T>(coef);
            parallel_range(g.numel(), [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) x[i] *= c;
            });
            return 0;
        });
    }
    return norm;
}

}  // namespace gg::optim
