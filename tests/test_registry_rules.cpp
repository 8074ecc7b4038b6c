// What every op's bundle states beyond kernels and gradients (graph/op_rules.h), checked on its
// samples against brute force: a cost rule exists and counts the bytes the op writes; its
// multiply-adds equal the products its kernel forms; its receptive field equals the influence
// found by perturbing one input pixel at a time (which outputs change, and for each output
// which input pixels change it). Also the gradient accumulator and the roles.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <set>

#include "graphgrad/graph/op_registry.h"
#include "graphgrad/graph/op_rules.h"
#include "op_test_util.h"

using namespace gg;

namespace {

// A one-node graph of a sample on f64 inputs: rules see what they see on real nodes.
struct Built {
    std::unique_ptr<Graph> graph = std::make_unique<Graph>();
    std::vector<Tensor> inputs;
    const Node* node = nullptr;
};

Built build(const OpDef& op, const OpSample& s, uint64_t seed) {
    Built b;
    b.inputs = testing::sample_inputs(s, DType::F64, seed);
    std::vector<Value> xs;
    for (std::size_t i = 0; i < b.inputs.size(); ++i)
        xs.push_back(b.graph->input(fmt::format("x{}", i), b.inputs[i].shape(), b.inputs[i].dtype()));
    if (s.producer) {  // a workspace and what its writer computed with it come from a node
        std::vector<Value> pin;
        for (int i : s.producer->inputs) pin.push_back(xs.at(static_cast<std::size_t>(i)));
        const std::vector<Value> pout = b.graph->add_node(op_def(s.producer->op), pin, s.producer->attrs, "producer");
        for (const auto& [o, i] : s.producer->feeds) xs.at(static_cast<std::size_t>(i)) = pout.at(static_cast<std::size_t>(o));
    }
    b.node = &b.graph->node(b.graph->add_node(op, xs, s.attrs).at(0).node);
    return b;
}

// Products a bilinear op forms: with its two operands all ones, each output element is the
// number of products summed into it. Further floating inputs (a bias) are zeros.
int64_t counted_products(const OpDef& op, const OpSample& s, std::vector<Tensor> inputs) {
    int operand = 0;
    for (Tensor& t : inputs)
        if (is_floating(t.dtype())) t = Tensor::full(t.shape(), operand++ < 2 ? 1.0 : 0.0, t.dtype());
    const Tensor y = testing::run_kernel_directly(op, s, inputs, false).outputs.at(0);
    double sum = 0;
    for (int64_t i = 0; i < y.numel(); ++i) sum += y.get(i);
    return std::llround(sum);
}

// Counting products by running on ones holds only for an op bilinear in its first two floating
// operands (matmul, convolutions): additive in the first, f(a + b) = f(a) + f(b), checked on
// the sample's data. A fused recurrent layer is not (its gates are nonlinear); its tests count
// its products from the geometry instead.
bool bilinear(const OpDef& op, const OpSample& s, const std::vector<Tensor>& inputs) {
    std::size_t first = 0;
    while (first < inputs.size() && (!is_floating(inputs[first].dtype()) || inputs[first].numel() == 0)) ++first;
    if (first == inputs.size()) return false;
    const Tensor& a = inputs[first];
    Tensor b = a.clone(), sum = a.clone();
    for (int64_t i = 0; i < a.numel(); ++i) {
        b.set(i, 0.5 - a.get((i + 1) % a.numel()));
        sum.set(i, a.get(i) + b.get(i));
    }
    auto output = [&](const Tensor& operand) {
        std::vector<Tensor> in = inputs;
        in[first] = operand;
        return testing::run_kernel_directly(op, s, in, false).outputs.at(0);
    };
    const Tensor ya = output(a), yb = output(b), ys = output(sum);
    for (int64_t i = 0; i < ys.numel(); ++i)
        if (std::abs(ys.get(i) - ya.get(i) - yb.get(i)) > 1e-9 * (1 + std::abs(ys.get(i)))) return false;
    return true;
}

bool padded(const std::optional<SpatialReach>& r) {
    return r && std::any_of(r->axes.begin(), r->axes.end(), [](const AxisReach& a) { return !a.global && a.padding != 0; });
}

// Multiply-add mismatches of one sample ("" when the rule agrees with the count). Taps over
// padding multiply nothing, so a padded sample counts fewer products than the dense figure
// model tables use (and the rule states); an unpadded one must count exactly as many.
std::string macs_mismatch(const OpDef& op, const OpSample& s, uint64_t seed, bool& counted, bool& exact) {
    Built b = build(op, s, seed);
    const OpCost cost = node_cost(*b.node);
    exact = counted = false;
    if (cost.macs == 0 || !bilinear(op, s, b.inputs)) return "";
    counted = true;
    const int64_t count = counted_products(op, s, b.inputs);
    exact = !padded(node_reach(*b.node));
    if (exact ? count == cost.macs : count > 0 && count <= cost.macs) return "";
    return fmt::format("the rule says {} multiply-adds, the kernel forms {} products{}", cost.macs, count,
                       exact ? "" : " (padded: at most the rule's)");
}

using Positions = std::set<int64_t>;  // h·W + w

bool differs(double a, double b) { return !(a == b) && !(std::isnan(a) && std::isnan(b)); }

// The receptive-field check of one sample: "" when it agrees, else what differs; `ran` says
// whether the sample was checked (its reach input is a floating [N, C, H, W] value).
std::string reach_mismatch(const OpDef& op, const OpSample& s, uint64_t seed, bool& ran) {
    Built b = build(op, s, seed);
    ran = false;
    const std::optional<SpatialReach> reach = node_reach(*b.node);
    if (!reach) return "";
    const auto in_index = static_cast<std::size_t>(reach->input);
    const Tensor& x = b.inputs.at(in_index);
    if (x.shape().size() != 4 || !is_floating(x.dtype())) return "";
    const Shape& out_shape = b.node->outputs.at(0).shape;
    const bool grid = out_shape.size() == 4;
    if (!grid && !reach->is_global()) return fmt::format("output {} is no [N, C, H, W] grid but the reach is not global", shape_str(out_shape));
    ran = true;
    const int64_t h = x.shape()[2], w = x.shape()[3];
    const int64_t ho = grid ? out_shape[2] : 1, wo = grid ? out_shape[3] : 1;
    const Tensor base = testing::run_kernel_directly(op, s, b.inputs, false).outputs.at(0);

    // observed[p]: output positions that change when input pixel p moves in every batch and
    // channel: by distinct large steps up or down (a softmax over channels ignores a common
    // shift), to zero, or to another operand's value there (equal only changes on a tie).
    std::vector<std::size_t> others;
    for (std::size_t i = 0; i < b.inputs.size(); ++i)
        if (i != in_index && b.inputs[i].desc() == x.desc()) others.push_back(i);
    std::vector<Positions> observed(static_cast<std::size_t>(h * w));
    const int64_t planes = x.shape()[0] * x.shape()[1];
    for (int64_t p = 0; p < h * w; ++p)
        for (std::size_t variant = 0; variant < 3 + others.size(); ++variant) {
            std::vector<Tensor> moved = b.inputs;
            moved[in_index] = x.clone();
            for (int64_t k = 0; k < planes; ++k) {
                const int64_t e = k * h * w + p;
                const double v = x.get(e), step = 1000.0 * static_cast<double>(1 + k);
                moved[in_index].set(e, variant == 0   ? v + step
                                       : variant == 1 ? v - step
                                       : variant == 2 ? 0.0
                                                      : b.inputs[others[variant - 3]].get(e));
            }
            const Tensor y = testing::run_kernel_directly(op, s, moved, false).outputs.at(0);
            for (int64_t k = 0; k < y.numel(); ++k)
                if (differs(y.get(k), base.get(k))) observed[static_cast<std::size_t>(p)].insert(k % (ho * wo));
        }

    std::vector<std::string> wrong;
    if (!grid) {  // global into a value without positions: every pixel changes something
        for (int64_t p = 0; p < h * w; ++p)
            if (observed[static_cast<std::size_t>(p)].empty()) wrong.push_back(fmt::format("pixel {} changes nothing", p));
    } else {
        auto predicted = [&](int64_t p, int64_t q) {
            return reach->axes[0].reads(q / wo, p / w) && reach->axes[1].reads(q % wo, p % w);
        };
        // Input to outputs: the outputs one pixel changes.
        for (int64_t p = 0; p < h * w; ++p)
            for (int64_t q = 0; q < ho * wo; ++q)
                if (observed[static_cast<std::size_t>(p)].count(q) != static_cast<std::size_t>(predicted(p, q)))
                    wrong.push_back(fmt::format("input ({}, {}) {} output ({}, {})", p / w, p % w,
                                                predicted(p, q) ? "should but does not change" : "changes, unpredicted,",
                                                q / wo, q % wo));
        // Output from inputs: the pixels one output reads, as the rule's window states them.
        for (int64_t q = 0; q < ho * wo; ++q) {
            Positions seen, stated;
            for (int64_t p = 0; p < h * w; ++p) {
                if (observed[static_cast<std::size_t>(p)].count(q)) seen.insert(p);
                if (predicted(p, q)) stated.insert(p);
            }
            if (seen != stated)
                wrong.push_back(fmt::format("output ({}, {}) reads {} input pixels, the rule says {}", q / wo, q % wo,
                                            seen.size(), stated.size()));
        }
    }
    if (wrong.empty()) return "";
    wrong.resize(std::min<std::size_t>(wrong.size(), 6));
    return fmt::format("{} mismatches, e.g. {}", wrong.size(), fmt::join(wrong, "; "));
}

// A copy of a registered op under another name in `r`, for rules deliberately broken.
OpDef& copy_of(OpRegistry& r, const char* op, const char* name) {
    OpDef& d = r.define(name);
    d = op_def(op);
    d.name = name;
    return d;
}

}  // namespace

TEST_CASE("every op has a cost rule counting the bytes it writes", "[ops][registry][cost]") {
    for (const OpDef* op : testing::registered_ops()) {
        REQUIRE(static_cast<bool>(op->cost_rule));
        auto samples = op->make_samples();
        for (std::size_t i = 0; i < samples.size(); ++i) {
            INFO(testing::sample_name(*op, samples[i], i));
            Built b = build(*op, samples[i], 5 + i);
            const OpCost c = node_cost(*b.node);
            int64_t out_bytes = 0;
            for (const TensorDesc& d : b.node->outputs) out_bytes += static_cast<int64_t>(d.bytes());
            CHECK(c.macs >= 0);
            CHECK(c.flops >= 0);
            CHECK(c.bytes_written == out_bytes);
            CHECK(c.bytes_read >= 0);
        }
    }
}

TEST_CASE("multiply-adds match the products the kernels form", "[ops][registry][cost]") {
    std::map<std::string, int> exact;  // ops with multiply-adds: samples counted exactly
    for (const OpDef* op : testing::registered_ops()) {
        auto samples = op->make_samples();
        for (std::size_t i = 0; i < samples.size(); ++i) {
            INFO(testing::sample_name(*op, samples[i], i));
            bool counted = false, was_exact = false;
            CHECK(macs_mismatch(*op, samples[i], 5 + i, counted, was_exact) == "");
            if (counted) exact[op->name] += was_exact;
        }
    }
    for (const char* op : {"matmul", "conv2d", "conv2d_backward_data", "conv2d_backward_weights", "conv_transpose2d"})
        CHECK(exact.count(op));
    for (const auto& [op, n] : exact) {
        INFO(op << " needs an unpadded sample, where the count must be exact");
        CHECK(n > 0);
    }
}

TEST_CASE("receptive fields match the pixels that influence each output", "[ops][registry][receptive-field]") {
    for (const OpDef* op : testing::registered_ops()) {
        if (!op->reach_rule) continue;
        auto samples = op->make_samples();
        int checked = 0;
        for (std::size_t i = 0; i < samples.size(); ++i) {
            INFO(testing::sample_name(*op, samples[i], i));
            bool ran = false;
            CHECK(reach_mismatch(*op, samples[i], 5 + i, ran) == "");
            checked += ran;
        }
        INFO(op->name << " states a receptive field but has no [N, C, H, W] sample to check it on");
        CHECK(checked > 0);
    }
}

TEST_CASE("the brute-force checks catch wrong rules", "[ops][registry][receptive-field][cost]") {
    OpRegistry r;
    copy_of(r, "avg_pool2d", "test_pool_said_pointwise").receptive_field(pointwise_reach());
    copy_of(r, "conv2d", "test_conv_off_by_one").receptive_field([](const RuleContext& c) {
        auto reach = op_def("conv2d").reach_rule(c);
        reach->axes[1].padding += 1;
        return reach;
    });
    copy_of(r, "matmul", "test_matmul_counts_half").cost([](const RuleContext& c) {
        OpCost cost = op_def("matmul").cost_rule(c);
        cost.macs /= 2;
        return cost;
    });
    for (const OpDef* op : testing::registered_ops(r)) {
        INFO(op->name);
        int failed = 0;
        auto samples = op->make_samples();
        for (std::size_t i = 0; i < samples.size(); ++i) {
            bool flag = false;
            failed += !reach_mismatch(*op, samples[i], 5 + i, flag).empty();
            failed += !macs_mismatch(*op, samples[i], 5 + i, flag, flag).empty();
        }
        CHECK(failed > 0);
    }
}

TEST_CASE("exactly one op accumulates gradients, and it adds", "[ops][registry][autodiff]") {
    register_all_ops();
    const OpDef& acc = op_registry().gradient_accumulator();
    CHECK(acc.min_arity == 2);
    CHECK(acc.max_arity == 2);
    auto samples = acc.make_samples();
    REQUIRE(!samples.empty());
    for (std::size_t i = 0; i < samples.size(); ++i) {
        INFO(testing::sample_name(acc, samples[i], i));
        auto in = testing::sample_inputs(samples[i], DType::F64, 3 + i);
        const Tensor y = testing::run_kernel_directly(acc, samples[i], in, false).outputs.at(0);
        for (int64_t k = 0; k < y.numel(); ++k) CHECK(y.get(k) == in[0].get(k) + in[1].get(k));
    }
    OpRegistry none;
    CHECK_THROWS_WITH(none.gradient_accumulator(), Catch::Contains("no op declares gradient_accumulator()"));
}

TEST_CASE("roles name inputs and outputs that exist; running statistics are updated state", "[ops][registry]") {
    int with_statistics = 0;
    for (const OpDef* op : testing::registered_ops()) {
        auto samples = op->make_samples();
        for (std::size_t i = 0; i < samples.size(); ++i) {
            INFO(testing::sample_name(*op, samples[i], i));
            Built b = build(*op, samples[i], 1);
            for (const auto& [role, index] : op->input_roles) {
                INFO("input role " << role);
                CHECK(index < static_cast<int>(b.node->inputs.size()));
                if (role == roles::kRunningMean || role == roles::kRunningVar)
                    CHECK(std::count(op->state_inputs.begin(), op->state_inputs.end(), index) == 1);
            }
            for (const auto& [role, index] : op->output_roles) {
                INFO("output role " << role);
                CHECK(index < static_cast<int>(b.node->outputs.size()));
            }
        }
        with_statistics += op->input_with_role(roles::kRunningMean).has_value();
    }
    CHECK(with_statistics > 0);  // batch_norm: what precise batch norm looks for
}
