#include "graphgrad/ops/linalg.h"

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/broadcast.h"
#include "graphgrad/ops/dnn/matmul.h"
#include "graphgrad/ops/reference/matmul.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/shape_ops.h"

namespace gg {

// Node attributes of "matmul": read an operand's last two dims swapped (no copy is made).
struct MatmulAttrs {
    bool transpose_a = false;
    bool transpose_b = false;
};

Value matmul(Value a, Value b, const std::string& name) { return matmul(a, b, false, false, name); }

Value matmul(Value a, Value b, bool transpose_a, bool transpose_b, const std::string& name) {
    Graph& g = common_graph("matmul", {a, b});
    return g.add_node1(op_def("matmul"), {a, b}, MatmulAttrs{transpose_a, transpose_b}, name);
}

namespace {

std::string transpose_note(const MatmulAttrs& at) {
    if (at.transpose_a && at.transpose_b) return " (transpose_a, transpose_b)";
    if (at.transpose_a) return " (transpose_a)";
    if (at.transpose_b) return " (transpose_b)";
    return {};
}

// a [..., M, K] x b [..., K, N] → [..., M, N]; batch dims broadcast NumPy-style.
std::vector<TensorDesc> infer_matmul(const InferContext& c) {
    const auto& at = c.attrs_as<MatmulAttrs>();
    const TensorDesc &a = c.input(0), &b = c.input(1);
    const std::string as = shape_str(a.shape), bs = shape_str(b.shape);
    if (a.rank() < 2 || b.rank() < 2)
        throw_shape("operands need rank >= 2 (a matrix or a batch of them), got {} x {}", as, bs);
    if (!is_floating(a.dtype) || a.dtype != b.dtype)
        throw_shape("operand dtypes must be the same floating type, got {} x {}", desc_str(a), desc_str(b));
    const std::size_t ra = a.shape.size(), rb = b.shape.size();
    const int64_t m = at.transpose_a ? a.shape[ra - 1] : a.shape[ra - 2];
    const int64_t ka = at.transpose_a ? a.shape[ra - 2] : a.shape[ra - 1];
    const int64_t kb = at.transpose_b ? b.shape[rb - 1] : b.shape[rb - 2];
    const int64_t n = at.transpose_b ? b.shape[rb - 2] : b.shape[rb - 1];
    if (ka != kb) throw_shape("inner dimensions differ: {} x {}{}", as, bs, transpose_note(at));

    const std::size_t nb = std::max(ra, rb) - 2;
    Shape out(nb, 1);
    for (std::size_t i = 0; i < nb; ++i) {  // i counts batch dims from the innermost
        const int64_t da = i < ra - 2 ? a.shape[ra - 3 - i] : 1;
        const int64_t db = i < rb - 2 ? b.shape[rb - 3 - i] : 1;
        if (da != db && da != 1 && db != 1)
            throw_shape("batch dimensions do not broadcast: {} x {}", as, bs);
        out[nb - 1 - i] = da == 1 ? db : da;
    }
    out.push_back(m);
    out.push_back(n);
    return {TensorDesc{out, a.dtype}};
}

MatmulGeometry geometry_of(const KernelContext& c) {
    const auto& at = c.attrs_as<MatmulAttrs>();
    return matmul_geometry(c.inputs[0].shape, c.inputs[1].shape, at.transpose_a, at.transpose_b);
}

std::unique_ptr<Kernel> matmul_onednn(const KernelContext& c) {
    if (c.inputs[0].dtype != DType::F32) return nullptr;  // no f64 in oneDNN: reference runs
    return dnn::make_matmul_kernel(c.resources, geometry_of(c));
}

std::unique_ptr<Kernel> matmul_reference(const KernelContext& c) {
    const MatmulGeometry geo = geometry_of(c);
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([geo](const KernelArgs& a) {
            reference::matmul<T>(geo, static_cast<const T*>(a.inputs[0]), static_cast<const T*>(a.inputs[1]),
                                 static_cast<T*>(a.outputs[0]));
        });
    });
}

// With A' = op(A), B' = op(B) (op: transpose or not) and Y = A'·B':
//   dA' = dY·B'ᵀ and dB' = A'ᵀ·dY; a transposed operand gets the transpose of that, which is
// again a single matmul with the flags chosen below (no transpose op). Batch dims an operand
// was broadcast over are summed back with sum_to.
InputGrads matmul_gradient(GradContext& g) {
    const auto& at = g.attrs<MatmulAttrs>();
    const bool ta = at.transpose_a, tb = at.transpose_b;
    Value a = g.input(0), b = g.input(1), dy = g.grad_output(0);

    // dA = dY·B'ᵀ, or with transpose_a (dA')ᵀ = B'·dYᵀ
    std::optional<Value> da;
    if (g.needs_input_grad(0)) da = sum_to(ta ? matmul(b, dy, tb, true) : matmul(dy, b, false, !tb), a.shape());
    if (!g.needs_input_grad(1)) return {da, std::nullopt};

    Value db;
    if (b.rank() == 2 && a.rank() > 2 && !ta) {
        // x·W with a shared 2-D W: fold the batch into rows, one GEMM instead of a batched
        // product plus a reduction: dB = Σ_batch A_iᵀ·dY_i = A₂ᵀ·dY₂ with A₂ = [B·M, K].
        Value a2 = reshape(a, {-1, a.dim(-1)});
        Value dy2 = reshape(dy, {-1, dy.dim(-1)});
        db = tb ? matmul(dy2, a2, true, false) : matmul(a2, dy2, true, false);
    } else {
        // dB = A'ᵀ·dY, or with transpose_b (dB')ᵀ = dYᵀ·A'
        db = tb ? matmul(dy, a, true, ta) : matmul(a, dy, !ta, false);
    }
    return {da, sum_to(db, b.shape())};
}

// Σ_k A_kᵀ·B_k over 2-D operands of one shape is one product of the row-wise concatenations,
// [K·M, P]ᵀ · [K·M, Q]: what grad() folds a recurrent weight's per-step gradients into. Any
// other partials (other flags, batched operands, mixed shapes) stay as they are, and so do
// partials of kFoldRows rows or more: such a GEMM is efficient alone, and the concatenations
// would hold K of its operands at once (an LSTM's input projection in chunks of 8 steps × 16
// rows: the whole [T·N, 4H] projection gradient, the largest buffer of a checkpointed step).
std::optional<Value> matmul_fold_sum(Graph& g, const std::vector<Value>& parts) {
    constexpr int64_t kFoldRows = 128;
    std::vector<Value> as, bs;
    const Node& first = g.node(parts[0].node);
    if (first.inputs[0].rank() == 2 && first.inputs[0].dim(0) >= kFoldRows) return std::nullopt;
    for (const Value& p : parts) {
        const Node& n = g.node(p.node);
        const auto& at = node_attributes<MatmulAttrs>(n);
        const Value &a = n.inputs[0], &b = n.inputs[1];
        if (!at.transpose_a || at.transpose_b || a.rank() != 2 || b.rank() != 2 ||
            a.desc() != first.inputs[0].desc() || b.desc() != first.inputs[1].desc())
            return std::nullopt;
        as.push_back(a);
        bs.push_back(b);
    }
    return matmul(concat(as, 0), concat(bs, 0), true, false);
}

OpSample mm(std::string label, Shape a, Shape b, bool ta = false, bool tb = false) {
    return OpSample{std::move(label), {floating(std::move(a)), floating(std::move(b))},
                    MatmulAttrs{ta, tb}, true};
}

std::vector<OpSample> matmul_samples() {
    return {
        mm("2d", {3, 4}, {4, 5}),
        mm("2d_odd_sizes", {5, 7}, {7, 9}),
        mm("vector_like", {1, 6}, {6, 1}),
        mm("batched_3d", {2, 3, 4}, {2, 4, 5}),
        mm("batched_4d", {2, 2, 3, 4}, {2, 2, 4, 3}),
        mm("broadcast_batch", {2, 1, 3, 4}, {3, 4, 2}),
        mm("broadcast_batch_size1_b", {2, 3, 4}, {1, 4, 5}),
        mm("shared_2d_b", {2, 3, 4}, {4, 5}),
        mm("shared_2d_b_4d_a", {2, 2, 3, 4}, {4, 3}),
        mm("shared_2d_a", {3, 4}, {2, 4, 5}),
        mm("transpose_a", {4, 3}, {4, 5}, true, false),
        mm("transpose_b", {3, 4}, {5, 4}, false, true),
        mm("transpose_both", {4, 3}, {5, 4}, true, true),
        mm("batched_transpose_a", {2, 5, 3}, {2, 5, 7}, true, false),
        mm("batched_transpose_b", {2, 3, 5}, {2, 7, 5}, false, true),
        mm("batched_transpose_both", {2, 5, 3}, {2, 7, 5}, true, true),
        mm("shared_2d_b_transpose_b", {2, 3, 5}, {7, 5}, false, true),
        mm("shared_2d_b_transpose_a", {2, 5, 3}, {5, 7}, true, false),
        mm("broadcast_transpose_both", {2, 1, 5, 3}, {3, 7, 5}, true, true),
    };
}

std::vector<ErrorSample> matmul_error_samples() {
    using D = TensorDesc;
    return {
        {"inner_dims", {D{{64, 784}}, D{{512, 256}}}, MatmulAttrs{}, "inner dimensions differ: [64,784] x [512,256]"},
        {"inner_dims_transposed", {D{{3, 4}}, D{{4, 5}}}, MatmulAttrs{false, true}, "inner dimensions differ: [3,4] x [4,5] (transpose_b)"},
        {"rank_1", {D{{3}}, D{{3, 4}}}, MatmulAttrs{}, "rank >= 2"},
        {"batch_mismatch", {D{{2, 3, 4}}, D{{3, 4, 5}}}, MatmulAttrs{}, "batch dimensions do not broadcast: [2,3,4] x [3,4,5]"},
        {"dtype_mismatch", {D{{3, 4}, DType::F32}, D{{4, 5}, DType::F64}}, MatmulAttrs{}, "f32[3,4] x f64[4,5]"},
        {"integer", {D{{3, 4}, DType::I64}, D{{4, 5}, DType::I64}}, MatmulAttrs{}, "same floating type"},
    };
}

}  // namespace

void register_linalg_ops(OpRegistry& r) {
    r.define("matmul")
        .arity(2)
        .describe("a[..., M, K] · b[..., K, N] with transpose flags and broadcast batch dims (oneDNN f32)")
        .infer_shape(infer_matmul)
        .attributes<MatmulAttrs>()
        .fast_kernel(matmul_onednn)
        .reference(matmul_reference)
        .gradient(matmul_gradient)  // dA = dY·Bᵀ, dB = Aᵀ·dY (flags absorb transposes)
        .fold_sum(matmul_fold_sum)
        .cost([](const RuleContext& c) {  // every output element is a K-long dot product
            const Shape& a = c.input(0).shape;
            const int64_t k = c.attrs_as<MatmulAttrs>().transpose_a ? a[a.size() - 2] : a.back();
            return OpCost{.macs = c.output(0).numel() * k, .bytes_read = c.input_bytes(), .bytes_written = c.output_bytes()};
        })
        .samples(matmul_samples)
        .error_samples(matmul_error_samples);
}

}  // namespace gg
