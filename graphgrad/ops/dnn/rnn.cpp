// oneDNN recurrent layers (see rnn.h). The primitive descriptors ask for `any` weight layouts
// and take what oneDNN prefers (plain ldigo/ldgoi with padded leading dimensions); reorders
// between PyTorch's tensors and those layouts are made once, per (direction, gate block), on
// submemories of the primitive's weights, so one mechanism covers both directions and the
// GRU's gate permutation.
#include "graphgrad/ops/dnn/rnn.h"

#include <cstring>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/kernel.h"
#include "graphgrad/ops/dnn/bound_primitive.h"

namespace gg::dnn {

using md = dnnl::memory::desc;
using dims = dnnl::memory::dims;
constexpr auto f32 = dnnl::memory::data_type::f32;

namespace {

// A run of gates that keeps its order: oneDNN gates [dnn, dnn + count) are PyTorch's
// [pt, pt + count). The GRU's u, r, o are PyTorch's z, r, n.
struct GateBlock {
    int64_t dnn, pt, count;
};
std::vector<GateBlock> gate_blocks(const RnnGeometry& g) {
    if (g.cell == RnnCell::Gru) return {{0, 1, 1}, {1, 0, 1}, {2, 2, 1}};
    return {{0, 0, g.gates()}};
}

// Gates [pt, pt + count) of one direction's PyTorch weight [G·H, C] as oneDNN's 5-D
// (layer, direction, input, gate, output) weights: ldgoi strides, starting at gate `pt`.
md pytorch_weight_md(const RnnGeometry& g, int64_t cols, int64_t count) {
    const int64_t H = g.hidden, G = g.gates();
    return md({1, 1, cols, count, H}, f32, dims{G * H * cols, G * H * cols, 1, H * cols, cols});
}

int64_t bias_gates(const RnnGeometry& g) { return g.cell == RnnCell::Gru ? 4 : g.gates(); }

struct RnnDescs {
    md x, y, state, w_layer, w_iter, bias;
};
RnnDescs rnn_descs(const RnnGeometry& g) {
    const int64_t D = g.directions(), G = g.gates(), H = g.hidden;
    const auto any = dnnl::memory::format_tag::any;
    return {plain_f32({g.seq, g.batch, g.input}),
            plain_f32({g.seq, g.batch, D * H}),
            plain_f32({1, D, g.batch, H}),
            md({1, D, g.input, G, H}, f32, any),
            md({1, D, H, G, H}, f32, any),
            plain_f32({1, D, bias_gates(g), H})};  // ldgo: the bias loops write it
}

// The forward (and optionally backward) primitive descriptors of the geometry's cell, as their
// common base (every query lives there), and the primitive to run.
struct Pds {
    dnnl::rnn_primitive_desc_base fwd, bwd;
    dnnl::primitive prim;
};

// training: forward_training (a workspace for the backward); else forward_inference.
Pds make_pds(const RnnGeometry& g, const dnnl::engine& e, bool backward, bool training = true) {
    const RnnDescs d = rnn_descs(g);
    const auto attr = user_scratchpad();
    const auto train = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    const auto bwd = dnnl::prop_kind::backward;
    const auto dir = g.bidirectional ? dnnl::rnn_direction::bidirectional_concat
                                     : dnnl::rnn_direction::unidirectional_left2right;
    Pds p;
    switch (g.cell) {
        case RnnCell::RnnTanh:
        case RnnCell::RnnRelu: {
            const auto act = g.cell == RnnCell::RnnTanh ? dnnl::algorithm::eltwise_tanh : dnnl::algorithm::eltwise_relu;
            dnnl::vanilla_rnn_forward::primitive_desc f(
                dnnl::vanilla_rnn_forward::desc(train, act, dir, d.x, d.state, d.w_layer, d.w_iter, d.bias, d.y, d.state),
                attr, e);
            p.fwd = f;
            if (!backward) {
                p.prim = dnnl::vanilla_rnn_forward(f);
                break;
            }
            dnnl::vanilla_rnn_backward::primitive_desc b(
                dnnl::vanilla_rnn_backward::desc(bwd, act, dir, d.x, d.state, d.w_layer, d.w_iter, d.bias, d.y, d.state,
                                                 d.x, d.state, d.w_layer, d.w_iter, d.bias, d.y, d.state),
                attr, e, f);
            p.bwd = b;
            p.prim = dnnl::vanilla_rnn_backward(b);
            break;
        }
        case RnnCell::Lstm: {
            dnnl::lstm_forward::primitive_desc f(
                dnnl::lstm_forward::desc(train, dir, d.x, d.state, d.state, d.w_layer, d.w_iter, d.bias, d.y, d.state,
                                         d.state),
                attr, e);
            p.fwd = f;
            if (!backward) {
                p.prim = dnnl::lstm_forward(f);
                break;
            }
            dnnl::lstm_backward::primitive_desc b(
                dnnl::lstm_backward::desc(bwd, dir, d.x, d.state, d.state, d.w_layer, d.w_iter, d.bias, d.y, d.state,
                                          d.state, d.x, d.state, d.state, d.w_layer, d.w_iter, d.bias, d.y, d.state,
                                          d.state),
                attr, e, f);
            p.bwd = b;
            p.prim = dnnl::lstm_backward(b);
            break;
        }
        case RnnCell::Gru: {
            dnnl::lbr_gru_forward::primitive_desc f(
                dnnl::lbr_gru_forward::desc(train, dir, d.x, d.state, d.w_layer, d.w_iter, d.bias, d.y, d.state), attr, e);
            p.fwd = f;
            if (!backward) {
                p.prim = dnnl::lbr_gru_forward(f);
                break;
            }
            dnnl::lbr_gru_backward::primitive_desc b(
                dnnl::lbr_gru_backward::desc(bwd, dir, d.x, d.state, d.w_layer, d.w_iter, d.bias, d.y, d.state, d.x,
                                             d.state, d.w_layer, d.w_iter, d.bias, d.y, d.state),
                attr, e, f);
            p.bwd = b;
            p.prim = dnnl::lbr_gru_backward(b);
            break;
        }
    }
    return p;
}

// ldgo bias [D][Gb][H] from PyTorch's b_ih, b_hh: the sum per gate; the GRU's n gate keeps
// b_in and b_hn apart (oneDNN's o and u' gates) because r multiplies W_hn h + b_hn only.
void fill_bias(const RnnGeometry& g, const RnnParams<float>& p, float* b) {
    const int64_t H = g.hidden;
    for (int64_t d = 0; d < g.directions(); ++d) {
        const auto u = static_cast<std::size_t>(d);
        const float *bi = p.bias_ih[u], *bh = p.bias_hh[u];
        float* out = b + d * bias_gates(g) * H;
        if (g.cell != RnnCell::Gru) {
            for (int64_t k = 0; k < g.gates() * H; ++k) out[k] = bi[k] + bh[k];
            continue;
        }
        for (int64_t j = 0; j < H; ++j) {
            out[j] = bi[H + j] + bh[H + j];  // u = z
            out[H + j] = bi[j] + bh[j];      // r
            out[2 * H + j] = bi[2 * H + j];  // o = n, outside r
            out[3 * H + j] = bh[2 * H + j];  // u' = b_hn, inside r
        }
    }
}

// The inverse of fill_bias for the gradients: a summed bias's gradient goes to both addends.
void split_diff_bias(const RnnGeometry& g, const float* db, const RnnParamGrads<float>& out) {
    const int64_t H = g.hidden;
    for (int64_t d = 0; d < g.directions(); ++d) {
        const auto u = static_cast<std::size_t>(d);
        float *bi = out.bias_ih[u], *bh = out.bias_hh[u];
        const float* in = db + d * bias_gates(g) * H;
        if (g.cell != RnnCell::Gru) {
            std::memcpy(bi, in, static_cast<std::size_t>(g.gates() * H) * sizeof(float));
            std::memcpy(bh, in, static_cast<std::size_t>(g.gates() * H) * sizeof(float));
            continue;
        }
        for (int64_t j = 0; j < H; ++j) {
            bi[H + j] = bh[H + j] = in[j];
            bi[j] = bh[j] = in[H + j];
            bi[2 * H + j] = in[2 * H + j];
            bh[2 * H + j] = in[3 * H + j];
        }
    }
}

dnnl::memory unbound(const md& m, const dnnl::engine& e) { return dnnl::memory(m, e, DNNL_MEMORY_NONE); }

// Carves 64-byte aligned buffers out of one scratch block; returns each one's offset.
struct ScratchLayout {
    std::size_t size = 0;
    std::size_t add(std::size_t bytes) {
        const std::size_t at = size;
        size += scratch_aligned(bytes);
        return at;
    }
};

}  // namespace

// Copies between one weight's PyTorch tensors (one per direction, [G·H, C]) and the layout
// the primitive wants, one reorder per (direction, gate block). `direct` when the primitive's
// layout is PyTorch's own (one direction, gates in order, no padding): the tensor is bound as
// it is and nothing is copied.
class WeightCopies {
public:
    WeightCopies(Context& ctx, const RnnGeometry& g, const md& prim_md, int64_t cols, bool to_primitive)
        : ctx_(ctx), prim_md_(prim_md), user_elems_(g.gates() * g.hidden * cols) {
        direct_ = g.directions() == 1 && g.cell != RnnCell::Gru && prim_md == pytorch_weight_md(g, cols, g.gates());
        if (direct_) return;
        const dnnl::engine& e = ctx.engine();
        for (int64_t d = 0; d < g.directions(); ++d)
            for (const GateBlock& b : gate_blocks(g)) {
                const md user = pytorch_weight_md(g, cols, b.count);
                const md part = prim_md.submemory_desc({1, 1, cols, b.count, g.hidden}, {0, d, 0, b.dnn, 0});
                Copy c{to_primitive ? dnnl::reorder(dnnl::reorder::primitive_desc(e, user, e, part))
                                    : dnnl::reorder(dnnl::reorder::primitive_desc(e, part, e, user)),
                       unbound(user, e), unbound(part, e), d, b.pt * g.hidden * cols};
                copies_.push_back(std::move(c));
            }
    }

    bool direct() const { return direct_; }
    const md& prim_md() const { return prim_md_; }
    std::size_t buffer_bytes() const { return direct_ ? 0 : prim_md_.get_size(); }
    // What the primitive reads or writes: the user's tensor when direct, else the buffer.
    void* bound(void* buffer, const void* user) const { return direct_ ? const_cast<void*>(user) : buffer; }
    std::size_t bound_bytes() const {
        return direct_ ? static_cast<std::size_t>(user_elems_) * sizeof(float) : prim_md_.get_size();
    }

    // "bound in place" or "3 reorders, 802816 B" (what each run converts).
    std::string describe(const char* name) const {
        if (direct_) return fmt::format("{}: bound in place", name);
        return fmt::format("{}: {} reorder{}, {} B", name, copies_.size(), copies_.size() == 1 ? "" : "s",
                           prim_md_.get_size());
    }

    void to_primitive(const std::array<const float*, 2>& user, void* buffer) {
        for (Copy& c : copies_) {
            c.user.set_data_handle(const_cast<float*>(user[static_cast<std::size_t>(c.dir)]) + c.user_offset);
            c.prim.set_data_handle(buffer);
            c.reorder.execute(ctx_.stream(), c.user, c.prim);
        }
        ctx_.stream().wait();
    }
    void to_user(void* buffer, const std::array<float*, 2>& user) {
        for (Copy& c : copies_) {
            c.prim.set_data_handle(buffer);
            c.user.set_data_handle(user[static_cast<std::size_t>(c.dir)] + c.user_offset);
            c.reorder.execute(ctx_.stream(), c.prim, c.user);
        }
        ctx_.stream().wait();
    }

private:
    struct Copy {
        dnnl::reorder reorder;
        dnnl::memory user, prim;  // prim: a submemory (its offset is in the desc) of the buffer
        int64_t dir, user_offset;
    };
    Context& ctx_;
    md prim_md_;
    int64_t user_elems_;
    bool direct_ = false;
    std::vector<Copy> copies_;
};

namespace {

void set(std::unordered_map<int, dnnl::memory>& args, int arg, const void* p) {
    args.at(arg).set_data_handle(const_cast<void*>(p));
}

char* at(void* scratch, std::size_t offset) { return static_cast<char*>(scratch) + offset; }

}  // namespace

// ---- forward -------------------------------------------------------------------------------

RnnForward::RnnForward(Context& ctx, const RnnGeometry& geo, bool training) : ctx_(ctx), geo_(geo) {
    const Pds p = make_pds(geo, ctx.engine(), false, training);
    prim_ = p.prim;
    const dnnl::engine& e = ctx.engine();
    w_layer_ = std::make_unique<WeightCopies>(ctx, geo, p.fwd.weights_layer_desc(), geo.input, true);
    w_iter_ = std::make_unique<WeightCopies>(ctx, geo, p.fwd.weights_iter_desc(), geo.hidden, true);
    bias_md_ = p.fwd.bias_desc();
    scratchpad_bytes_ = p.fwd.scratchpad_desc().get_size();
    workspace_bytes_ = p.fwd.workspace_desc().get_size();
    const std::size_t state_bytes = static_cast<std::size_t>(numel(geo.state_shape())) * sizeof(float);
    ScratchLayout s;
    s.add(scratchpad_bytes_);  // oneDNN's scratchpad first, at offset 0
    off_w_layer_ = s.add(w_layer_->buffer_bytes());
    off_w_iter_ = s.add(w_iter_->buffer_bytes());
    off_bias_ = s.add(bias_md_.get_size());
    off_zeros_ = s.add(state_bytes);  // zeros read for an absent h0 or c0
    scratch_bytes_ = s.size;

    args_ = {{DNNL_ARG_SRC_LAYER, unbound(p.fwd.src_layer_desc(), e)},
             {DNNL_ARG_SRC_ITER, unbound(p.fwd.src_iter_desc(), e)},
             {DNNL_ARG_WEIGHTS_LAYER, unbound(p.fwd.weights_layer_desc(), e)},
             {DNNL_ARG_WEIGHTS_ITER, unbound(p.fwd.weights_iter_desc(), e)},
             {DNNL_ARG_BIAS, unbound(bias_md_, e)},
             {DNNL_ARG_DST_LAYER, unbound(p.fwd.dst_layer_desc(), e)},
             {DNNL_ARG_DST_ITER, unbound(p.fwd.dst_iter_desc(), e)}};
    if (workspace_bytes_ > 0) args_.emplace(DNNL_ARG_WORKSPACE, unbound(p.fwd.workspace_desc(), e));
    if (geo.has_cell_state()) {
        args_.emplace(DNNL_ARG_SRC_ITER_C, unbound(p.fwd.src_iter_c_desc(), e));
        args_.emplace(DNNL_ARG_DST_ITER_C, unbound(p.fwd.dst_iter_c_desc(), e));
    }
    if (scratchpad_bytes_ > 0) args_.emplace(DNNL_ARG_SCRATCHPAD, unbound(p.fwd.scratchpad_desc(), e));
}

RnnForward::~RnnForward() = default;

std::string RnnForward::conversions() const {
    return fmt::format("{}; {}; bias sums {} B", w_layer_->describe("weight_ih"), w_iter_->describe("weight_hh"),
                       bias_md_.get_size());
}

void RnnForward::run(const RnnForwardArgs<float>& a, void* scratch) {
    if (a.lengths)
        throw_runtime("{}: oneDNN's RNN primitives have no per-sequence lengths (the reference kernel handles them)",
                      rnn_cell_name(geo_.cell));
    const RnnParams<float>& p = a.params;
    w_layer_->to_primitive(p.weight_ih, at(scratch, off_w_layer_));
    w_iter_->to_primitive(p.weight_hh, at(scratch, off_w_iter_));
    fill_bias(geo_, p, reinterpret_cast<float*>(at(scratch, off_bias_)));
    const std::size_t state_bytes = static_cast<std::size_t>(numel(geo_.state_shape())) * sizeof(float);
    const bool lstm = geo_.has_cell_state();
    if (!a.h0 || (lstm && !a.c0)) std::memset(at(scratch, off_zeros_), 0, state_bytes);
    auto or_zeros = [&](const float* v) -> const void* { return v ? static_cast<const void*>(v) : at(scratch, off_zeros_); };

    set(args_, DNNL_ARG_SRC_LAYER, a.x);
    set(args_, DNNL_ARG_SRC_ITER, or_zeros(a.h0));
    set(args_, DNNL_ARG_WEIGHTS_LAYER, w_layer_->bound(at(scratch, off_w_layer_), p.weight_ih[0]));
    set(args_, DNNL_ARG_WEIGHTS_ITER, w_iter_->bound(at(scratch, off_w_iter_), p.weight_hh[0]));
    set(args_, DNNL_ARG_BIAS, at(scratch, off_bias_));
    set(args_, DNNL_ARG_DST_LAYER, a.y);
    set(args_, DNNL_ARG_DST_ITER, a.hn);
    if (workspace_bytes_ > 0) set(args_, DNNL_ARG_WORKSPACE, a.workspace);
    if (lstm) {
        set(args_, DNNL_ARG_SRC_ITER_C, or_zeros(a.c0));
        set(args_, DNNL_ARG_DST_ITER_C, a.cn);
    }
    if (scratchpad_bytes_ > 0) set(args_, DNNL_ARG_SCRATCHPAD, scratch);
    prim_.execute(ctx_.stream(), args_);
    ctx_.stream().wait();
}

// ---- backward ------------------------------------------------------------------------------

RnnBackward::RnnBackward(Context& ctx, const RnnGeometry& geo) : ctx_(ctx), geo_(geo) {
    const Pds p = make_pds(geo, ctx.engine(), true);
    prim_ = p.prim;
    const dnnl::engine& e = ctx.engine();
    const auto& b = p.bwd;
    w_layer_ = std::make_unique<WeightCopies>(ctx, geo, b.weights_layer_desc(), geo.input, true);
    w_iter_ = std::make_unique<WeightCopies>(ctx, geo, b.weights_iter_desc(), geo.hidden, true);
    dw_layer_ = std::make_unique<WeightCopies>(ctx, geo, b.diff_weights_layer_desc(), geo.input, false);
    dw_iter_ = std::make_unique<WeightCopies>(ctx, geo, b.diff_weights_iter_desc(), geo.hidden, false);
    bias_md_ = b.bias_desc();
    diff_bias_md_ = b.diff_bias_desc();
    scratchpad_bytes_ = b.scratchpad_desc().get_size();
    workspace_bytes_ = b.workspace_desc().get_size();
    if (workspace_bytes_ != p.fwd.workspace_desc().get_size())
        throw_graph("internal error: {} backward workspace {} bytes, forward {}", rnn_cell_name(geo.cell),
                    workspace_bytes_, p.fwd.workspace_desc().get_size());
    const std::size_t state_bytes = static_cast<std::size_t>(numel(geo.state_shape())) * sizeof(float);
    ScratchLayout s;
    s.add(scratchpad_bytes_);
    off_w_layer_ = s.add(w_layer_->buffer_bytes());
    off_w_iter_ = s.add(w_iter_->buffer_bytes());
    off_bias_ = s.add(bias_md_.get_size());
    off_dw_layer_ = s.add(dw_layer_->buffer_bytes());
    off_dw_iter_ = s.add(dw_iter_->buffer_bytes());
    off_dbias_ = s.add(diff_bias_md_.get_size());
    // Three state-sized regions: zeros for absent h0, c0, dhn, dcn; absent dh0; absent dc0.
    off_states_ = s.add(3 * scratch_aligned(state_bytes));
    scratch_bytes_ = s.size;

    args_ = {{DNNL_ARG_SRC_LAYER, unbound(b.src_layer_desc(), e)},
             {DNNL_ARG_SRC_ITER, unbound(b.src_iter_desc(), e)},
             {DNNL_ARG_WEIGHTS_LAYER, unbound(b.weights_layer_desc(), e)},
             {DNNL_ARG_WEIGHTS_ITER, unbound(b.weights_iter_desc(), e)},
             {DNNL_ARG_BIAS, unbound(bias_md_, e)},
             {DNNL_ARG_DST_LAYER, unbound(b.dst_layer_desc(), e)},
             {DNNL_ARG_DST_ITER, unbound(b.dst_iter_desc(), e)},
             {DNNL_ARG_WORKSPACE, unbound(b.workspace_desc(), e)},
             {DNNL_ARG_DIFF_SRC_LAYER, unbound(b.diff_src_layer_desc(), e)},
             {DNNL_ARG_DIFF_SRC_ITER, unbound(b.diff_src_iter_desc(), e)},
             {DNNL_ARG_DIFF_WEIGHTS_LAYER, unbound(b.diff_weights_layer_desc(), e)},
             {DNNL_ARG_DIFF_WEIGHTS_ITER, unbound(b.diff_weights_iter_desc(), e)},
             {DNNL_ARG_DIFF_BIAS, unbound(diff_bias_md_, e)},
             {DNNL_ARG_DIFF_DST_LAYER, unbound(b.diff_dst_layer_desc(), e)},
             {DNNL_ARG_DIFF_DST_ITER, unbound(b.diff_dst_iter_desc(), e)}};
    if (geo.has_cell_state())
        for (int arg : {DNNL_ARG_SRC_ITER_C, DNNL_ARG_DST_ITER_C, DNNL_ARG_DIFF_SRC_ITER_C, DNNL_ARG_DIFF_DST_ITER_C})
            args_.emplace(arg, unbound(b.query_md(dnnl::query::exec_arg_md, arg), e));
    if (scratchpad_bytes_ > 0) args_.emplace(DNNL_ARG_SCRATCHPAD, unbound(b.scratchpad_desc(), e));
}

RnnBackward::~RnnBackward() = default;

std::string RnnBackward::conversions() const {
    return fmt::format("{}; {}; bias sums {} B; gradients: {}; {}; bias split {} B", w_layer_->describe("weight_ih"),
                       w_iter_->describe("weight_hh"), bias_md_.get_size(), dw_layer_->describe("weight_ih"),
                       dw_iter_->describe("weight_hh"), diff_bias_md_.get_size());
}

void RnnBackward::run(const RnnBackwardArgs<float>& a, void* scratch) {
    const char* who = rnn_cell_name(geo_.cell);
    if (a.lengths)
        throw_runtime("{}: oneDNN's RNN primitives have no per-sequence lengths (the reference kernel handles them)", who);
    if (!a.dy || !a.dx) throw_runtime("internal error: {} backward on oneDNN needs dy and dx", who);
    const RnnParams<float>& p = a.params;
    const RnnParamGrads<float>& gr = a.grads;
    w_layer_->to_primitive(p.weight_ih, at(scratch, off_w_layer_));
    w_iter_->to_primitive(p.weight_hh, at(scratch, off_w_iter_));
    fill_bias(geo_, p, reinterpret_cast<float*>(at(scratch, off_bias_)));

    // The primitive accumulates into its weight and bias gradients.
    void* dwl = dw_layer_->bound(at(scratch, off_dw_layer_), gr.weight_ih[0]);
    void* dwi = dw_iter_->bound(at(scratch, off_dw_iter_), gr.weight_hh[0]);
    std::memset(dwl, 0, dw_layer_->bound_bytes());
    std::memset(dwi, 0, dw_iter_->bound_bytes());
    std::memset(at(scratch, off_dbias_), 0, diff_bias_md_.get_size());

    // Absent states: every read-only one (h0, c0, dhn, dcn) shares one zeroed region; absent
    // dh0 and dc0 are written to regions of their own and dropped.
    const std::size_t state_bytes = static_cast<std::size_t>(numel(geo_.state_shape())) * sizeof(float);
    auto region = [&](int i) { return at(scratch, off_states_ + static_cast<std::size_t>(i) * scratch_aligned(state_bytes)); };
    const bool lstm = geo_.has_cell_state();
    if (!a.h0 || !a.dhn || (lstm && (!a.c0 || !a.dcn))) std::memset(region(0), 0, state_bytes);
    auto or_zeros = [&](const float* v) -> const void* { return v ? static_cast<const void*>(v) : region(0); };

    set(args_, DNNL_ARG_SRC_LAYER, a.x);
    set(args_, DNNL_ARG_SRC_ITER, or_zeros(a.h0));
    set(args_, DNNL_ARG_WEIGHTS_LAYER, w_layer_->bound(at(scratch, off_w_layer_), p.weight_ih[0]));
    set(args_, DNNL_ARG_WEIGHTS_ITER, w_iter_->bound(at(scratch, off_w_iter_), p.weight_hh[0]));
    set(args_, DNNL_ARG_BIAS, at(scratch, off_bias_));
    set(args_, DNNL_ARG_DST_LAYER, a.y);
    set(args_, DNNL_ARG_DST_ITER, a.hn);
    set(args_, DNNL_ARG_WORKSPACE, a.workspace);
    set(args_, DNNL_ARG_DIFF_SRC_LAYER, a.dx);
    set(args_, DNNL_ARG_DIFF_SRC_ITER, a.dh0 ? static_cast<void*>(a.dh0) : region(1));
    set(args_, DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl);
    set(args_, DNNL_ARG_DIFF_WEIGHTS_ITER, dwi);
    set(args_, DNNL_ARG_DIFF_BIAS, at(scratch, off_dbias_));
    set(args_, DNNL_ARG_DIFF_DST_LAYER, a.dy);
    set(args_, DNNL_ARG_DIFF_DST_ITER, or_zeros(a.dhn));
    if (lstm) {
        set(args_, DNNL_ARG_SRC_ITER_C, or_zeros(a.c0));
        set(args_, DNNL_ARG_DST_ITER_C, a.cn);
        set(args_, DNNL_ARG_DIFF_SRC_ITER_C, a.dc0 ? static_cast<void*>(a.dc0) : region(2));
        set(args_, DNNL_ARG_DIFF_DST_ITER_C, or_zeros(a.dcn));
    }
    if (scratchpad_bytes_ > 0) set(args_, DNNL_ARG_SCRATCHPAD, scratch);
    prim_.execute(ctx_.stream(), args_);
    ctx_.stream().wait();

    dw_layer_->to_user(dwl, gr.weight_ih);
    dw_iter_->to_user(dwi, gr.weight_hh);
    split_diff_bias(geo_, reinterpret_cast<const float*>(at(scratch, off_dbias_)), gr);
}

std::unique_ptr<RnnForward> make_rnn_forward(Context& ctx, const RnnGeometry& geo, bool training) {
    if (geo.seq == 0 || geo.batch == 0 || geo.input == 0 || geo.hidden == 0) return nullptr;
    try {
        return std::make_unique<RnnForward>(ctx, geo, training);
    } catch (const dnnl::error&) {
        return nullptr;
    }
}

std::unique_ptr<RnnBackward> make_rnn_backward(Context& ctx, const RnnGeometry& geo) {
    if (geo.seq == 0 || geo.batch == 0 || geo.input == 0 || geo.hidden == 0) return nullptr;
    try {
        return std::make_unique<RnnBackward>(ctx, geo);
    } catch (const dnnl::error&) {
        return nullptr;
    }
}

}  // namespace gg::dnn
