#include "graphgrad/graph/gradcheck_op.h"

#include <cmath>

#include "graphgrad/graph/autodiff.h"
#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/rng.h"

namespace gg {

std::string GradcheckResult::describe() const {
    std::string head = fmt::format("{} {} {} order {} ({})", passed ? "ok  " : "FAIL", op, sample, order, mode);
    if (!error.empty()) return fmt::format("{}: error: {}", head, error);
    return fmt::format("{}: worst input {} index {}: analytic {:.10g} numeric {:.10g} (abs err {:.3g}, rel err {:.3g}; "
                       "tolerance |a-n| <= {:g} + {:g}*max(|a|,|n|)), {} runs",
                       head, input, index, analytic, numeric, max_abs_error, max_rel_error, atol, rtol, evaluations);
}

namespace {

Tensor random_like(const Tensor& t, uint64_t seed, uint64_t stream) {
    Tensor r(TensorDesc{t.shape(), DType::F64});
    for (int64_t i = 0; i < r.numel(); ++i) r.set(i, standard_normal(seed, stream, static_cast<uint64_t>(i)));
    return r;
}

double dot(const Tensor& a, const Tensor& b) {
    double s = 0;
    for (int64_t i = 0; i < a.numel(); ++i) s += a.get(i) * b.get(i);
    return s;
}

// Compares analytic against numeric values and keeps the worst element.
struct Tally {
    GradcheckResult& r;
    double worst_ratio = -1;
    void compare(int input, int64_t index, double analytic, double numeric) {
        double abs_err = std::abs(analytic - numeric);
        double scale = std::max(std::abs(analytic), std::abs(numeric));
        double ratio = abs_err / (r.atol + r.rtol * scale);
        r.max_abs_error = std::max(r.max_abs_error, abs_err);
        r.max_rel_error = std::max(r.max_rel_error, scale > 0 ? abs_err / scale : 0.0);
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            r.input = input;
            r.index = index;
            r.analytic = analytic;
            r.numeric = numeric;
        }
        if (ratio > 1.0) r.passed = false;
    }
};

// The program under test: f's floating outputs, their vector-Jacobian products with fed
// cotangents, and (for second order) the gradient of <vjp, u> with fed u.
struct Harness {
    Graph g;
    std::vector<Value> xs, ys, cts, wrt, vjps, us, hvps;
    std::vector<int> wrt_index;  // position of each wrt value in xs
    std::vector<Tensor> x_values, ct_values, u_values;

    Feeds feeds(const std::vector<Tensor>& x) const {
        Feeds f;
        for (std::size_t i = 0; i < xs.size(); ++i) f.emplace_back(xs[i], x[i]);
        for (std::size_t j = 0; j < cts.size(); ++j) f.emplace_back(cts[j], ct_values[j]);
        for (std::size_t j = 0; j < us.size(); ++j) f.emplace_back(us[j], u_values[j]);
        return f;
    }
};

std::vector<Tensor> clone_all(const std::vector<Tensor>& ts, std::size_t from, std::size_t count) {
    std::vector<Tensor> out;
    for (std::size_t i = from; i < from + count; ++i) out.push_back(ts[i].clone());
    return out;
}

void check_first_order(Harness& h, const GradcheckOptions& o, GradcheckResult& r) {
    CompileOptions copts;
    copts.reference_kernels = true;
    std::vector<Value> fetches = h.ys;
    fetches.insert(fetches.end(), h.vjps.begin(), h.vjps.end());
    CompiledGraph prog = compile(h.g, fetches, copts);
    const std::size_t ny = h.ys.size(), nw = h.wrt.size();
    auto outputs_at = [&](const std::vector<Tensor>& x) {
        ++r.evaluations;
        return clone_all(prog.run(h.feeds(x)), 0, ny);
    };
    auto vjp_at = [&](const std::vector<Tensor>& x) {
        ++r.evaluations;
        return clone_all(prog.run(h.feeds(x)), ny, nw);
    };
    int64_t total_in = 0, total_out = 0;
    for (const Value& w : h.wrt) total_in += w.numel();
    for (const Value& y : h.ys) total_out += y.numel();
    Tally tally{r};

    if (total_in * total_out <= o.full_jacobian_limit) {
        r.mode = "jacobian";
        // Analytic rows: one vjp per output element with a one-hot cotangent.
        std::vector<std::vector<double>> J(static_cast<std::size_t>(total_out), std::vector<double>(static_cast<std::size_t>(total_in)));
        int64_t row = 0;
        for (std::size_t j = 0; j < ny; ++j)
            for (int64_t e = 0; e < h.ys[j].numel(); ++e, ++row) {
                for (auto& c : h.ct_values) c.fill(0.0);
                h.ct_values[j].set(e, 1.0);
                auto g = vjp_at(h.x_values);
                int64_t col = 0;
                for (const auto& gi : g)
                    for (int64_t k = 0; k < gi.numel(); ++k) J[static_cast<std::size_t>(row)][static_cast<std::size_t>(col++)] = gi.get(k);
            }
        // Numeric columns: central differences per input element.
        int64_t col = 0;
        for (std::size_t w = 0; w < nw; ++w) {
            auto xi = static_cast<std::size_t>(h.wrt_index[w]);
            for (int64_t k = 0; k < h.x_values[xi].numel(); ++k, ++col) {
                std::vector<Tensor> xp = h.x_values, xm = h.x_values;
                xp[xi] = h.x_values[xi].clone();
                xm[xi] = h.x_values[xi].clone();
                xp[xi].set(k, xp[xi].get(k) + o.eps);
                xm[xi].set(k, xm[xi].get(k) - o.eps);
                auto yp = outputs_at(xp), ym = outputs_at(xm);
                int64_t rr = 0;
                for (std::size_t j = 0; j < ny; ++j)
                    for (int64_t e = 0; e < yp[j].numel(); ++e, ++rr) {
                        double numeric = (yp[j].get(e) - ym[j].get(e)) / (2 * o.eps);
                        tally.compare(static_cast<int>(h.wrt_index[w]), k, J[static_cast<std::size_t>(rr)][static_cast<std::size_t>(col)], numeric);
                    }
            }
        }
        return;
    }
    r.mode = "directional";
    for (int d = 0; d < o.directions; ++d) {
        for (std::size_t j = 0; j < ny; ++j) h.ct_values[j] = random_like(h.ct_values[j], o.seed + static_cast<uint64_t>(d), 100 + j);
        std::vector<Tensor> v;
        for (std::size_t w = 0; w < nw; ++w)
            v.push_back(random_like(h.x_values[static_cast<std::size_t>(h.wrt_index[w])], o.seed + static_cast<uint64_t>(d), 200 + w));
        auto g = vjp_at(h.x_values);
        double analytic = 0;
        for (std::size_t w = 0; w < nw; ++w) analytic += dot(g[w], v[w]);
        auto shifted = [&](double sign) {
            std::vector<Tensor> x = h.x_values;
            for (std::size_t w = 0; w < nw; ++w) {
                auto xi = static_cast<std::size_t>(h.wrt_index[w]);
                x[xi] = h.x_values[xi].clone();
                for (int64_t k = 0; k < x[xi].numel(); ++k) x[xi].set(k, x[xi].get(k) + sign * o.eps * v[w].get(k));
            }
            auto y = outputs_at(x);
            double s = 0;
            for (std::size_t j = 0; j < ny; ++j) s += dot(y[j], h.ct_values[j]);
            return s;
        };
        tally.compare(-1, d, analytic, (shifted(1) - shifted(-1)) / (2 * o.eps));
    }
}

void check_second_order(Harness& h, const GradcheckOptions& o, GradcheckResult& r) {
    CompileOptions copts;
    copts.reference_kernels = true;
    std::vector<Value> fetches = h.vjps;
    fetches.insert(fetches.end(), h.hvps.begin(), h.hvps.end());
    CompiledGraph prog = compile(h.g, fetches, copts);
    const std::size_t nw = h.wrt.size();
    for (std::size_t j = 0; j < h.ys.size(); ++j) h.ct_values[j] = random_like(h.ct_values[j], o.seed, 300 + j);
    for (std::size_t w = 0; w < nw; ++w) h.u_values[w] = random_like(h.u_values[w], o.seed, 400 + w);
    // G(x) = Σ <vjp_w(x), u_w>; its gradient is the hvp fetch.
    auto G = [&](const std::vector<Tensor>& x) {
        ++r.evaluations;
        auto out = prog.run(h.feeds(x));
        double s = 0;
        for (std::size_t w = 0; w < nw; ++w) s += dot(out[w], h.u_values[w]);
        return s;
    };
    ++r.evaluations;
    auto analytic = clone_all(prog.run(h.feeds(h.x_values)), nw, nw);
    int64_t total_in = 0;
    for (const Value& w : h.wrt) total_in += w.numel();
    Tally tally{r};
    if (total_in <= o.full_jacobian_limit / 4) {
        r.mode = "jacobian";
        for (std::size_t w = 0; w < nw; ++w) {
            auto xi = static_cast<std::size_t>(h.wrt_index[w]);
            for (int64_t k = 0; k < h.x_values[xi].numel(); ++k) {
                std::vector<Tensor> xp = h.x_values, xm = h.x_values;
                xp[xi] = h.x_values[xi].clone();
                xm[xi] = h.x_values[xi].clone();
                xp[xi].set(k, xp[xi].get(k) + o.eps);
                xm[xi].set(k, xm[xi].get(k) - o.eps);
                tally.compare(static_cast<int>(xi), k, analytic[w].get(k), (G(xp) - G(xm)) / (2 * o.eps));
            }
        }
        return;
    }
    r.mode = "directional";
    for (int d = 0; d < o.directions; ++d) {
        double a = 0;
        std::vector<Tensor> xp = h.x_values, xm = h.x_values;
        for (std::size_t w = 0; w < nw; ++w) {
            auto xi = static_cast<std::size_t>(h.wrt_index[w]);
            Tensor v = random_like(h.x_values[xi], o.seed + static_cast<uint64_t>(d), 500 + w);
            a += dot(analytic[w], v);
            xp[xi] = h.x_values[xi].clone();
            xm[xi] = h.x_values[xi].clone();
            for (int64_t k = 0; k < v.numel(); ++k) {
                xp[xi].set(k, xp[xi].get(k) + o.eps * v.get(k));
                xm[xi].set(k, xm[xi].get(k) - o.eps * v.get(k));
            }
        }
        tally.compare(-1, d, a, (G(xp) - G(xm)) / (2 * o.eps));
    }
}

}  // namespace

std::vector<GradcheckResult> gradcheck_function(const std::string& op, const std::string& sample, const GraphFunction& f,
                                                const std::vector<Tensor>& inputs,
                                                const std::vector<bool>& differentiable,
                                                const GradcheckOptions& options) {
    auto fresh = [&](int order) {
        GradcheckResult r;
        r.op = op;
        r.sample = sample;
        r.order = order;
        r.passed = true;
        r.atol = options.atol;
        r.rtol = options.rtol;
        return r;
    };
    std::vector<GradcheckResult> results{fresh(1)};
    Harness h;
    try {
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            bool fl = is_floating(inputs[i].dtype());
            h.x_values.push_back(fl ? inputs[i].cast(DType::F64) : inputs[i].clone());
            h.xs.push_back(h.g.input(fmt::format("x{}", i), inputs[i].shape(), fl ? DType::F64 : inputs[i].dtype()));
            if (fl && (i >= differentiable.size() || differentiable[i])) {
                h.wrt.push_back(h.xs.back());
                h.wrt_index.push_back(static_cast<int>(i));
            }
        }
        for (const Value& y : f(h.g, h.xs))
            if (is_floating(y.dtype())) h.ys.push_back(y);
        if (h.ys.empty()) throw GraphError("the function has no floating-point output");
        if (h.wrt.empty()) throw GraphError("the function has no differentiable input");
        for (std::size_t j = 0; j < h.ys.size(); ++j) {
            h.cts.push_back(h.g.input(fmt::format("ct{}", j), h.ys[j].shape(), DType::F64));
            h.ct_values.push_back(Tensor::zeros(h.ys[j].shape(), DType::F64));
        }
        h.vjps = grad(h.ys, h.wrt, h.cts);
        check_first_order(h, options, results[0]);
    } catch (const std::exception& e) {
        results[0].passed = false;
        results[0].error = e.what();
        return results;
    }
    if (!options.second_order) return results;
    results.push_back(fresh(2));
    try {
        for (std::size_t w = 0; w < h.wrt.size(); ++w) {
            h.us.push_back(h.g.input(fmt::format("u{}", w), h.wrt[w].shape(), DType::F64));
            h.u_values.push_back(Tensor::zeros(h.wrt[w].shape(), DType::F64));
        }
        h.hvps = grad(h.vjps, h.wrt, h.us);
        check_second_order(h, options, results[1]);
    } catch (const std::exception& e) {
        results[1].passed = false;
        results[1].error = e.what();
    }
    return results;
}

std::vector<GradcheckResult> gradcheck_op(const OpDef& op, const GradcheckOptions& options) {
    std::vector<GradcheckResult> out;
    if (!op.differentiable() || !op.make_samples) return out;
    auto samples = op.make_samples();
    for (std::size_t s = 0; s < samples.size(); ++s) {
        const OpSample& sample = samples[s];
        std::vector<Tensor> inputs;
        std::vector<bool> diff;
        for (std::size_t i = 0; i < sample.inputs.size(); ++i) {
            inputs.push_back(make_sample_tensor(sample.inputs[i], DType::F64, options.seed + 17 * s + i));
            diff.push_back(op.input_differentiable(static_cast<int>(i)));
        }
        GradcheckOptions o = options;
        o.second_order = options.second_order && sample.second_order;
        // Workspace outputs are bytes only the op's kernels read: not values to differentiate.
        auto f = [&](Graph& g, const std::vector<Value>& xs) {
            std::vector<Value> outs;
            for (const Value& y : g.add_node(op, xs, sample.attrs))
                if (!op.is_workspace_output(y.slot)) outs.push_back(y);
            return outs;
        };
        std::string label = sample.label.empty() ? fmt::format("sample {}", s) : sample.label;
        for (auto& r : gradcheck_function(op.name, label, f, inputs, diff, o)) out.push_back(std::move(r));
    }
    return out;
}

}  // namespace gg
