#include "graphgrad/ops/kernels/pooling_kernels.h"

#include <algorithm>
#include <atomic>
#include <vector>

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace gg::fast {

namespace {

using reference::interior;
using reference::window;
using reference::Window;

// f(p0, p1) over chunks of planes; small problems stay on the calling thread.
template <typename F>
void for_plane_chunks(const Pool2dGeometry& g, int64_t work_per_plane, F&& f) {
    parallel_range(g.planes(), std::forward<F>(f), grain_for(work_per_plane));
}

#ifdef __AVX2__
// 8 outputs of one plane at once: every window element is an AVX2 gather at the outputs'
// window origins plus that element's offset, the running maximum and its offset updated by
// blends (no branches: on random data the scalar scan's branches mispredict half the time).
struct Lanes {
    __m256 best;
    __m256i off;
};

inline Lanes max8(const float* xp, __m256i origin, const int32_t* offsets, int64_t count) {
    Lanes r{_mm256_i32gather_ps(xp, origin, 4), _mm256_setzero_si256()};
    __m256 best_nan = _mm256_cmp_ps(r.best, r.best, _CMP_UNORD_Q);
    for (int64_t k = 1; k < count; ++k) {
        const __m256i o = _mm256_set1_epi32(offsets[k]);
        const __m256 v = _mm256_i32gather_ps(xp, _mm256_add_epi32(origin, o), 4);
        // v > best, or v is the first NaN (PyTorch: NaN propagates).
        const __m256 v_nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
        const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, r.best, _CMP_GT_OQ), _mm256_andnot_ps(best_nan, v_nan));
        r.best = _mm256_blendv_ps(r.best, v, take);
        best_nan = _mm256_or_ps(best_nan, v_nan);
        r.off = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(r.off), _mm256_castsi256_ps(o), take));
    }
    return r;
}
#endif

// The geometry's work list, made once per kernel: the outputs whose window lies inside the
// input (their plane index and window origin, in chunks of 8, the last chunk padded by
// repeating its final output), the clipped ones, and the window's offsets.
struct MaxPoolPlan {
    Pool2dGeometry g;
    std::vector<int32_t> out, origin;  // interior outputs, a multiple of 8 entries
    std::vector<char> contiguous;      // per chunk: outputs out[8k] .. out[8k] + 7
    std::vector<int32_t> clipped;      // outputs whose window the padding clips
    std::vector<int32_t> offsets;      // ky·dh·W + kx·dw in row-major window order
};

MaxPoolPlan make_plan(const Pool2dGeometry& g) {
    MaxPoolPlan p{g, {}, {}, {}, {}, {}};
    // Interior outputs: their dilated window lies inside the plane.
    const auto [ylo, yhi] = interior(g.oh, g.h, g.dh * (g.kh - 1) + 1, g.sh, g.pt);
    const auto [xlo, xhi] = interior(g.ow, g.w, g.dw * (g.kw - 1) + 1, g.sw, g.pl);
    for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
            const auto j = static_cast<int32_t>(oy * g.ow + ox);
            if (oy >= ylo && oy < yhi && ox >= xlo && ox < xhi) {
                p.out.push_back(j);
                p.origin.push_back(static_cast<int32_t>((oy * g.sh - g.pt) * g.w + ox * g.sw - g.pl));
            } else {
                p.clipped.push_back(j);
            }
        }
    const std::size_t real = p.out.size();
    while (!p.out.empty() && p.out.size() % 8 != 0) {
        p.out.push_back(p.out.back());
        p.origin.push_back(p.origin.back());
    }
    for (std::size_t k = 0; k < p.out.size(); k += 8)
        p.contiguous.push_back(k + 8 <= real && p.out[k + 7] - p.out[k] == 7);
    for (int64_t ky = 0; ky < g.kh; ++ky)
        for (int64_t kx = 0; kx < g.kw; ++kx) p.offsets.push_back(static_cast<int32_t>(ky * g.dh * g.w + kx * g.dw));
    return p;
}

// A window clipped by the padding: the scalar scan of the reference.
template <typename T>
inline void clipped_max(const Pool2dGeometry& g, const T* xp, int64_t j, T* y, int64_t* a) {
    if (g.dh != 1 || g.dw != 1) return reference::dilated_window_max(g, xp, j / g.ow, j % g.ow, y, a);
    const Window win = window(g, j / g.ow, j % g.ow);
    reference::window_max<0, 0>(xp, g.w, win.y0 * g.w + win.x0, win.y1 - win.y0, win.x1 - win.x0, y, a);
}

void max_pool_planes(const MaxPoolPlan& p, const float* x, float* y, int64_t* argmax) {
    const Pool2dGeometry& g = p.g;
    for_plane_chunks(g, g.out_plane() * g.kh * g.kw, [&](int64_t p0, int64_t p1) {
        for (int64_t pl = p0; pl < p1; ++pl) {
            const float* xp = x + pl * g.in_plane();
            float* yp = y + pl * g.out_plane();
            int64_t* ap = argmax + pl * g.out_plane();
#ifdef __AVX2__
            const auto count = static_cast<int64_t>(p.offsets.size());
            for (std::size_t k = 0; k < p.out.size(); k += 8) {
                const __m256i origin = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.origin.data() + k));
                const Lanes r = max8(xp, origin, p.offsets.data(), count);
                const __m256i idx = _mm256_add_epi32(origin, r.off);
                if (p.contiguous[k / 8]) {
                    const int32_t j = p.out[k];
                    _mm256_storeu_ps(yp + j, r.best);
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(ap + j), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(idx)));
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(ap + j + 4), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(idx, 1)));
                } else {
                    alignas(32) float b[8];
                    alignas(32) int32_t i[8];
                    _mm256_store_ps(b, r.best);
                    _mm256_store_si256(reinterpret_cast<__m256i*>(i), idx);
                    for (int l = 0; l < 8; ++l) {
                        yp[p.out[k + l]] = b[l];
                        ap[p.out[k + l]] = i[l];
                    }
                }
            }
#else
            for (std::size_t k = 0; k < p.out.size(); ++k) {
                const int32_t j = p.out[k];
                if (g.dh != 1 || g.dw != 1) reference::dilated_window_max(g, xp, j / g.ow, j % g.ow, yp + j, ap + j);
                else reference::window_max<0, 0>(xp, g.w, p.origin[k], g.kh, g.kw, yp + j, ap + j);
            }
#endif
            for (int32_t j : p.clipped) clipped_max(g, xp, j, yp + j, ap + j);
        }
    });
}

}  // namespace

std::unique_ptr<Kernel> make_max_pool2d_kernel(const Pool2dGeometry& g) {
    // Window origins are int32 gather indices.
    if (g.in_plane() >= (int64_t{1} << 30) || g.planes() == 0 || g.out_plane() == 0) return nullptr;
    return make_kernel([p = make_plan(g)](const KernelArgs& a) {
        max_pool_planes(p, static_cast<const float*>(a.inputs[0]), static_cast<float*>(a.outputs[0]),
                        static_cast<int64_t*>(a.outputs[1]));
    });
}


}  // namespace gg::fast
