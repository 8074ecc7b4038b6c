// The FMA loop keeps 12 independent accumulators per thread (more than FMA latency × ports,
// so the FMA units never wait), in the widest vectors the CPU has; the compiler may not fold
// it because the result is returned. Vector width is chosen at run time (the library is built
// for AVX2; the AVX-512 loop is compiled for that target alone).
#include "graphgrad/bench/machine_peak.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <oneapi/dnnl/dnnl.h>

#include "graphgrad/bench/timing.h"

namespace gg::bench {

namespace {

constexpr int64_t kIterations = 20'000'000;
constexpr int kAccumulators = 12;

__attribute__((target("avx512f"))) float fma_loop_avx512(int64_t n) {
    __m512 acc[kAccumulators];
    for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm512_set1_ps(static_cast<float>(k) * 1e-3f);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-6f);
    for (int64_t i = 0; i < n; ++i)
        for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
    __m512 s = acc[0];
    for (int k = 1; k < kAccumulators; ++k) s = _mm512_add_ps(s, acc[k]);
    float out[16];  // not _mm512_reduce_add_ps: GCC 12's header warns inside it (-Wuninitialized)
    _mm512_storeu_ps(out, s);
    return out[0] + out[15];
}

float fma_loop_avx2(int64_t n) {
    __m256 acc[kAccumulators];
    for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm256_set1_ps(static_cast<float>(k) * 1e-3f);
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-6f);
    for (int64_t i = 0; i < n; ++i)
        for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
    __m256 s = acc[0];
    for (int k = 1; k < kAccumulators; ++k) s = _mm256_add_ps(s, acc[k]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}

// GFLOP/s of the FMA loop on every thread at once.
double fma_gflops(bool avx512, int threads) {
    std::vector<float> sink(static_cast<std::size_t>(threads));
    const double ns = time_ns([&] {
#pragma omp parallel num_threads(threads)
        {
            const int t = omp_get_thread_num();
            sink[static_cast<std::size_t>(t)] = avx512 ? fma_loop_avx512(kIterations) : fma_loop_avx2(kIterations);
        }
    });
    volatile float keep = sink[0];
    (void)keep;
    const double lanes = avx512 ? 16 : 8;
    return 2.0 * lanes * kAccumulators * static_cast<double>(kIterations) * threads / ns;
}

double sgemm_gflops(int64_t n) {
    std::vector<float> a(static_cast<std::size_t>(n * n), 0.5f), b(a.size(), 0.25f), c(a.size(), 0.0f);
    auto run = [&] { dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n); };
    run();  // JIT and first touch
    std::vector<double> ns;
    for (int r = 0; r < 3; ++r) ns.push_back(time_ns(run));
    return 2.0 * static_cast<double>(n * n * n) / *std::min_element(ns.begin(), ns.end());
}

}  // namespace

nlohmann::json machine_peak() {
    const int threads = omp_get_max_threads();
    const bool avx512 = __builtin_cpu_supports("avx512f");
    double fma = 0;
    for (int r = 0; r < 3; ++r) fma = std::max(fma, fma_gflops(avx512, threads));
    constexpr int64_t n = 1536;
    return {{"fma_gflops", fma},
            {"fma_method", fmt::format("{} FMA loop, {} independent accumulators per thread, {} thread{}",
                                       avx512 ? "AVX-512" : "AVX2", kAccumulators, threads, threads == 1 ? "" : "s")},
            {"sgemm_gflops", sgemm_gflops(n)},
            {"sgemm_method", fmt::format("oneDNN dnnl_sgemm {}x{}x{}, best of 3", n, n, n)},
            {"threads", threads}};
}

}  // namespace gg::bench
