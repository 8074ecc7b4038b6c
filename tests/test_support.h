// Small helpers shared by behaviour tests: a self-deleting temporary directory and an
// iota tensor (1, 2, 3, ... in any shape and dtype).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include <algorithm>
#include <cmath>

#include "graphgrad/graph/rng.h"
#include "graphgrad/graph/tensor.h"

namespace gg::testing {

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

// max_i |a_i − b_i| / (1 + |b_i|): relative for large values, absolute near zero. Shapes must
// match (compared element by element in row-major order).
inline double max_relative_difference(const Tensor& a, const Tensor& b) {
    double worst = 0;
    for (int64_t i = 0; i < a.numel(); ++i)
        worst = std::max(worst, std::abs(a.get(i) - b.get(i)) / (1.0 + std::abs(b.get(i))));
    return worst;
}

}  // namespace gg::testing
