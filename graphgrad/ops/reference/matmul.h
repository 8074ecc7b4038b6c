// The meaning of matmul: plain loops over a strided geometry, templated on float/double. Used
// for f64 (oneDNN has no f64 on CPU), for gradcheck and as the oracle the oneDNN kernel is
// tested against. The geometry is shared with ops/dnn/matmul so both read operands the same
// way (transposes as strides, broadcast batch dims as stride 0).
//
//   gg::MatmulGeometry geo = gg::matmul_geometry({2, 3, 4}, {4, 5}, false, false);
//   gg::reference::matmul(geo, a, b, y);    // y: [2,3,5], contiguous
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "graphgrad/graph/tensor_desc.h"
#include "graphgrad/ops/kernels/kernel_util.h"

namespace gg {

// How to walk a (possibly transposed, possibly broadcast) batched product. Element (m, k) of
// batch item i of A lives at a[a_offset(i) + m·a_rs + k·a_cs]; likewise B with (k, n).
// Y is always contiguous [batch..., M, N].
struct MatmulGeometry {
    Shape batch;                       // output batch dims (broadcast of both operands')
    std::vector<int64_t> a_bstride;    // per output batch dim; 0 where A is broadcast
    std::vector<int64_t> b_bstride;
    int64_t m = 0, n = 0, k = 0;
    int64_t a_rs = 0, a_cs = 0;        // strides of the logical M×K view of A
    int64_t b_rs = 0, b_cs = 0;        // strides of the logical K×N view of B
    bool transpose_a = false, transpose_b = false;

    int64_t batch_count() const { return numel(batch); }
    // Element offsets of batch item `i` (row-major over `batch`).
    int64_t a_offset(int64_t i) const { return offset(i, a_bstride); }
    int64_t b_offset(int64_t i) const { return offset(i, b_bstride); }
    bool a_covers_batch() const {  // A holds every batch item, in order (no broadcast)
        for (std::size_t i = 0; i < batch.size(); ++i)
            if (batch[i] != 1 && a_bstride[i] == 0) return false;
        return true;
    }
    bool b_shared() const {  // one B for every batch item (x·W with a 2-D W)
        return std::all_of(b_bstride.begin(), b_bstride.end(), [](int64_t s) { return s == 0; });
    }

private:
    int64_t offset(int64_t i, const std::vector<int64_t>& st) const {
        int64_t off = 0;
        for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
            const auto u = static_cast<std::size_t>(d);
            off += (i % batch[u]) * st[u];
            i /= batch[u];
        }
        return off;
    }
};

// Shapes must already be validated (rank ≥ 2, inner dims equal, batch dims broadcastable):
// the op's shape rule does that with proper error messages.
inline MatmulGeometry matmul_geometry(const Shape& a, const Shape& b, bool transpose_a, bool transpose_b) {
    MatmulGeometry g;
    g.transpose_a = transpose_a;
    g.transpose_b = transpose_b;
    const std::size_t ra = a.size(), rb = b.size();
    const int64_t a0 = a[ra - 2], a1 = a[ra - 1], b0 = b[rb - 2], b1 = b[rb - 1];
    g.m = transpose_a ? a1 : a0;
    g.k = transpose_a ? a0 : a1;
    g.n = transpose_b ? b0 : b1;
    // Stored row-major as [rows, cols] = [a0, a1]: (r, c) at r·a1 + c.
    g.a_rs = transpose_a ? 1 : a1;
    g.a_cs = transpose_a ? a1 : 1;
    g.b_rs = transpose_b ? 1 : b1;
    g.b_cs = transpose_b ? b1 : 1;

    const std::size_t nb = std::max(ra, rb) - 2;
    g.batch.assign(nb, 1);
    g.a_bstride.assign(nb, 0);
    g.b_bstride.assign(nb, 0);
    auto fill = [&](const Shape& s, std::vector<int64_t>& st) {
        const std::size_t r = s.size(), sb = r - 2, lead = nb - sb;
        int64_t stride = s[r - 2] * s[r - 1];
        for (std::size_t d = sb; d-- > 0;) {
            if (s[d] != 1) g.batch[lead + d] = s[d];  // validated: equal or 1
            st[lead + d] = s[d] == 1 ? 0 : stride;
            stride *= s[d];
        }
    };
    fill(a, g.a_bstride);
    fill(b, g.b_bstride);
    return g;
}

namespace reference {

// y = op(a)·op(b), y contiguous. Rows of all batch items run in parallel; per row the loop
// order is i-k-j (contiguous, vectorisable inner loop over a row of B) when B's rows are
// contiguous, and dot products (i-j-k) when B is read transposed.
template <typename T>
void matmul(const MatmulGeometry& g, const T* a, const T* b, T* y) {
    const int64_t rows = g.batch_count() * g.m;
    const int64_t grain = grain_for(g.n * g.k);
    parallel_range(
        rows,
        [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                const int64_t bi = r / g.m, i = r % g.m;
                const T* ap = a + g.a_offset(bi) + i * g.a_rs;
                const T* bp = b + g.b_offset(bi);
                T* yp = y + r * g.n;
                if (g.b_cs == 1) {
                    std::fill(yp, yp + g.n, T{0});
                    for (int64_t kk = 0; kk < g.k; ++kk) {
                        const T aik = ap[kk * g.a_cs];
                        const T* brow = bp + kk * g.b_rs;
                        for (int64_t j = 0; j < g.n; ++j) yp[j] += aik * brow[j];
                    }
                } else {
                    for (int64_t j = 0; j < g.n; ++j) {
                        const T* bcol = bp + j * g.b_cs;
                        T acc{0};
                        for (int64_t kk = 0; kk < g.k; ++kk) acc += ap[kk * g.a_cs] * bcol[kk * g.b_rs];
                        yp[j] = acc;
                    }
                }
            }
        },
        grain);
}

}  // namespace reference
}  // namespace gg
