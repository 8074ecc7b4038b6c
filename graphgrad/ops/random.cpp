// dropout: inverted dropout with a counter-based mask. Outputs (y, mask) where mask is the
// scaled keep mask (0 or 1/(1−p)), so y = x·mask and the backward is dy·mask, an ordinary
// (differentiable) mul. Element i of run `step` is kept when
//     uniform01(graph seed, node id, step·numel + i) >= p,
// a pure function of (seed, node, run counter): runs are reproducible, independent of the
// thread count, and differ from step to step. Evaluation programs write y = x, mask = 1.
#include "graphgrad/ops/random.h"

#include <cmath>
#include <optional>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/kernels/kernel_util.h"
#include "graphgrad/ops/internal/register_ops.h"

namespace gg {

namespace {

struct DropoutAttrs {
    double p = 0.5;
    // Used by the op's samples only: gradcheck runs the program many times and needs the same
    // mask every run, so samples pin the run counter. Graph code leaves it empty.
    std::optional<uint64_t> fixed_step;
};

std::vector<TensorDesc> infer_dropout(const InferContext& c) {
    const TensorDesc& x = c.input(0);
    if (!is_floating(x.dtype)) throw_shape("input must be floating point, got {}", desc_str(x));
    const double p = c.attrs_as<DropoutAttrs>().p;
    if (!(p >= 0.0 && p <= 1.0)) throw_shape("drop probability p = {} is outside [0, 1]", p);
    return {x, x};
}

// keep ⟺ uniform01(seed, stream, step·n + i) ≥ p. uniform01 is (bits >> 11)·2⁻⁵³, exact in
// double, so this is the integer test (bits >> 11) ≥ ⌈p·2⁵³⌉: same masks, but the loop has
// no integer→double conversion and vectorises (~5× faster).
template <typename T>
void dropout_train(const T* x, T* y, T* mask, int64_t n, double p, uint64_t seed, uint64_t stream, uint64_t step) {
    // p = 1 drops everything (PyTorch returns zeros); 1/(1−p) would be infinite.
    const T keep_scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
    const auto threshold = static_cast<uint64_t>(std::ceil(std::ldexp(p, 53)));
    const uint64_t base = step * static_cast<uint64_t>(n);
    // Captured by value: the loop must not reload its constants after every store, or it does
    // not vectorise. y may alias x (in place); each x[i] is read before y[i] is written.
    parallel_range(n, [=](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
            const uint64_t bits = random_bits(seed, stream, base + static_cast<uint64_t>(i));
            const T m = (bits >> 11) >= threshold ? keep_scale : T(0);
            mask[i] = m;
            y[i] = x[i] * m;
        }
    });
}

std::unique_ptr<Kernel> dropout_kernel(const KernelContext& c) {
    const auto& at = c.attrs_as<DropoutAttrs>();
    const int64_t n = c.inputs[0].numel();
    const bool training = c.training;
    const double p = at.p;
    const std::optional<uint64_t> fixed = at.fixed_step;
    const uint64_t seed = c.seed, stream = static_cast<uint64_t>(c.node.id);
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([=](const KernelArgs& a) {
            const auto* x = static_cast<const T*>(a.inputs[0]);
            auto* y = static_cast<T*>(a.outputs[0]);
            auto* mask = static_cast<T*>(a.outputs[1]);
            if (training) {
                dropout_train(x, y, mask, n, p, seed, stream, fixed.value_or(a.step));
                return;
            }
            parallel_range(n, [&](int64_t b, int64_t e) {
                if (y != x) std::copy(x + b, x + e, y + b);  // in place: nothing to copy
                std::fill(mask + b, mask + e, T(1));
            });
        });
    });
}


}  // namespace

Value dropout(Value x, double p) {
    Graph& g = common_graph("dropout", {x});
    return g.add_node(op_def("dropout"), {x}, DropoutAttrs{p, std::nullopt}).at(0);
}

void register_random_ops(OpRegistry& r) {
    r.define("dropout")
        .arity(1)
        .describe("inverted dropout (training programs): y = x·mask, mask ∈ {0, 1/(1−p)}; identity in evaluation")
        .infer_shape(infer_dropout)
        .attributes<DropoutAttrs>()
        .kernel(dropout_kernel)
        .cost(elementwise_cost(2))  // a draw and a multiply per element
        .receptive_field(pointwise_reach())
        .inplace(0)
        .gradient([](GradContext& g) {  // dx = dy·mask (the mask does not depend on x)
            return InputGrads{g.grad_output(0) * g.output(1)};
        })
        .samples([] {
            return std::vector<OpSample>{
                {"p 0.5", {floating({4, 5})}, DropoutAttrs{0.5, 0}, true},
                {"p 0.2 rank 3", {floating({2, 3, 4})}, DropoutAttrs{0.2, 3}, true},
                {"p 0 keeps everything", {floating({6})}, DropoutAttrs{0.0, 0}, true},
                {"p 1 drops everything", {floating({2, 3})}, DropoutAttrs{1.0, 0}, true},
                {"p 0.5 image", {floating({1, 2, 3, 3})}, DropoutAttrs{0.5, 1}, true},
            };
        })
        .error_samples([] {
            using D = TensorDesc;
            return std::vector<ErrorSample>{
                {"p > 1", {D{{3, 4}}}, DropoutAttrs{1.5, std::nullopt}, "drop probability p = 1.5 is outside [0, 1]"},
                {"p < 0", {D{{3, 4}}}, DropoutAttrs{-0.1, std::nullopt}, "drop probability p = -0.1 is outside [0, 1]"},
                {"integer", {D{{3, 4}, DType::I64}}, DropoutAttrs{0.5, std::nullopt}, "must be floating point, got i64[3,4]"},
            };
        });
}

}  // namespace gg
