#include "graphgrad/graph/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace gg {

namespace {
constexpr std::size_t kAlignment = 64;
}

Buffer::Buffer(std::size_t bytes) : bytes_(bytes) {
    std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    if (rounded == 0) rounded = kAlignment;
    data_ = std::aligned_alloc(kAlignment, rounded);
    if (!data_) throw std::bad_alloc();
}

Buffer::~Buffer() { std::free(data_); }

Tensor::Tensor(TensorDesc desc) : desc_(std::move(desc)) {
    auto buffer = std::make_shared<Buffer>(desc_.bytes());
    data_ = buffer->data();
    owner_ = std::move(buffer);
}

Tensor::Tensor(TensorDesc desc, void* data, std::shared_ptr<const void> owner)
    : desc_(std::move(desc)), data_(data), owner_(std::move(owner)) {}

Tensor Tensor::zeros(Shape shape, DType dtype) { return full(std::move(shape), 0.0, dtype); }

Tensor Tensor::full(Shape shape, double value, DType dtype) {
    Tensor t(TensorDesc{std::move(shape), dtype});
    t.fill(value);
    return t;
}

double Tensor::get(int64_t i) const {
    switch (desc_.dtype) {
        case DType::F32: return static_cast<const float*>(data_)[i];
        case DType::F64: return static_cast<const double*>(data_)[i];
        case DType::I64: return static_cast<double>(static_cast<const int64_t*>(data_)[i]);
    }
    return 0;
}

void Tensor::set(int64_t i, double v) {
    switch (desc_.dtype) {
        case DType::F32: static_cast<float*>(data_)[i] = static_cast<float>(v); break;
        case DType::F64: static_cast<double*>(data_)[i] = v; break;
        case DType::I64: static_cast<int64_t*>(data_)[i] = static_cast<int64_t>(v); break;
    }
}

std::vector<double> Tensor::to_doubles() const {
    std::vector<double> out(static_cast<std::size_t>(numel()));
    for (int64_t i = 0; i < numel(); ++i) out[static_cast<std::size_t>(i)] = get(i);
    return out;
}

Tensor Tensor::clone() const {
    Tensor t(desc_);
    if (bytes()) std::memcpy(t.raw(), data_, bytes());
    return t;
}

Tensor Tensor::cast(DType to) const {
    if (to == desc_.dtype) return clone();
    Tensor t(TensorDesc{desc_.shape, to});
    for (int64_t i = 0; i < numel(); ++i) t.set(i, get(i));
    return t;
}

void Tensor::copy_from(const Tensor& other) {
    if (other.desc() != desc_) throw_runtime("copy_from: {} into {}", other.desc(), desc_);
    if (bytes()) std::memcpy(data_, other.raw(), bytes());
}

void Tensor::fill(double v) {
    const auto n = static_cast<std::size_t>(numel());
    switch (desc_.dtype) {
        case DType::F32: std::fill_n(static_cast<float*>(data_), n, static_cast<float>(v)); break;
        case DType::F64: std::fill_n(static_cast<double*>(data_), n, v); break;
        case DType::I64: std::fill_n(static_cast<int64_t*>(data_), n, static_cast<int64_t>(v)); break;
    }
}

}  // namespace gg
