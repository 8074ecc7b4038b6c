#include "graphgrad/ops/kernels/permute_kernels.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace gg {

namespace {

template <typename T>
void transpose_scalar(T* dst, int64_t ds, const T* src, int64_t ss, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = j0; j < j1; ++j) dst[i * ds + j] = src[j * ss + i];
}

#if defined(__AVX2__)
// One 8x8 block of 4-byte elements: 8 source rows in, 8 destination rows out.
inline void block8x8(uint32_t* dst, int64_t ds, const uint32_t* src, int64_t ss) {
    auto ld = [&](int64_t j) { return _mm256_loadu_ps(reinterpret_cast<const float*>(src + j * ss)); };
    const __m256 r0 = ld(0), r1 = ld(1), r2 = ld(2), r3 = ld(3), r4 = ld(4), r5 = ld(5), r6 = ld(6), r7 = ld(7);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    auto st = [&](int64_t i, __m256 v) { _mm256_storeu_ps(reinterpret_cast<float*>(dst + i * ds), v); };
    st(0, _mm256_permute2f128_ps(s0, s4, 0x20));
    st(1, _mm256_permute2f128_ps(s1, s5, 0x20));
    st(2, _mm256_permute2f128_ps(s2, s6, 0x20));
    st(3, _mm256_permute2f128_ps(s3, s7, 0x20));
    st(4, _mm256_permute2f128_ps(s0, s4, 0x31));
    st(5, _mm256_permute2f128_ps(s1, s5, 0x31));
    st(6, _mm256_permute2f128_ps(s2, s6, 0x31));
    st(7, _mm256_permute2f128_ps(s3, s7, 0x31));
}

// One 4x4 block of 8-byte elements.
inline void block4x4(uint64_t* dst, int64_t ds, const uint64_t* src, int64_t ss) {
    auto ld = [&](int64_t j) { return _mm256_loadu_pd(reinterpret_cast<const double*>(src + j * ss)); };
    const __m256d r0 = ld(0), r1 = ld(1), r2 = ld(2), r3 = ld(3);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    auto st = [&](int64_t i, __m256d v) { _mm256_storeu_pd(reinterpret_cast<double*>(dst + i * ds), v); };
    st(0, _mm256_permute2f128_pd(t0, t2, 0x20));
    st(1, _mm256_permute2f128_pd(t1, t3, 0x20));
    st(2, _mm256_permute2f128_pd(t0, t2, 0x31));
    st(3, _mm256_permute2f128_pd(t1, t3, 0x31));
}
#endif

// Whole 2B x 2B sub-tiles of four B x B register blocks, the ragged right and bottom edges
// with plain loops. A sub-tile is one cache line wide in both buffers (2B elements = 64 bytes),
// so it reads 2B whole source lines and writes 2B whole destination lines while they are hot:
// rows a power-of-two-like stride apart share few L1 sets, and walking a wider tile evicts
// half-written lines (2x slower for [12544, 196] → [196, 12544]).
template <int64_t B, typename T, typename F>
void transpose_blocked(T* dst, int64_t ds, const T* src, int64_t ss, int64_t rows, int64_t cols, F&& block) {
    constexpr int64_t S = 2 * B;
    const int64_t rb = rows - rows % S, cb = cols - cols % S;
    for (int64_t i = 0; i < rb; i += S)
        for (int64_t j = 0; j < cb; j += S)
            for (int64_t jj = j; jj < j + S; jj += B)
                for (int64_t ii = i; ii < i + S; ii += B) block(dst + ii * ds + jj, ds, src + jj * ss + ii, ss);
    transpose_scalar(dst, ds, src, ss, rb, rows, 0, cols);  // bottom rows of dst
    transpose_scalar(dst, ds, src, ss, 0, rb, cb, cols);    // right columns of dst
}

}  // namespace

void transpose_tile(uint32_t* dst, int64_t dst_stride, const uint32_t* src, int64_t src_stride, int64_t rows,
                    int64_t cols) {
#if defined(__AVX2__)
    transpose_blocked<8>(dst, dst_stride, src, src_stride, rows, cols, block8x8);
#else
    transpose_scalar(dst, dst_stride, src, src_stride, 0, rows, 0, cols);
#endif
}

void transpose_tile(uint64_t* dst, int64_t dst_stride, const uint64_t* src, int64_t src_stride, int64_t rows,
                    int64_t cols) {
#if defined(__AVX2__)
    transpose_blocked<4>(dst, dst_stride, src, src_stride, rows, cols, block4x4);
#else
    transpose_scalar(dst, dst_stride, src, src_stride, 0, rows, 0, cols);
#endif
}

}  // namespace gg
