// Small helpers shared by behaviour tests: a self-deleting temporary directory and an
// iota tensor (1, 2, 3, ... in any shape and dtype).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "graph/tensor.h"

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

}  // namespace gg::testing
