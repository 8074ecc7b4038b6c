#include "graphgrad/graph/op_rules.h"

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/op_def.h"

namespace gg {

RuleContext RuleContext::of(const Node& n) {
    RuleContext c;
    for (const Value& v : n.inputs) c.inputs.push_back(v.desc());
    c.outputs = n.outputs;
    c.attrs = &n.attrs;
    c.op_name = n.op->name.c_str();
    return c;
}

int64_t RuleContext::input_bytes() const {
    int64_t b = 0;
    for (const TensorDesc& d : inputs) b += static_cast<int64_t>(d.bytes());
    return b;
}

int64_t RuleContext::output_bytes() const {
    int64_t b = 0;
    for (const TensorDesc& d : outputs) b += static_cast<int64_t>(d.bytes());
    return b;
}

OpCost& OpCost::operator+=(const OpCost& o) {
    macs += o.macs;
    flops += o.flops;
    bytes_read += o.bytes_read;
    bytes_written += o.bytes_written;
    return *this;
}

CostFn elementwise_cost(int64_t per_element) {
    return [per_element](const RuleContext& c) {
        return OpCost{.flops = per_element * c.output(0).numel(), .bytes_read = c.input_bytes(), .bytes_written = c.output_bytes()};
    };
}

CostFn reduction_cost(int64_t per_element) {
    return [per_element](const RuleContext& c) {
        return OpCost{.flops = per_element * c.input(0).numel(), .bytes_read = c.input_bytes(), .bytes_written = c.output_bytes()};
    };
}

CostFn data_movement_cost() {
    return [](const RuleContext& c) { return OpCost{.bytes_read = c.input_bytes(), .bytes_written = c.output_bytes()}; };
}

CostFn copy_cost() {
    return [](const RuleContext& c) { return OpCost{.bytes_read = c.output_bytes(), .bytes_written = c.output_bytes()}; };
}

namespace {

// Whether some t in [0, kernel) has base + t·dilation == target.
bool hits(const AxisReach& a, int64_t base, int64_t target) {
    const int64_t d = target - base;
    return d >= 0 && d % a.dilation == 0 && d / a.dilation < a.kernel;
}

}  // namespace

bool AxisReach::reads(int64_t out, int64_t in) const {
    if (global) return true;
    return transposed ? hits(*this, in * stride - padding, out) : hits(*this, out * stride - padding, in);
}

int64_t AxisReach::span() const {
    if (global) return 0;  // meaningless: the caller spans the whole input
    return transposed ? (extent() - 1) / stride + 1 : extent();
}

ReachFn pointwise_reach() {
    return [](const RuleContext&) -> std::optional<SpatialReach> { return SpatialReach::pointwise(); };
}

OpCost node_cost(const Node& n) {
    if (n.op->is_source) return {};
    if (!n.op->cost_rule) throw_graph("{} \"{}\": the op has no cost rule", n.op->name, n.name);
    return n.op->cost_rule(RuleContext::of(n));
}

std::optional<SpatialReach> node_reach(const Node& n) {
    if (n.op->is_source || !n.op->reach_rule) return std::nullopt;
    return n.op->reach_rule(RuleContext::of(n));
}

}  // namespace gg
