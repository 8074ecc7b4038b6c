// The inner loops of StridedCopy (ops/strided_copy.h) that are worth hand-writing: transposing
// a tile between two buffers, with 8x8 (4-byte) or 4x4 (8-byte) register transposes where the
// CPU has AVX2, and plain loops elsewhere and at the ragged edges.
//
//   // out [67, 45] = inᵀ for in [45, 67]: out[i, j] = in[j, i], 67 rows of 45 columns
//   gg::transpose_tile(out, 45, in, 67, 67, 45);
#pragma once

#include <cstdint>

namespace gg {

// dst[i·dst_stride + j] = src[j·src_stride + i] for i < rows, j < cols. Bits are copied as they
// are (no floating-point operation), so these serve every dtype of the width.
void transpose_tile(uint32_t* dst, int64_t dst_stride, const uint32_t* src, int64_t src_stride, int64_t rows,
                    int64_t cols);
void transpose_tile(uint64_t* dst, int64_t dst_stride, const uint64_t* src, int64_t src_stride, int64_t rows,
                    int64_t cols);

}  // namespace gg
