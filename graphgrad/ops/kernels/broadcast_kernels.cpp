// Kernels of broadcast_to and sum_to over a collapsed BroadcastPlan. Both are deterministic:
// every output element is summed in the same order whatever the thread count.
#include "graphgrad/ops/kernels/broadcast_kernels.h"

#include <algorithm>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/node.h"
#include "graphgrad/graph/tensor.h"
#include "graphgrad/ops/kernels/kernel_util.h"

namespace gg {

BroadcastPlan plan_broadcast(const Shape& small, const Shape& big) {
    BroadcastPlan p;
    std::vector<char> kept;
    const std::size_t lead = big.size() - small.size();
    for (std::size_t i = 0; i < big.size(); ++i) {
        if (big[i] == 1) continue;  // contributes nothing to either index
        const char k = i >= lead && small[i - lead] == big[i];
        if (!kept.empty() && kept.back() == k) {
            p.dims.back() *= big[i];
        } else {
            p.dims.push_back(big[i]);
            kept.push_back(k);
        }
    }
    if (p.dims.empty()) {  // every axis has size 1: one element, copied
        p.dims = {1};
        kept = {1};
    }
    p.strides.assign(p.dims.size(), 0);
    int64_t acc = 1;
    for (std::size_t i = p.dims.size(); i-- > 0;) {
        if (!kept[i]) continue;
        p.strides[i] = acc;
        acc *= p.dims[i];
    }
    p.big_numel = numel(big);
    p.small_numel = numel(small);
    return p;
}

namespace {

// Offset in the small tensor of big-tensor row `row` (a row is one run of the inner axis),
// over collapsed axes [first, last).
inline int64_t row_offset(const BroadcastPlan& p, std::size_t first, std::size_t last, int64_t row) {
    int64_t off = 0;
    for (std::size_t i = last; i-- > first;) {
        off += (row % p.dims[i]) * p.strides[i];
        row /= p.dims[i];
    }
    return off;
}

// y[b, e) of the big tensor from x: row by row, each a contiguous copy or a fill.
template <typename T>
void broadcast_range(const BroadcastPlan& p, const T* x, T* y, int64_t b, int64_t e) {
    if (b >= e) return;  // also guards inner == 0
    const std::size_t k = p.dims.size();
    const int64_t inner = p.dims[k - 1];
    const bool copy = p.strides[k - 1] != 0;
    int64_t row = b / inner, col = b - row * inner;
    for (int64_t pos = b; pos < e; col = 0, ++row) {
        const int64_t off = row_offset(p, 0, k - 1, row);
        const int64_t len = std::min(inner - col, e - pos);
        if (copy) std::copy_n(x + off + col, len, y + pos);
        else std::fill_n(y + pos, len, x[off]);
        pos += len;
    }
}

// Σ x[0, n) in f64 over 8 interleaved partial sums: the fixed lanes let the compiler
// vectorise (strict FP order forbids it for one accumulator) and keep the result deterministic.
template <typename T>
double sum_contiguous(const T* x, int64_t n) {
    constexpr int kLanes = 8;
    double lane[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int l = 0; l < kLanes; ++l) lane[l] += static_cast<double>(x[i + l]);
    double s = 0;
    for (; i < n; ++i) s += static_cast<double>(x[i]);
    for (double v : lane) s += v;
    return s;
}

// Adds a contiguous block of the big tensor spanning collapsed axes [first, k) into y.
template <typename T>
void accumulate_block(const BroadcastPlan& p, std::size_t first, int64_t block, const T* x, T* y) {
    const std::size_t k = p.dims.size();
    const int64_t inner = p.dims[k - 1];
    const bool kept = p.strides[k - 1] != 0;
    for (int64_t r = 0, rows = block / inner; r < rows; ++r) {
        const T* xr = x + r * inner;
        T* yr = y + row_offset(p, first, k - 1, r);
        if (kept) {
            for (int64_t j = 0; j < inner; ++j) yr[j] += xr[j];
        } else {
            yr[0] += static_cast<T>(sum_contiguous(xr, inner));
        }
    }
}

constexpr int64_t kSumChunk = 8192;  // full reductions: fixed chunks keep results thread-independent

template <typename T>
std::unique_ptr<Kernel> make_sum_to(const BroadcastPlan& p) {
    const int64_t n = p.big_numel, m = p.small_numel;
    if (n == 0)
        return make_kernel([m](const KernelArgs& a) { std::fill_n(static_cast<T*>(a.outputs[0]), m, T(0)); });

    const std::size_t k = p.dims.size();
    const auto first_kept = static_cast<std::size_t>(
        std::find_if(p.strides.begin(), p.strides.end(), [](int64_t s) { return s != 0; }) - p.strides.begin());

    if (first_kept == k) {  // sum of everything: per-chunk partials in scratch, added in order
        const int64_t chunks = (n + kSumChunk - 1) / kSumChunk;
        return make_kernel(
            [n, chunks](const KernelArgs& a) {
                const T* x = static_cast<const T*>(a.inputs[0]);
                auto* partial = static_cast<double*>(a.scratch);
                parallel_range(chunks, [&](int64_t cb, int64_t ce) {
                    for (int64_t c = cb; c < ce; ++c)
                        partial[c] = sum_contiguous(x + c * kSumChunk, std::min(kSumChunk, n - c * kSumChunk));
                }, grain_for(kSumChunk));
                double s = 0;
                for (int64_t c = 0; c < chunks; ++c) s += partial[c];
                static_cast<T*>(a.outputs[0])[0] = static_cast<T>(s);
            },
            static_cast<std::size_t>(chunks) * sizeof(double));
    }

    // The collapsed axes alternate kinds, so the first kept axis is 0 or 1: x is
    // [P (summed), D (kept), suffix] and y is [D, y-suffix]. Threads split D: disjoint outputs.
    const int64_t P = first_kept == 1 ? p.dims[0] : 1;
    const int64_t D = p.dims[first_kept];
    int64_t suffix = 1;
    for (std::size_t i = first_kept + 1; i < k; ++i) suffix *= p.dims[i];
    const int64_t y_block = p.strides[first_kept];
    const int64_t grain = grain_for((P * suffix));

    if (suffix == 1)  // y = Σ over rows of an [P, D] matrix: vectorised column sums
        return make_kernel([P, D, grain](const KernelArgs& a) {
            const T* x = static_cast<const T*>(a.inputs[0]);
            T* y = static_cast<T*>(a.outputs[0]);
            parallel_range(D, [&](int64_t cb, int64_t ce) {
                std::fill(y + cb, y + ce, T(0));
                for (int64_t r = 0; r < P; ++r) {
                    const T* xr = x + r * D;
                    for (int64_t c = cb; c < ce; ++c) y[c] += xr[c];
                }
            }, grain);
        });

    return make_kernel([p, first_kept, P, D, suffix, y_block, grain](const KernelArgs& a) {
        const T* x = static_cast<const T*>(a.inputs[0]);
        T* y = static_cast<T*>(a.outputs[0]);
        parallel_range(D, [&](int64_t ib, int64_t ie) {
            std::fill(y + ib * y_block, y + ie * y_block, T(0));
            for (int64_t i = ib; i < ie; ++i)
                for (int64_t r = 0; r < P; ++r)
                    accumulate_block(p, first_kept + 1, suffix, x + (r * D + i) * suffix, y + i * y_block);
        }, grain);
    });
}

}  // namespace

std::unique_ptr<Kernel> broadcast_kernel(const KernelContext& c) {
    BroadcastPlan p = plan_broadcast(c.inputs[0].shape, c.outputs[0].shape);
    // Copies move bytes: one instantiation per element size serves every dtype.
    auto make = [&](auto t) -> std::unique_ptr<Kernel> {
        using T = decltype(t);
        return make_kernel([p](const KernelArgs& a) {
            const T* x = static_cast<const T*>(a.inputs[0]);
            T* y = static_cast<T*>(a.outputs[0]);
            parallel_range(p.big_numel, [&](int64_t b, int64_t e) { broadcast_range(p, x, y, b, e); });
        });
    };
    switch (dtype_size(c.inputs[0].dtype)) {
        case 4: return make(uint32_t{});
        case 8: return make(uint64_t{});
        default: throw_runtime("broadcast_to: unsupported element size of {}", c.inputs[0].dtype);
    }
}

std::unique_ptr<Kernel> sum_to_kernel(const KernelContext& c) {
    BroadcastPlan p = plan_broadcast(c.outputs[0].shape, c.inputs[0].shape);
    return dispatch_float(c.inputs[0].dtype, [&](auto t) { return make_sum_to<decltype(t)>(p); });
}

}  // namespace gg
