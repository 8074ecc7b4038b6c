#include "graphgrad/ops/dnn/conv_rows.h"

#include <algorithm>
#include <cstring>
#include <string>

#include <dnnl.hpp>
#include <omp.h>

#include "graphgrad/ops/dnn/context.h"

namespace gg::dnn {

namespace {

class RowsConvKernel final : public Kernel {
public:
    RowsConvKernel(const ConvGeometry& g, ConvPass pass)
        : g_(g),
          pass_(pass),
          kc_(g.c * g.kw),
          rows_floats_(g.h * g.ow * kc_),
          weights_floats_(g.kh * g.o * kc_) {
        // With fewer images than threads, images run one after another and sgemm threads itself.
        const int threads = std::max(1, omp_get_max_threads());
        outer_threads_ = g.n >= threads ? threads : 1;
        // Scratch: W_i (or the summed dW_i), then per thread its unfolded rows (and partial dW_i).
        per_thread_ = rows_bytes() + (pass == ConvPass::BackwardWeights ? weights_bytes() : 0);
        scratch_ = weights_bytes() + per_thread_ * static_cast<std::size_t>(outer_threads_);
        warm_gemm_code();
    }

    std::size_t scratch_bytes() const override { return scratch_; }
    // As describe_conv_kernel() names it, so a compiled program's steps tell which ran.
    std::string describe() const override { return "rows:sgemm (plain)"; }

    void run(const KernelArgs& a) override {
        auto* scratch = static_cast<char*>(a.scratch);
        auto* packed = reinterpret_cast<float*>(scratch);  // W_i, or the summed dW_i
        auto rows_of = [&](int t) {
            return reinterpret_cast<float*>(scratch + weights_bytes() + per_thread_ * static_cast<std::size_t>(t));
        };
        auto partial_of = [&](int t) { return reinterpret_cast<float*>(reinterpret_cast<char*>(rows_of(t)) + rows_bytes()); };
        const auto* in0 = static_cast<const float*>(a.inputs[0]);
        const auto* in1 = static_cast<const float*>(a.inputs[1]);
        auto* out = static_cast<float*>(a.outputs[0]);
        if (pass_ != ConvPass::BackwardWeights) pack_weights(in1, packed);

        auto per_image = [&](int t, int64_t n) {
            float* rows = rows_of(t);
            switch (pass_) {
                case ConvPass::Forward: forward_image(in0 + n * x_image(), packed, rows, out + n * y_image()); break;
                case ConvPass::BackwardData:
                    backward_data_image(in0 + n * y_image(), packed, rows, out + n * x_image());
                    break;
                case ConvPass::BackwardWeights:
                    backward_weights_image(in0 + n * x_image(), in1 + n * y_image(), rows, partial_of(t));
                    break;
            }
        };
        // Every partial is summed below, also those of threads the runtime may not start.
        if (pass_ == ConvPass::BackwardWeights)
            for (int t = 0; t < outer_threads_; ++t) std::memset(partial_of(t), 0, weights_bytes());
        if (outer_threads_ == 1) {
            for (int64_t n = 0; n < g_.n; ++n) per_image(0, n);
        } else {
#pragma omp parallel num_threads(outer_threads_)
            {
                const int t = omp_get_thread_num(), nt = omp_get_num_threads();
                for (int64_t n = t; n < g_.n; n += nt) per_image(t, n);
            }
        }
        if (pass_ == ConvPass::BackwardWeights) {
            const int64_t total = weights_floats_;
            std::memset(packed, 0, weights_bytes());
            for (int t = 0; t < outer_threads_; ++t) {
                const float* partial = partial_of(t);
                for (int64_t e = 0; e < total; ++e) packed[e] += partial[e];
            }
            unpack_weights(packed, out);
        }
        // Forward: y[n][o] += b[o]. Backward data (conv_transpose2d): dx[n][c] += b[c].
        if (pass_ == ConvPass::Forward && g_.bias)
            add_channel_bias(static_cast<const float*>(a.inputs[2]), out, g_.n * g_.o, g_.o, g_.oh * g_.ow);
        if (pass_ == ConvPass::BackwardData && g_.bias)
            add_channel_bias(static_cast<const float*>(a.inputs[2]), out, g_.n * g_.c, g_.c, g_.h * g_.w);
    }

private:
    int64_t x_image() const { return g_.c * g_.h * g_.w; }
    int64_t y_image() const { return g_.o * g_.oh * g_.ow; }
    std::size_t rows_bytes() const { return scratch_aligned(sizeof(float) * static_cast<std::size_t>(rows_floats_)); }
    std::size_t weights_bytes() const { return scratch_aligned(sizeof(float) * static_cast<std::size_t>(weights_floats_)); }

    // The output rows kernel row i reaches: Y in [y0, y1) reads input row Y + i − pt.
    bool reach(int64_t i, int64_t& y0, int64_t& y1) const {
        y0 = std::max<int64_t>(0, g_.pad_top - i);
        y1 = std::min<int64_t>(g_.oh, g_.h + g_.pad_top - i);
        return y0 < y1;
    }

    // packed[i][o][c][j] = w[o][c][i][j]
    void pack_weights(const float* w, float* packed) const {
        for (int64_t o = 0; o < g_.o; ++o)
            for (int64_t c = 0; c < g_.c; ++c)
                for (int64_t i = 0; i < g_.kh; ++i)
                    std::memcpy(packed + (i * g_.o + o) * kc_ + c * g_.kw, w + ((o * g_.c + c) * g_.kh + i) * g_.kw,
                                sizeof(float) * static_cast<std::size_t>(g_.kw));
    }
    void unpack_weights(const float* packed, float* w) const {
        for (int64_t o = 0; o < g_.o; ++o)
            for (int64_t c = 0; c < g_.c; ++c)
                for (int64_t i = 0; i < g_.kh; ++i)
                    std::memcpy(w + ((o * g_.c + c) * g_.kh + i) * g_.kw, packed + (i * g_.o + o) * kc_ + c * g_.kw,
                                sizeof(float) * static_cast<std::size_t>(g_.kw));
    }

    // rows[y][X][c][j] = x[c][y][X·sw + j·dw − pl], 0 outside.
    void unfold(const float* x, float* rows) const {
        for (int64_t y = 0; y < g_.h; ++y)
            for (int64_t X = 0; X < g_.ow; ++X) {
                float* dst = rows + (y * g_.ow + X) * kc_;
                for (int64_t c = 0; c < g_.c; ++c) {
                    const float* src = x + (c * g_.h + y) * g_.w;
                    for (int64_t j = 0; j < g_.kw; ++j) {
                        const int64_t xi = X * g_.stride_w + j * g_.dil_w - g_.pad_left;
                        dst[c * g_.kw + j] = xi >= 0 && xi < g_.w ? src[xi] : 0.0f;
                    }
                }
            }
    }
    // The adjoint of unfold: dx[c][y][xi] = Σ over (X, j) reading xi of rows[y][X][c][j].
    void fold(const float* rows, float* dx) const {
        std::memset(dx, 0, sizeof(float) * static_cast<std::size_t>(x_image()));
        for (int64_t y = 0; y < g_.h; ++y)
            for (int64_t X = 0; X < g_.ow; ++X) {
                const float* src = rows + (y * g_.ow + X) * kc_;
                for (int64_t c = 0; c < g_.c; ++c) {
                    float* dst = dx + (c * g_.h + y) * g_.w;
                    for (int64_t j = 0; j < g_.kw; ++j) {
                        const int64_t xi = X * g_.stride_w + j * g_.dil_w - g_.pad_left;
                        if (xi >= 0 && xi < g_.w) dst[xi] += src[c * g_.kw + j];
                    }
                }
            }
    }

    void forward_image(const float* x, const float* packed, float* rows, float* y) const {
        unfold(x, rows);
        std::memset(y, 0, sizeof(float) * static_cast<std::size_t>(y_image()));
        const int64_t plane = g_.oh * g_.ow;
        for (int64_t i = 0, y0, y1; i < g_.kh; ++i) {
            if (!reach(i, y0, y1)) continue;
            dnnl::sgemm('N', 'T', g_.o, (y1 - y0) * g_.ow, kc_, 1.0f, packed + i * g_.o * kc_, kc_,
                        rows + (y0 + i - g_.pad_top) * g_.ow * kc_, kc_, 1.0f, y + y0 * g_.ow, plane);
        }
    }

    void backward_data_image(const float* dy, const float* packed, float* rows, float* dx) const {
        std::memset(rows, 0, sizeof(float) * static_cast<std::size_t>(rows_floats_));
        const int64_t plane = g_.oh * g_.ow;
        for (int64_t i = 0, y0, y1; i < g_.kh; ++i) {
            if (!reach(i, y0, y1)) continue;
            dnnl::sgemm('T', 'N', (y1 - y0) * g_.ow, kc_, g_.o, 1.0f, dy + y0 * g_.ow, plane, packed + i * g_.o * kc_,
                        kc_, 1.0f, rows + (y0 + i - g_.pad_top) * g_.ow * kc_, kc_);
        }
        fold(rows, dx);
    }

    void backward_weights_image(const float* x, const float* dy, float* rows, float* partial) const {
        unfold(x, rows);
        const int64_t plane = g_.oh * g_.ow;
        for (int64_t i = 0, y0, y1; i < g_.kh; ++i) {
            if (!reach(i, y0, y1)) continue;
            dnnl::sgemm('N', 'N', g_.o, kc_, (y1 - y0) * g_.ow, 1.0f, dy + y0 * g_.ow, plane,
                        rows + (y0 + i - g_.pad_top) * g_.ow * kc_, kc_, 1.0f, partial + i * g_.o * kc_, kc_);
        }
    }

    ConvGeometry g_;
    ConvPass pass_;
    int64_t kc_;              // C·kw: the unfolded row's width
    int64_t rows_floats_;     // one image unfolded: H·OW·C·kw
    int64_t weights_floats_;  // kh·O·C·kw
    int outer_threads_ = 1;
    std::size_t per_thread_ = 0, scratch_ = 0;
};

}  // namespace

bool rows_conv_supported(const ConvGeometry& g) {
    return g.groups == 1 && g.stride_h == 1 && g.dil_h == 1 && g.n > 0 && g.c > 0 && g.o > 0 && g.oh > 0 && g.ow > 0;
}

bool rows_conv_preferred(const ConvGeometry& g, const std::string& impl) {
    const bool direct = impl.rfind("jit", 0) == 0 || impl.rfind("brg", 0) == 0;
    return rows_conv_supported(g) && !direct && g.kh * g.kw >= 49;
}

std::unique_ptr<Kernel> make_rows_conv_kernel(const ConvGeometry& g, ConvPass pass) {
    if (!rows_conv_supported(g)) return nullptr;
    return std::make_unique<RowsConvKernel>(g, pass);
}

}  // namespace gg::dnn
