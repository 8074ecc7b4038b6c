// Checks the user-written group_norm: its values against plain loops, its gradients (first
// and second order, every input) against central differences with gg::gradcheck_function,
// and that it trains inside a compiled graph. Exits 1 on any failure.
#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <graphgrad/graphgrad.h>

#include "group_norm.h"

namespace {

gg::Tensor random_tensor(gg::Shape shape, uint64_t seed, double lo = -2, double hi = 2) {
    gg::Tensor t = gg::Tensor::zeros(std::move(shape), gg::DType::F64);
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (int64_t i = 0; i < t.numel(); ++i) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        t.set(i, lo + (hi - lo) * static_cast<double>(s >> 11) / 9007199254740992.0);
    }
    return t;
}

// Plain loops: the definition the graph code must reproduce.
std::vector<double> group_norm_loops(const gg::Tensor& x, int64_t groups, const gg::Tensor& gamma,
                                     const gg::Tensor& beta, double eps) {
    const int64_t n = x.shape()[0], c = x.shape()[1], hw = x.shape()[2] * x.shape()[3], cg = c / groups;
    std::vector<double> y(static_cast<std::size_t>(x.numel()));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t g = 0; g < groups; ++g) {
            const int64_t base = (i * c + g * cg) * hw, count = cg * hw;
            double mean = 0, var = 0;
            for (int64_t k = 0; k < count; ++k) mean += x.get(base + k);
            mean /= static_cast<double>(count);
            for (int64_t k = 0; k < count; ++k) var += (x.get(base + k) - mean) * (x.get(base + k) - mean);
            var /= static_cast<double>(count);
            for (int64_t k = 0; k < count; ++k) {
                const int64_t ch = g * cg + k / hw;
                y[static_cast<std::size_t>(base + k)] =
                    (x.get(base + k) - mean) / std::sqrt(var + eps) * gamma.get(ch) + beta.get(ch);
            }
        }
    return y;
}

}  // namespace

int main() {
    int failures = 0;
    const gg::Tensor x = random_tensor({2, 6, 3, 4}, 1), gamma = random_tensor({6}, 2, 0.5, 1.5),
                     beta = random_tensor({6}, 3);

    // 1. Values against the loops.
    {
        gg::Graph g;
        gg::Value xv = g.input("x", x.shape(), gg::DType::F64);
        gg::Value gv = g.input("gamma", {6}, gg::DType::F64), bv = g.input("beta", {6}, gg::DType::F64);
        gg::CompiledGraph prog = gg::compile(g, {group_norm(xv, 3, gv, bv)});
        gg::Tensor y = prog.run({{xv, x}, {gv, gamma}, {bv, beta}})[0];
        std::vector<double> want = group_norm_loops(x, 3, gamma, beta, 1e-5);
        double worst = 0;
        for (int64_t i = 0; i < y.numel(); ++i) worst = std::max(worst, std::abs(y.get(i) - want[static_cast<std::size_t>(i)]));
        fmt::print("values: max |graph - loops| = {:.3g}\n", worst);
        failures += worst > 1e-12;
    }

    // 2. Gradients of every input, first and second order, against central differences.
    auto f = [](gg::Graph&, const std::vector<gg::Value>& in) {
        return std::vector<gg::Value>{group_norm(in[0], 3, in[1], in[2])};
    };
    for (const gg::GradcheckResult& r : gg::gradcheck_function("group_norm", "2x6x3x4, 3 groups", f, {x, gamma, beta},
                                                               {true, true, true})) {
        fmt::print("gradcheck: {}\n", r.describe());
        failures += !r.passed;
    }

    // 3. Bad shapes are rejected where the op is written.
    {
        gg::Graph g;
        gg::Value xv = g.input("x", {2, 6, 3, 4});
        try {
            group_norm(xv, 4, g.input("gamma", {6}), g.input("beta", {6}));
            fmt::print("6 channels in 4 groups was accepted\n");
            ++failures;
        } catch (const gg::ShapeError& e) {
            fmt::print("rejected as expected: {}\n", e.what());
        }
    }

    // 4. It trains: fit gamma and beta so the normalised input matches a target.
    {
        gg::Graph g(5);
        gg::Value xv = g.input("x", {8, 4, 5, 5});
        gg::Value gm = g.parameter("gn.weight", {4}, gg::init::ones()), bt = g.parameter("gn.bias", {4}, gg::init::zeros());
        gg::Value target = g.input("target", {8, 4, 5, 5});
        gg::Value loss = gg::mse(group_norm(xv, 2, gm, bt), target);
        std::vector<gg::Value> grads = gg::grad(loss, {gm, bt});
        gg::CompiledGraph step = gg::compile(g, {loss, grads[0], grads[1]});
        gg::optim::Adam opt(g, {gm, bt}, {.lr = 0.05});
        gg::Tensor xs = random_tensor({8, 4, 5, 5}, 9).cast(gg::DType::F32);
        gg::Tensor ts = gg::Tensor::zeros({8, 4, 5, 5});
        double first = 0, last = 0;
        for (int s = 0; s < 200; ++s) {
            auto out = step.run({{xv, xs}, {target, ts}});
            if (s == 0) first = out[0].get(0);
            last = out[0].get(0);
            opt.step({out[1], out[2]});
        }
        fmt::print("training: mse {:.4f} -> {:.6f}\n", first, last);
        failures += !(last < 1e-3 * first);
    }
    fmt::print("{}\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
