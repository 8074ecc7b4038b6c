// Strided copies between row-major buffers: the one loop behind permute, slice, concat, pad
// and their gradients. A StridedCopy is built once, at kernel-creation time (size-1 dims
// dropped, dims that stay adjacent in both buffers merged); run() only loops.
//
//   // transpose a [m,n] matrix: out[i,j] = in[j,i]
//   gg::StridedCopy t({n, m}, {m, 1}, {1, n});
//   t.run(out, in);
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/tensor_desc.h"
#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/ops/kernels/permute_kernels.h"

namespace gg {

class StridedCopy {
public:
    StridedCopy() = default;
    // dst[Σ iₖ·dst_strides[k]] = src[Σ iₖ·src_strides[k]] for every index i of `shape`.
    StridedCopy(const Shape& shape, const std::vector<int64_t>& dst_strides, const std::vector<int64_t>& src_strides);

    template <typename T>
    void run(T* dst, const T* src) const;

    int64_t numel() const { return numel_; }

    // Index scratch lives on the stack: run() must not allocate (ARCHITECTURE.md §1).
    static constexpr std::size_t kMaxDims = 16;

private:
    using Index = std::array<int64_t, kMaxDims>;
    // Offsets (into dst and src) of flat position `flat` over the dims in `dims`.
    void start(int64_t flat, const std::vector<int>& dims, Index& idx, int64_t& d, int64_t& s) const;
    template <typename T>
    static void transpose_block(T* dst, int64_t dst_stride, const T* src, int64_t src_stride, int64_t rows,
                                int64_t cols);

    Shape shape_;
    std::vector<int64_t> dst_, src_;
    int64_t numel_ = 0;
    int tpartner_ = -1;     // dim with src stride 1 when the innermost dst dim is strided in src
    std::vector<int> outer_;  // the dims a run iterates around its inner loop(s)
};

inline StridedCopy::StridedCopy(const Shape& shape, const std::vector<int64_t>& dst_strides,
                                const std::vector<int64_t>& src_strides)
    : numel_(gg::numel(shape)) {
    if (numel_ == 0) return;
    // Size-1 dims contribute nothing; adjacent dims merge when both buffers step over them
    // as one (outer stride = inner stride · inner size). Fewer, longer dims = longer loops.
    for (std::size_t k = 0; k < shape.size(); ++k) {
        if (shape[k] == 1) continue;
        if (!shape_.empty() && dst_.back() == dst_strides[k] * shape[k] && src_.back() == src_strides[k] * shape[k]) {
            shape_.back() *= shape[k];
            dst_.back() = dst_strides[k];
            src_.back() = src_strides[k];
        } else {
            shape_.push_back(shape[k]);
            dst_.push_back(dst_strides[k]);
            src_.push_back(src_strides[k]);
        }
    }
    if (shape_.empty()) {  // a single element
        shape_ = {1};
        dst_ = {1};
        src_ = {1};
    }
    const int n = static_cast<int>(shape_.size());
    // A transpose: the innermost output dim is strided in the source but another dim is
    // contiguous there. Element-by-element it would miss cache on every read; tiles fix it.
    if (n >= 2 && dst_[n - 1] == 1 && src_[n - 1] != 1 && shape_[n - 1] >= 8)
        for (int k = 0; k < n - 1; ++k)
            if (src_[k] == 1 && shape_[k] >= 8) tpartner_ = k;
    for (int k = 0; k < n - 1; ++k)
        if (k != tpartner_) outer_.push_back(k);
    if (outer_.size() > kMaxDims) throw_runtime("strided copy: {} dims after merging (at most {})", outer_.size(), kMaxDims);
}

inline void StridedCopy::start(int64_t flat, const std::vector<int>& dims, Index& idx, int64_t& d, int64_t& s) const {
    d = s = 0;
    for (int q = static_cast<int>(dims.size()) - 1; q >= 0; --q) {
        const auto k = static_cast<std::size_t>(dims[static_cast<std::size_t>(q)]);
        idx[static_cast<std::size_t>(q)] = flat % shape_[k];
        flat /= shape_[k];
        d += idx[static_cast<std::size_t>(q)] * dst_[k];
        s += idx[static_cast<std::size_t>(q)] * src_[k];
    }
}

template <typename T>
void StridedCopy::run(T* dst, const T* src) const {
    if (numel_ == 0) return;
    const int n = static_cast<int>(shape_.size());
    const int64_t len = shape_[static_cast<std::size_t>(n - 1)];
    const int64_t ds = dst_[static_cast<std::size_t>(n - 1)], ss = src_[static_cast<std::size_t>(n - 1)];

    if (tpartner_ < 0) {
        // Rows along the innermost dim. The innermost outer dim is a plain loop ("a run" of
        // rows); the odometer over the other outer dims advances once per run, not per row.
        const std::vector<int>& outer = outer_;
        const auto no = outer.size();
        const int64_t run_len = no > 0 ? shape_[static_cast<std::size_t>(outer.back())] : 1;
        const int64_t rd = no > 0 ? dst_[static_cast<std::size_t>(outer.back())] : 0;
        const int64_t rs = no > 0 ? src_[static_cast<std::size_t>(outer.back())] : 0;
        parallel_range(
            numel_ / len,
            [&](int64_t b, int64_t e) {
                Index idx{};
                int64_t d, s;
                start(b, outer, idx, d, s);
                for (int64_t row = b; row < e;) {
                    const int64_t cnt = no > 0 ? std::min(run_len - idx[no - 1], e - row) : e - row;
                    T* dp = dst + d;
                    const T* sp = src + s;
                    if (ds == 1 && ss == 1) {
                        if (len >= 64) {
                            for (int64_t c = 0; c < cnt; ++c) std::copy_n(sp + c * rs, len, dp + c * rd);
                        } else {  // short rows: an inlined loop beats a memmove call per row
                            for (int64_t c = 0; c < cnt; ++c) {
                                T* __restrict dr = dp + c * rd;
                                const T* __restrict sr = sp + c * rs;
                                for (int64_t j = 0; j < len; ++j) dr[j] = sr[j];
                            }
                        }
                    } else {
                        for (int64_t c = 0; c < cnt; ++c)
                            for (int64_t j = 0; j < len; ++j) dp[c * rd + j * ds] = sp[c * rs + j * ss];
                    }
                    row += cnt;
                    if (no == 0 || row >= e) break;
                    // The run reached the end of its dim: back to its start, carry outwards.
                    d -= idx[no - 1] * rd;
                    s -= idx[no - 1] * rs;
                    idx[no - 1] = 0;
                    for (std::size_t q = no - 1; q-- > 0;) {
                        const auto k = static_cast<std::size_t>(outer[q]);
                        d += dst_[k];
                        s += src_[k];
                        if (++idx[q] < shape_[k]) break;
                        d -= dst_[k] * shape_[k];
                        s -= src_[k] * shape_[k];
                        idx[q] = 0;
                    }
                }
            },
            grain_for(len));
        return;
    }

    // Tiled transpose between dim p (contiguous in src) and the innermost dim (contiguous in
    // dst): kTile² tiles (a few KiB of each buffer, L1-resident), each transposed with register
    // blocks (ops/permute_kernels.h), so src rows are read and dst rows written in long pieces.
    constexpr int64_t kTile = sizeof(T) <= 4 ? 64 : 32;
    const auto p = static_cast<std::size_t>(tpartner_);
    const std::vector<int>& rest = outer_;
    int64_t rest_count = 1;
    for (int k : rest) rest_count *= shape_[static_cast<std::size_t>(k)];
    const int64_t np = (shape_[p] + kTile - 1) / kTile, nl = (len + kTile - 1) / kTile;
    const int64_t dp = dst_[p];
    parallel_range(
        rest_count * np * nl,
        [&](int64_t b, int64_t e) {
            Index idx{};
            for (int64_t task = b; task < e; ++task) {
                const int64_t tl = task % nl, tp = (task / nl) % np, r = task / (nl * np);
                int64_t d, s;
                start(r, rest, idx, d, s);
                const int64_t p0 = tp * kTile, pn = std::min(shape_[p] - p0, kTile);
                const int64_t l0 = tl * kTile, ln = std::min(len - l0, kTile);
                transpose_block(dst + d + p0 * dp + l0, dp, src + s + p0 + l0 * ss, ss, pn, ln);
            }
        },
        grain_for((kTile * kTile)));
}

template <typename T>
void StridedCopy::transpose_block(T* dst, int64_t dst_stride, const T* src, int64_t src_stride, int64_t rows,
                                  int64_t cols) {
    if constexpr (std::is_same_v<T, uint32_t> || std::is_same_v<T, uint64_t>) {
        transpose_tile(dst, dst_stride, src, src_stride, rows, cols);
    } else {
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < cols; ++j) dst[i * dst_stride + j] = src[j * src_stride + i];
    }
}

// Calls f(U{}) with U an unsigned integer of the dtype's size: data movement only needs the
// width, so one instantiation serves f64 and i64.
template <typename F>
decltype(auto) dispatch_bytes(DType t, F&& f) {
    if (dtype_size(t) == 4) return f(uint32_t{});
    return f(uint64_t{});
}

// Row-major strides scaled per axis (slice steps) — small helper shared by the users.
inline std::vector<int64_t> scaled_strides(const Shape& shape, const std::vector<int64_t>& steps) {
    std::vector<int64_t> st = strides_of(shape);
    for (std::size_t k = 0; k < st.size(); ++k) st[k] *= steps[k];
    return st;
}

}  // namespace gg
