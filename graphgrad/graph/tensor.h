// Host tensors: feeds, fetched results, parameters and constants. A Tensor is a shared
// handle (copying it does not copy data); clone() makes a deep copy.
//
//   auto t = gg::Tensor::zeros({2, 3});            // f32
//   t.data<float>()[4] = 1.5f;
//   auto u = gg::Tensor::from_vector<double>({1, 2, 3}, {3});
//   double v = u.get(1);                           // any dtype read as double
#pragma once

#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/tensor_desc.h"

namespace gg {

// 64-byte aligned, uninitialised host memory; the unit the arena and tensors are made of.
class Buffer {
public:
    explicit Buffer(std::size_t bytes);
    ~Buffer();
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    void* data() const { return data_; }
    std::size_t bytes() const { return bytes_; }

private:
    void* data_ = nullptr;
    std::size_t bytes_ = 0;
};

class Tensor {
public:
    Tensor() = default;
    explicit Tensor(TensorDesc desc);  // uninitialised storage
    // A view of memory owned by `owner` (kept alive by the tensor).
    Tensor(TensorDesc desc, void* data, std::shared_ptr<const void> owner);

    static Tensor zeros(Shape shape, DType dtype = DType::F32);
    static Tensor full(Shape shape, double value, DType dtype = DType::F32);
    static Tensor scalar(double value, DType dtype = DType::F32) { return full({}, value, dtype); }
    template <typename T>
    static Tensor from_vector(const std::vector<T>& values, Shape shape);

    const TensorDesc& desc() const { return desc_; }
    const Shape& shape() const { return desc_.shape; }
    DType dtype() const { return desc_.dtype; }
    int64_t numel() const { return desc_.numel(); }
    std::size_t bytes() const { return desc_.bytes(); }
    bool defined() const { return data_ != nullptr || desc_.numel() == 0; }

    void* raw() const { return data_; }
    template <typename T>
    T* data() const {
        check_type<T>();
        return static_cast<T*>(data_);
    }
    template <typename T>
    std::span<T> span() const {
        return {data<T>(), static_cast<std::size_t>(numel())};
    }

    // Element access through double, whatever the dtype (tests, gradcheck, printing).
    double get(int64_t flat_index) const;
    void set(int64_t flat_index, double value);
    std::vector<double> to_doubles() const;

    Tensor clone() const;
    Tensor cast(DType to) const;             // new tensor, converted element by element
    void copy_from(const Tensor& other);     // same desc required
    void fill(double value);

private:
    template <typename T>
    void check_type() const;

    TensorDesc desc_;
    void* data_ = nullptr;
    std::shared_ptr<const void> owner_;
};

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::F32; }
template <>
constexpr DType dtype_of<double>() { return DType::F64; }
template <>
constexpr DType dtype_of<int64_t>() { return DType::I64; }

template <typename T>
void Tensor::check_type() const {
    if (dtype_of<T>() != desc_.dtype)
        throw_runtime("tensor {} accessed as {}", desc_, dtype_name(dtype_of<T>()));
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, Shape shape) {
    TensorDesc d{std::move(shape), dtype_of<T>()};
    if (static_cast<int64_t>(values.size()) != d.numel())
        throw_runtime("Tensor::from_vector: {} values for shape {}", values.size(), shape_str(d.shape));
    Tensor t(d);
    if (!values.empty()) std::memcpy(t.raw(), values.data(), values.size() * sizeof(T));
    return t;
}

// Calls f(T{}) with T the C++ type of a floating dtype (f32 → float, f64 → double).
template <typename F>
decltype(auto) dispatch_float(DType t, F&& f) {
    switch (t) {
        case DType::F32: return f(float{});
        case DType::F64: return f(double{});
        default: throw_runtime("expected a floating dtype, got {}", dtype_name(t));
    }
}

}  // namespace gg
