#include "graphgrad/graph/tensor_desc.h"

#include "graphgrad/graph/errors.h"

namespace gg {

std::size_t dtype_size(DType t) {
    switch (t) {
        case DType::F32: return 4;
        case DType::F64: return 8;
        case DType::I64: return 8;
    }
    return 0;
}

const char* dtype_name(DType t) {
    switch (t) {
        case DType::F32: return "f32";
        case DType::F64: return "f64";
        case DType::I64: return "i64";
    }
    return "?";
}

bool is_floating(DType t) { return t == DType::F32 || t == DType::F64; }

int64_t numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
}

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ",")); }

std::string desc_str(const TensorDesc& d) { return fmt::format("{}{}", dtype_name(d.dtype), shape_str(d.shape)); }

int normalize_axis(int64_t axis, int rank) {
    if (axis < -rank || axis >= rank)
        throw_shape("axis {} is out of range for rank {}", axis, rank);
    return static_cast<int>(axis < 0 ? axis + rank : axis);
}

}  // namespace gg
