// A registry-wide check of LayoutUse::Elementwise: such an op runs on the raw elements of a
// blocked layout, padding included, so it must map zeros to zeros (f(0) = 0, f(0, 0) = 0) or
// it would write non-zero padding that the next convolution or batch norm reads. Every op so
// tagged is run on all-zero floating inputs of each of its samples, fast and reference
// kernels, f32 and f64; a wrongly tagged op (exp) proves the check can fail.
#include <catch2/catch.hpp>

#include <cmath>

#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/ops.h"

using namespace gg;

namespace {

// Descriptions of the samples on which `op` maps all-zero floating inputs to something else.
std::vector<std::string> nonzero_at_zero(const OpDef& op) {
    std::vector<std::string> failures;
    const std::vector<OpSample> samples = op.make_samples ? op.make_samples() : std::vector<OpSample>{};
    for (std::size_t k = 0; k < samples.size(); ++k)
        for (DType dt : {DType::F32, DType::F64})
            for (bool reference : {false, true}) {
                const OpSample& s = samples[k];
                Graph g;
                std::vector<Value> xs;
                Feeds feeds;
                for (std::size_t i = 0; i < s.inputs.size(); ++i) {
                    const SampleInput& in = s.inputs[i];
                    // Floating inputs are zeros; indices and labels keep their sample values.
                    Tensor t = make_sample_tensor(in, dt, 1);
                    if (is_floating(t.dtype())) t.fill(0.0);
                    xs.push_back(g.input(fmt::format("x{}", i), t.shape(), t.dtype()));
                    feeds.emplace_back(xs.back(), t);
                }
                std::vector<Value> outs = g.add_node(op, xs, s.attrs);
                CompileOptions o;
                o.reference_kernels = reference;
                std::vector<Tensor> got = compile(g, outs, o).run(feeds);
                for (std::size_t j = 0; j < got.size(); ++j)
                    for (int64_t e = 0; e < got[j].numel(); ++e)
                        if (is_floating(got[j].dtype()) && got[j].get(e) != 0.0) {
                            failures.push_back(fmt::format("{} [{}] {} {}: output {} element {} is {}", op.name,
                                                           s.label, dtype_name(dt), reference ? "reference" : "fast",
                                                           j, e, got[j].get(e)));
                            break;
                        }
            }
    return failures;
}

}  // namespace

TEST_CASE("every op tagged LayoutUse::Elementwise maps zeros to zeros", "[ops][layout][registry]") {
    register_all_ops();
    int checked = 0;
    for (const OpDef* op : op_registry().all()) {
        if (op->layout_use != LayoutUse::Elementwise) continue;
        INFO("op " << op->name);
        REQUIRE(static_cast<bool>(op->make_samples));
        REQUIRE_FALSE(op->make_samples().empty());
        for (const std::string& f : nonzero_at_zero(*op)) FAIL_CHECK(f);
        ++checked;
    }
    CHECK(checked >= 10);  // relu, add, mul, relu_backward, ...
}

TEST_CASE("the f(0) = 0 check catches a wrongly tagged op", "[ops][layout]") {
    register_all_ops();
    OpRegistry r;
    const OpDef& exp_op = op_registry().get("exp");
    OpDef& wrong = r.define("exp_tagged_elementwise");
    wrong = exp_op;  // the same bundle, but claiming f(0) = 0
    wrong.name = "exp_tagged_elementwise";
    wrong.layout(LayoutUse::Elementwise);
    const std::vector<std::string> failures = nonzero_at_zero(wrong);
    REQUIRE_FALSE(failures.empty());
    CHECK(failures[0].find("is 1") != std::string::npos);
}
