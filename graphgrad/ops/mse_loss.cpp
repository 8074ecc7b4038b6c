// Mean squared error as a registered op with its own backward op (PyTorch's mse_loss and
// mse_loss_backward), not the composite mean((p − t)²). Why: the composite's backward builds
// mean's broadcast gradient, both products of d·d's rule and their sum — four tensors of the
// prediction's size at once. For an LSTM over 1000 steps that is four [T, N, H] tensors next to
// the recurrence, the largest part of the memory a checkpointed training step needs. Here the
// backward is one node writing one tensor: dp = 2·(p − t)·dy / n.
#include <cmath>
#include <limits>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/ops/loss.h"
#include "graphgrad/ops/reduction.h"

namespace gg {

namespace {

// Prediction and target: one shape, one floating dtype (broadcasting would silently turn a
// [N] vs [N, 1] slip into an [N, N] loss, as in PyTorch's warning).
void check_pair(const TensorDesc& p, const TensorDesc& t) {
    if (!is_floating(p.dtype)) throw_shape("prediction must be floating point, got {}", desc_str(p));
    if (p != t)
        throw_shape("prediction {} and target {} must have the same shape and dtype (no broadcasting)", desc_str(p),
                    desc_str(t));
}

std::vector<TensorDesc> infer_mse(const InferContext& c) {
    check_pair(c.input(0), c.input(1));
    return {TensorDesc{{}, c.input(0).dtype}};
}

std::vector<TensorDesc> infer_mse_backward(const InferContext& c) {
    check_pair(c.input(0), c.input(1));
    if (c.input(2) != TensorDesc{{}, c.input(0).dtype})
        throw_shape("the loss gradient must be a scalar of the prediction's dtype {}, got {}", dtype_name(c.input(0).dtype),
                    desc_str(c.input(2)));
    return {c.input(0)};
}

// Σ (p − t)² / n, summed in double; n = 0 gives NaN (PyTorch's mean of nothing).
std::unique_ptr<Kernel> mse_factory(const KernelContext& c) {
    const int64_t n = c.inputs[0].numel();
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([n](const KernelArgs& a) {
            const T* p = static_cast<const T*>(a.inputs[0]);
            const T* t = static_cast<const T*>(a.inputs[1]);
            double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static) if (n > kParallelGrain)
            for (int64_t i = 0; i < n; ++i) {
                const double d = static_cast<double>(p[i]) - static_cast<double>(t[i]);
                total += d * d;
            }
            static_cast<T*>(a.outputs[0])[0] =
                n == 0 ? std::numeric_limits<T>::quiet_NaN() : static_cast<T>(total / static_cast<double>(n));
        });
    });
}

// dp = (p − t) · (2·dy / n).
std::unique_ptr<Kernel> mse_backward_factory(const KernelContext& c) {
    const int64_t n = c.inputs[0].numel();
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([n](const KernelArgs& a) {
            const T* p = static_cast<const T*>(a.inputs[0]);
            const T* t = static_cast<const T*>(a.inputs[1]);
            const T s = static_cast<T>(2.0 * static_cast<double>(static_cast<const T*>(a.inputs[2])[0]) / static_cast<double>(n));
            T* out = static_cast<T*>(a.outputs[0]);
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
            for (int64_t i = 0; i < n; ++i) out[i] = (p[i] - t[i]) * s;
        });
    });
}

Value mse_backward(Value p, Value t, Value dy) {
    Graph& g = common_graph("mse_backward", {p, t, dy});
    return g.add_node1(op_def("mse_backward"), {p, t, dy});
}

InputGrads mse_gradient(GradContext& g) {
    Value dp = mse_backward(g.input(0), g.input(1), g.grad_output(0));
    return {dp, g.needs_input_grad(1) ? std::optional<Value>(-dp) : std::nullopt};
}

// Second order, as composites (rare; broadcasts are fine here): with s = 2/n,
// d(dp)/dp · G = s·dy·G, d/dt = −that, d/d(dy) = s·Σ G·(p − t).
InputGrads mse_backward_gradient(GradContext& g) {
    Value p = g.input(0), t = g.input(1), dy = g.input(2), G = g.grad_output(0);
    const double s = 2.0 / static_cast<double>(std::max<int64_t>(1, p.desc().numel()));
    Value gp = G * (dy * s);
    return {gp, g.needs_input_grad(1) ? std::optional<Value>(-gp) : std::nullopt,
            g.needs_input_grad(2) ? std::optional<Value>(sum(G * (p - t)) * s) : std::nullopt};
}

std::vector<ErrorSample> pair_errors(std::vector<TensorDesc> extra) {
    using D = TensorDesc;
    auto with = [&](std::vector<D> v) {
        v.insert(v.end(), extra.begin(), extra.end());
        return v;
    };
    return {
        {"shape_mismatch", with({D{{2, 2}}, D{{2, 1}}}), std::any{}, "prediction f32[2,2] and target f32[2,1] must have the same shape"},
        {"dtype_mismatch", with({D{{3}}, D{{3}, DType::F64}}), std::any{}, "must have the same shape and dtype"},
        {"integer", with({D{{3}, DType::I64}, D{{3}, DType::I64}}), std::any{}, "prediction must be floating point"},
    };
}

}  // namespace

// The shape rule (check_pair) refuses unequal shapes when the node is added.
Value mse(Value prediction, Value target) {
    return common_graph("mse", {prediction, target}).add_node1(op_def("mse"), {prediction, target});
}

void register_mse_ops(OpRegistry& r) {
    r.define("mse")
        .arity(2)
        .describe("mean over all elements of (prediction − target)², summed in double; shapes equal")
        .infer_shape(infer_mse)
        .kernel(mse_factory)
        .cost(reduction_cost(3))  // a difference, a square and a sum per element
        .gradient(mse_gradient)   // dp = 2·(p − t)·dy/n (mse_backward), dt = −dp
        .samples([] {
            return std::vector<OpSample>{
                {"matrix", {floating({3, 4}), floating({3, 4})}, std::any{}, true},
                {"sequence", {floating({2, 3, 2}), floating({2, 3, 2})}, std::any{}, true},
                {"scalar", {floating({}), floating({})}, std::any{}, true},
            };
        })
        .error_samples([] { return pair_errors({}); });

    r.define("mse_backward")
        .arity(3)
        .describe("mse's gradient: (prediction − target)·2·dy/n, dy the loss gradient (a scalar)")
        .infer_shape(infer_mse_backward)
        .kernel(mse_backward_factory)
        .cost(elementwise_cost(2))
        // In place of a dying prediction: an LSTM's [T, N, H] output is read last by this node,
        // and its gradient then needs no second block of that size.
        .inplace(0)
        .gradient(mse_backward_gradient)
        .samples([] {
            return std::vector<OpSample>{
                {"matrix", {floating({3, 4}), floating({3, 4}), floating({})}, std::any{}, true},
                {"sequence", {floating({2, 3, 2}), floating({2, 3, 2}), floating({})}, std::any{}, true},
            };
        })
        .error_samples([] {
            std::vector<ErrorSample> e = pair_errors({TensorDesc{{}}});
            e.push_back({"dy_not_scalar", {TensorDesc{{3}}, TensorDesc{{3}}, TensorDesc{{3}}}, std::any{},
                         "the loss gradient must be a scalar of the prediction's dtype f32, got f32[3]"});
            return e;
        });
}

}  // namespace gg
