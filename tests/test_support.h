// Small helpers shared by behaviour tests: a self-deleting temporary directory and an
// iota tensor (1, 2, 3, ... in any shape and dtype).
#pragma once

#include <omp.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <limits>

#include "graphgrad/graph/rng.h"
#include "graphgrad/graph/tensor.h"

namespace gg::testing {

// Built with AddressSanitizer (tools/sanitize.sh): shadow memory inflates RSS and slows every
// step, so measured-memory checks do not apply.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

// MemAvailable of /proc/meminfo in bytes (0 if unreadable): RSS measurements need headroom,
// or the kernel reclaims pages under them.
inline std::size_t available_memory_bytes() {
    std::FILE* f = std::fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    std::size_t kib = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "MemAvailable: %zu kB", &kib) == 1) break;
    std::fclose(f);
    return kib * 1024;
}

// Runs the scope on `threads` OpenMP threads and restores the previous count after. The suite
// runs with OMP_NUM_THREADS=1, where parallel_range takes its serial path: a test named for a
// parallel path must hold one of these (and checks it took: is_parallel()).
struct ScopedThreads {
    int previous;
    explicit ScopedThreads(int threads = 2) : previous(omp_get_max_threads()) { omp_set_num_threads(threads); }
    ~ScopedThreads() { omp_set_num_threads(previous); }
    ScopedThreads(const ScopedThreads&) = delete;
    ScopedThreads& operator=(const ScopedThreads&) = delete;
    static bool is_parallel() { return omp_get_max_threads() > 1; }
};

struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& prefix = "gg_test") {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return (path / name).string(); }
};

inline Tensor iota(Shape shape, DType dt = DType::F64, double start = 1.0) {
    Tensor t = Tensor::zeros(std::move(shape), dt);
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, start + static_cast<double>(i));
    return t;
}

// Seeded uniform values in [lo, hi): test data that is reproducible and far from ties.
// (Its own draws, not init::uniform's: every fast-vs-reference tolerance here was set on them.)
inline Tensor uniform_tensor(const Shape& shape, uint64_t seed, DType dt = DType::F32, double lo = -1.0,
                             double hi = 1.0) {
    Tensor t(TensorDesc{shape, dt});
    for (int64_t i = 0; i < t.numel(); ++i)
        t.set(i, lo + (hi - lo) * uniform01(seed, 9, static_cast<uint64_t>(i)));
    return t;
}

// ‖a‖₂ over all elements.
inline double norm(const Tensor& a) {
    double s = 0;
    for (int64_t i = 0; i < a.numel(); ++i) s += a.get(i) * a.get(i);
    return std::sqrt(s);
}

// ‖a − b‖₂ / max(‖b‖₂, floor) over all elements (row-major; sizes must match): a relative
// error that stays relative when every value is small (gradients of a mean), unlike an
// elementwise |a − b| / (1 + |b|), which is absolute there. `floor` is for values that are zero
// in exact arithmetic (the caller states the scale they are noise against). 0 when both are
// zero, inf when only b is and there is no floor.
inline double relative_difference(const Tensor& a, const Tensor& b, double floor = 0) {
    if (a.numel() != b.numel()) return std::numeric_limits<double>::infinity();
    double diff = 0, norm = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
        const double d = a.get(i) - b.get(i);
        diff += d * d;
        norm += b.get(i) * b.get(i);
    }
    const double scale = std::max(std::sqrt(norm), floor);
    if (scale == 0) return diff == 0 ? 0.0 : std::numeric_limits<double>::infinity();
    return std::sqrt(diff) / scale;
}

}  // namespace gg::testing
