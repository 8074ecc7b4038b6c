// Private to the conv family (ops/conv.cpp, ops/conv_samples.cpp, tests): the attributes of the
// backward ops, the validated geometry of a convolution, and the sample sets.
//
//   gg::ConvGeometry g = gg::conv_geometry({2, 3, 5, 5}, {4, 3, 3, 3}, {.padding = gg::pad_all(1)});
//   g.y_shape();   // [2,4,5,5]
#pragma once

#include <vector>

#include "graphgrad/graph/op_def.h"
#include "graphgrad/ops/conv.h"
#include "graphgrad/ops/reference/conv.h"

namespace gg {

// "conv2d_backward_data" (dy, w → dx) and "conv2d_backward_weights" (x, dy → dw): the forward
// convolution's options and the shape of the result, which dy and the other operand do not
// determine (a strided convolution maps several input sizes to one output size; the kernel
// size is in neither x nor dy).
struct ConvBackwardAttrs {
    Conv2dOptions options;
    Shape shape;  // dx's shape (backward data) or dw's shape (backward weights)
};

// The geometry of conv2d(x, w) with options o; throws ShapeError with a clear message for any
// inconsistency (rank, channels vs groups, kernel larger than the padded input, bad options).
ConvGeometry conv_geometry(const Shape& x, const Shape& w, const Conv2dOptions& o);

// conv_transpose2d(x, w) as the backward data of a convolution: the returned geometry is that
// convolution's (its input is the transposed conv's output, its output has x's shape).
ConvGeometry conv_transpose_geometry(const Shape& x, const Shape& w, const Conv2dOptions& o);

std::vector<OpSample> conv2d_samples();
std::vector<ErrorSample> conv2d_error_samples();
std::vector<OpSample> backward_data_samples();
std::vector<ErrorSample> backward_data_error_samples();
std::vector<OpSample> backward_weights_samples();
std::vector<ErrorSample> backward_weights_error_samples();
std::vector<OpSample> conv_transpose2d_samples();
std::vector<ErrorSample> conv_transpose2d_error_samples();

}  // namespace gg
