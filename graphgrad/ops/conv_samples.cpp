// Samples and error samples of the conv family: every attribute variant (stride 1/2, symmetric
// and asymmetric padding, dilation, groups, depthwise, bias or not, 1x1/2x3/3x3/5x5 kernels,
// non-square) at tiny sizes, so gradcheck stays fast; and the inputs each shape rule rejects.
#include "graphgrad/graph/errors.h"
#include "graphgrad/ops/internal/conv_internal.h"

namespace gg {

namespace {


OpSample with_bias(std::string label, Shape x, Shape w, Shape b, Conv2dOptions o) {
    return OpSample{std::move(label), {floating(std::move(x)), floating(std::move(w)), floating(std::move(b))}, o,
                    true};
}
OpSample no_bias(std::string label, Shape x, Shape w, Conv2dOptions o) {
    return OpSample{std::move(label), {floating(std::move(x)), floating(std::move(w))}, o, true};
}
// Backward ops: two operands and the result's shape.
OpSample backward(std::string label, Shape a, Shape b, Shape result, Conv2dOptions o) {
    return OpSample{std::move(label), {floating(std::move(a)), floating(std::move(b))},
                    ConvBackwardAttrs{o, std::move(result)}, true};
}

using D = TensorDesc;

}  // namespace

std::vector<OpSample> conv2d_samples() {
    return {
        with_bias("3x3_pad1_bias", {2, 3, 5, 5}, {4, 3, 3, 3}, {4}, {.padding = pad_all(1)}),
        no_bias("3x3_valid", {2, 3, 5, 5}, {4, 3, 3, 3}, {}),
        with_bias("stride2_pad1", {2, 3, 6, 6}, {4, 3, 3, 3}, {4}, {.stride = {2, 2}, .padding = pad_all(1)}),
        no_bias("stride2_leftover_rows", {1, 2, 6, 6}, {2, 2, 3, 3}, {.stride = {2, 2}}),
        no_bias("asymmetric_padding", {1, 2, 5, 4}, {3, 2, 3, 3}, {.padding = {0, 2, 1, 0}}),
        with_bias("dilation2", {1, 2, 7, 7}, {3, 2, 3, 3}, {3}, {.padding = pad_all(2), .dilation = {2, 2}}),
        with_bias("groups2", {2, 4, 5, 5}, {6, 2, 3, 3}, {6}, {.padding = pad_all(1), .groups = 2}),
        with_bias("depthwise", {2, 4, 5, 5}, {4, 1, 3, 3}, {4}, {.padding = pad_all(1), .groups = 4}),
        no_bias("depthwise_multiplier2_stride2", {1, 3, 5, 5}, {6, 1, 3, 3}, {.stride = {2, 2}, .groups = 3}),
        with_bias("1x1", {2, 4, 3, 3}, {5, 4, 1, 1}, {5}, {}),
        no_bias("5x5_pad2", {1, 2, 6, 6}, {3, 2, 5, 5}, {.padding = pad_all(2)}),
        no_bias("non_square_everything", {1, 2, 5, 7}, {3, 2, 2, 3},
                {.stride = {1, 2}, .padding = {1, 0, 0, 1}, .dilation = {2, 1}}),
    };
}

std::vector<ErrorSample> conv2d_error_samples() {
    return {
        {"rank_3_input", {D{{3, 5, 5}}, D{{4, 3, 3, 3}}}, Conv2dOptions{}, "input must be 4-D [N, C, H, W], got [3,5,5]"},
        {"rank_2_weight", {D{{2, 3, 5, 5}}, D{{4, 27}}}, Conv2dOptions{}, "weight must be 4-D"},
        {"channel_mismatch", {D{{2, 3, 5, 5}}, D{{4, 2, 3, 3}}}, Conv2dOptions{},
         "weight [4,2,3,3] takes 2·1 = 2 input channels (C/groups · groups), the input has 3"},
        {"groups_do_not_divide_input", {D{{2, 3, 5, 5}}, D{{4, 1, 3, 3}}}, Conv2dOptions{.groups = 2},
         "input channels 3 are not divisible by groups 2"},
        {"groups_do_not_divide_output", {D{{2, 4, 5, 5}}, D{{3, 2, 3, 3}}}, Conv2dOptions{.groups = 2},
         "output channels 3 are not divisible by groups 2"},
        {"kernel_larger_than_input", {D{{1, 1, 3, 3}}, D{{1, 1, 5, 5}}}, Conv2dOptions{},
         "kernel 5x5 (dilated extent 5x5) is larger than the padded input 3x3"},
        {"dilated_kernel_larger_than_input", {D{{1, 1, 4, 4}}, D{{1, 1, 3, 3}}}, Conv2dOptions{.dilation = {2, 2}},
         "(dilated extent 5x5) is larger than the padded input 4x4"},
        {"bias_shape", {D{{2, 3, 5, 5}}, D{{4, 3, 3, 3}}, D{{3}}}, Conv2dOptions{}, "bias must be [4]"},
        {"dtype_mismatch", {D{{2, 3, 5, 5}, DType::F32}, D{{4, 3, 3, 3}, DType::F64}}, Conv2dOptions{},
         "dtypes differ: f32[2,3,5,5] vs f64[4,3,3,3]"},
        {"integer", {D{{2, 3, 5, 5}, DType::I64}, D{{4, 3, 3, 3}, DType::I64}}, Conv2dOptions{}, "floating point"},
        {"stride_0", {D{{2, 3, 5, 5}}, D{{4, 3, 3, 3}}}, Conv2dOptions{.stride = {0, 1}}, "stride must be >= 1, got 0x1"},
        {"negative_padding", {D{{2, 3, 5, 5}}, D{{4, 3, 3, 3}}}, Conv2dOptions{.padding = {1, -1, 0, 0}},
         "padding must be >= 0"},
        {"dilation_0", {D{{2, 3, 5, 5}}, D{{4, 3, 3, 3}}}, Conv2dOptions{.dilation = {0, 0}}, "dilation must be >= 1"},
        {"output_padding", {D{{2, 3, 5, 5}}, D{{4, 3, 3, 3}}}, Conv2dOptions{.output_padding = {1, 0}},
         "output_padding is only for conv_transpose2d"},
        {"empty_channels", {D{{2, 0, 5, 5}}, D{{4, 0, 3, 3}}}, Conv2dOptions{}, "must be >= 1"},
    };
}

std::vector<OpSample> backward_data_samples() {
    // (dy, w) → dx with dx's shape last.
    return {
        backward("3x3_pad1", {2, 4, 5, 5}, {4, 3, 3, 3}, {2, 3, 5, 5}, {.padding = pad_all(1)}),
        backward("stride2_pad1", {1, 4, 3, 3}, {4, 3, 3, 3}, {1, 3, 6, 6}, {.stride = {2, 2}, .padding = pad_all(1)}),
        backward("stride2_leftover_rows", {1, 2, 2, 2}, {2, 2, 3, 3}, {1, 2, 6, 6}, {.stride = {2, 2}}),
        backward("groups2_dilation2", {1, 4, 5, 5}, {4, 2, 3, 3}, {1, 4, 7, 7},
                 {.padding = pad_all(1), .dilation = {2, 2}, .groups = 2}),
        backward("depthwise_asymmetric", {1, 3, 4, 4}, {3, 1, 3, 3}, {1, 3, 5, 5}, {.padding = {1, 0, 0, 1}, .groups = 3}),
        backward("1x1", {2, 5, 3, 3}, {5, 4, 1, 1}, {2, 4, 3, 3}, {}),
    };
}

std::vector<ErrorSample> backward_data_error_samples() {
    return {
        {"grad_output_shape", {D{{2, 4, 4, 4}}, D{{4, 3, 3, 3}}}, ConvBackwardAttrs{{.padding = pad_all(1)}, {2, 3, 5, 5}},
         "grad_output [2,4,4,4] does not match the convolution output [2,4,5,5]"},
        {"input_shape_rank", {D{{2, 4, 5, 5}}, D{{4, 3, 3, 3}}}, ConvBackwardAttrs{{}, {3, 5, 5}},
         "input must be 4-D [N, C, H, W], got [3,5,5]"},
        {"dtype_mismatch", {D{{2, 4, 3, 3}, DType::F64}, D{{4, 3, 3, 3}, DType::F32}}, ConvBackwardAttrs{{}, {2, 3, 5, 5}},
         "dtypes differ"},
    };
}

std::vector<OpSample> backward_weights_samples() {
    // (x, dy) → dw with dw's shape last.
    return {
        backward("3x3_pad1", {2, 3, 5, 5}, {2, 4, 5, 5}, {4, 3, 3, 3}, {.padding = pad_all(1)}),
        backward("stride2_asymmetric", {1, 2, 6, 5}, {1, 3, 3, 2}, {3, 2, 3, 3},
                 {.stride = {2, 2}, .padding = {1, 0, 0, 0}}),
        backward("groups2_dilation2", {1, 4, 7, 7}, {1, 4, 5, 5}, {4, 2, 3, 3},
                 {.padding = pad_all(1), .dilation = {2, 2}, .groups = 2}),
        backward("depthwise", {2, 3, 5, 5}, {2, 3, 5, 5}, {3, 1, 3, 3}, {.padding = pad_all(1), .groups = 3}),
        backward("5x5_1x1_out", {1, 2, 5, 5}, {1, 2, 1, 1}, {2, 2, 5, 5}, {}),
    };
}

std::vector<ErrorSample> backward_weights_error_samples() {
    return {
        {"grad_output_shape", {D{{2, 3, 5, 5}}, D{{2, 4, 5, 5}}}, ConvBackwardAttrs{{}, {4, 3, 3, 3}},
         "grad_output [2,4,5,5] does not match the convolution output [2,4,3,3]"},
        {"weight_shape_channels", {D{{2, 3, 5, 5}}, D{{2, 4, 3, 3}}}, ConvBackwardAttrs{{}, {4, 2, 3, 3}},
         "the input has 3"},
    };
}

std::vector<OpSample> conv_transpose2d_samples() {
    // x [N, C_in, H, W], w [C_in, C_out/groups, kh, kw] (+ b [C_out]).
    return {
        with_bias("3x3_bias", {2, 3, 4, 4}, {3, 2, 3, 3}, {2}, {}),
        no_bias("stride2_pad1_output_padding1", {1, 3, 3, 3}, {3, 2, 3, 3},
                {.stride = {2, 2}, .padding = pad_all(1), .output_padding = {1, 1}}),
        with_bias("groups2", {1, 4, 3, 3}, {4, 1, 3, 3}, {2}, {.padding = pad_all(1), .groups = 2}),
        no_bias("dilation2_asymmetric", {1, 2, 4, 4}, {2, 3, 2, 2}, {.padding = {1, 0, 0, 1}, .dilation = {2, 2}}),
        no_bias("1x1", {2, 3, 3, 3}, {3, 4, 1, 1}, {}),
        with_bias("non_square_stride", {1, 2, 3, 4}, {2, 2, 3, 2}, {2}, {.stride = {2, 1}, .output_padding = {1, 0}}),
    };
}

std::vector<ErrorSample> conv_transpose2d_error_samples() {
    return {
        {"weight_channels", {D{{1, 3, 4, 4}}, D{{2, 2, 3, 3}}}, Conv2dOptions{},
         "weight [2,2,3,3] is for 2 input channels, the input has 3"},
        {"output_padding_not_below_stride", {D{{1, 3, 4, 4}}, D{{3, 2, 3, 3}}}, Conv2dOptions{.output_padding = {1, 1}},
         "output_padding must be >= 0 and smaller than the stride, got 1 with stride 1"},
        {"padding_too_large", {D{{1, 1, 2, 2}}, D{{1, 1, 3, 3}}}, Conv2dOptions{.padding = pad_all(3)},
         "output size -2x-2 is not positive"},
        {"bias_shape", {D{{1, 3, 4, 4}}, D{{3, 2, 3, 3}}, D{{3}}}, Conv2dOptions{}, "bias must be [2]"},
        {"rank", {D{{3, 4, 4}}, D{{3, 2, 3, 3}}}, Conv2dOptions{}, "input must be 4-D [N, C_in, H, W]"},
    };
}

}  // namespace gg
