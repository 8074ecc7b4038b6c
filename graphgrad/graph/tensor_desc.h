// Shapes, element types and tensor descriptors: the metadata every node output carries.
//
//   gg::TensorDesc d{{64, 784}, gg::DType::F32};
//   fmt::print("{}\n", d);          // f32[64,784]
//   d.numel();                      // 50176
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace gg {

enum class DType { F32, F64, I64 };

using Shape = std::vector<int64_t>;

std::size_t dtype_size(DType t);
const char* dtype_name(DType t);
bool is_floating(DType t);

int64_t numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[64,784]", "[]" for scalars

// Normalises a possibly negative axis against rank; throws ShapeError when out of range.
int normalize_axis(int64_t axis, int rank);

struct TensorDesc {
    Shape shape;
    DType dtype = DType::F32;

    int rank() const { return static_cast<int>(shape.size()); }
    int64_t numel() const { return gg::numel(shape); }
    std::size_t bytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype); }
    int64_t dim(int64_t axis) const { return shape.at(static_cast<std::size_t>(normalize_axis(axis, rank()))); }
    bool operator==(const TensorDesc&) const = default;
};

std::string desc_str(const TensorDesc& d);  // "f32[64,784]"

}  // namespace gg

template <>
struct fmt::formatter<gg::DType> : fmt::formatter<std::string_view> {
    auto format(gg::DType t, format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(gg::dtype_name(t), ctx);
    }
};

template <>
struct fmt::formatter<gg::TensorDesc> : fmt::formatter<std::string_view> {
    auto format(const gg::TensorDesc& d, format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(gg::desc_str(d), ctx);
    }
};
