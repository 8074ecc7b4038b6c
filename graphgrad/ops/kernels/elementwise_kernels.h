// Private to the elementwise, activation and broadcast families: kernel factories that turn a
// scalar function into a vectorisable, parallel loop, so each op's kernel is one line.
//
//   .kernel(map_unary([](auto x) { return std::tanh(x); }))
//   .kernel(map_binary([](auto a, auto b) { return a * b; }))
//   .kernel(map_unary_with([](const KernelContext& c) {            // attributes read once,
//       double s = c.attrs_as<LeakyReluAttrs>().negative_slope;       // at compile time
//       return [s](auto x) { return x > 0 ? x : decltype(x)(s) * x; };
//   }))
//
// The scalar functions are templates instantiated per element type and inlined into plain
// loops over contiguous memory: no per-element virtual call or std::function. Output 0 may
// alias input 0 (ops declare .inplace(0)): every loop reads element i before writing it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>

#include "graphgrad/graph/kernel.h"
#include "graphgrad/graph/tensor.h"
#include "graphgrad/ops/kernels/fast_exp.h"
#include "graphgrad/ops/kernels/kernel_util.h"

namespace gg {

// Like dispatch_float, plus i64 (comparisons and where's condition accept any dtype).
template <typename F>
decltype(auto) dispatch_any(DType t, F&& f) {
    switch (t) {
        case DType::F32: return f(float{});
        case DType::F64: return f(double{});
        case DType::I64: return f(int64_t{});
    }
    throw_runtime("unknown dtype {}", static_cast<int>(t));
}

// y = op(x) elementwise; make_op(ctx) builds the scalar function once, at compile time.
template <typename MakeOp>
KernelFactory map_unary_with(MakeOp make_op) {
    return [make_op](const KernelContext& c) -> std::unique_ptr<Kernel> {
        const int64_t n = c.output_elements(0);  // padded count in an opaque layout
        auto op = make_op(c);
        return dispatch_float(c.outputs[0].dtype, [&](auto t) -> std::unique_ptr<Kernel> {
            using T = decltype(t);
            return make_kernel([n, op](const KernelArgs& a) {
                const T* x = static_cast<const T*>(a.inputs[0]);
                T* y = static_cast<T*>(a.outputs[0]);
                parallel_range(n, [&](int64_t b, int64_t e) {
                    for (int64_t i = b; i < e; ++i) y[i] = static_cast<T>(op(x[i]));
                });
            });
        });
    };
}

template <typename Op>
KernelFactory map_unary(Op op) {
    return map_unary_with([op](const KernelContext&) { return op; });
}

// A fast f32 kernel from an op on 8-float vectors (ops/kernels/fast_exp.h simd::): eight
// elements per call, the last n mod 8 through a zero-padded vector. nullptr for f64, which
// then runs the op's reference (its meaning, and what gradcheck differentiates).
template <typename VecOp>
KernelFactory map_unary_f32x8(VecOp op) {
    return [op](const KernelContext& c) -> std::unique_ptr<Kernel> {
        if (c.outputs[0].dtype != DType::F32) return nullptr;
        const int64_t n = c.output_elements(0);
        return make_kernel([n, op](const KernelArgs& a) {
            const float* x = static_cast<const float*>(a.inputs[0]);
            float* y = static_cast<float*>(a.outputs[0]);
            parallel_range(n, [&](int64_t b, int64_t e) {
                int64_t i = b;
                for (; i + simd::kWidth <= e; i += simd::kWidth) simd::store(y + i, op(simd::load(x + i)));
                if (i < e) {
                    float in[simd::kWidth] = {}, out[simd::kWidth];
                    std::copy(x + i, x + e, in);
                    simd::store(out, op(simd::load(in)));
                    std::copy(out, out + (e - i), y + i);
                }
            });
        });
    };
}

// y = op(a, b) elementwise over equal shapes. The element type comes from input 0, so
// comparisons (whose output has the inputs' dtype) can also run on i64.
template <typename Op>
KernelFactory map_binary(Op op, bool any_dtype = false) {
    return [op, any_dtype](const KernelContext& c) -> std::unique_ptr<Kernel> {
        const int64_t n = c.output_elements(0);  // padded count in an opaque layout
        auto make = [&](auto t) -> std::unique_ptr<Kernel> {
            using T = decltype(t);
            return make_kernel([n, op](const KernelArgs& a) {
                const T* x0 = static_cast<const T*>(a.inputs[0]);
                const T* x1 = static_cast<const T*>(a.inputs[1]);
                T* y = static_cast<T*>(a.outputs[0]);
                parallel_range(n, [&](int64_t b, int64_t e) {
                    for (int64_t i = b; i < e; ++i) y[i] = static_cast<T>(op(x0[i], x1[i]));
                });
            });
        };
        return any_dtype ? dispatch_any(c.inputs[0].dtype, make) : dispatch_float(c.inputs[0].dtype, make);
    };
}

// The binary counterpart of map_unary_f32x8 (equal shapes, f32 only; nullptr for f64).
template <typename VecOp>
KernelFactory map_binary_f32x8(VecOp op) {
    return [op](const KernelContext& c) -> std::unique_ptr<Kernel> {
        if (c.outputs[0].dtype != DType::F32) return nullptr;
        const int64_t n = c.output_elements(0);
        return make_kernel([n, op](const KernelArgs& a) {
            const float* x0 = static_cast<const float*>(a.inputs[0]);
            const float* x1 = static_cast<const float*>(a.inputs[1]);
            float* y = static_cast<float*>(a.outputs[0]);
            parallel_range(n, [&](int64_t b, int64_t e) {
                int64_t i = b;
                for (; i + simd::kWidth <= e; i += simd::kWidth)
                    simd::store(y + i, op(simd::load(x0 + i), simd::load(x1 + i)));
                if (i < e) {
                    float in0[simd::kWidth] = {}, in1[simd::kWidth] = {}, out[simd::kWidth];
                    std::copy(x0 + i, x0 + e, in0);
                    std::copy(x1 + i, x1 + e, in1);
                    simd::store(out, op(simd::load(in0), simd::load(in1)));
                    std::copy(out, out + (e - i), y + i);
                }
            });
        });
    };
}

}  // namespace gg
