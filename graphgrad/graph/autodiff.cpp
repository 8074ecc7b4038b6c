#include "graphgrad/graph/autodiff.h"

#include <map>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"

namespace gg {

namespace {

// Sums partial gradients with the op that declared itself the accumulator (ops/ registers
// one; graph/ names no concrete op), looked up once per grad() call and only if some value
// fans out. A chain: fan-out is usually 2-3.
class Accumulator {
public:
    Value operator()(Graph& g, const std::vector<Value>& parts) {
        Value sum = parts.front();
        if (parts.size() > 1 && !add_) add_ = &op_registry().gradient_accumulator();
        for (std::size_t i = 1; i < parts.size(); ++i) sum = g.add_node1(*add_, {sum, parts[i]}, {}, "");
        return sum;
    }

private:
    const OpDef* add_ = nullptr;
};

// Resets the graph's "building gradient" flag even when a rule throws.
struct GradientMode {
    explicit GradientMode(Graph& g) : g_(g) { g_.set_building_gradient(true); }
    ~GradientMode() { g_.set_building_gradient(false); }
    Graph& g_;
};

}  // namespace

std::vector<Value> grad(Value loss, const std::vector<Value>& wrt) {
    if (!loss.valid()) throw_graph("grad: the loss is an empty Value");
    if (loss.rank() != 0)
        throw_graph("grad: the loss \"{}\" must be a scalar, got {}; reduce it (sum/mean) or pass seeds",
                    loss.name(), loss.desc());
    Value one = loss.graph->scalar(1.0, loss.dtype());
    return grad(std::vector<Value>{loss}, wrt, std::vector<Value>{one});
}

std::vector<Value> grad(const std::vector<Value>& ys, const std::vector<Value>& wrt, const std::vector<Value>& seeds) {
    if (ys.empty()) throw_graph("grad: no outputs to differentiate");
    if (ys.size() != seeds.size()) throw_graph("grad: {} outputs but {} seeds", ys.size(), seeds.size());
    std::vector<Value> all = ys;
    all.insert(all.end(), wrt.begin(), wrt.end());
    all.insert(all.end(), seeds.begin(), seeds.end());
    Graph& g = common_graph("grad", all);
    for (std::size_t i = 0; i < ys.size(); ++i) {
        if (!is_floating(ys[i].dtype()))
            throw_graph("grad: output \"{}\" is {}, not floating point", ys[i].name(), ys[i].desc());
        if (seeds[i].desc() != ys[i].desc())
            throw_graph("grad: seed {} for output \"{}\" {} must match it", seeds[i].desc(), ys[i].name(), ys[i].desc());
    }
    for (const Value& w : wrt)
        if (!is_floating(w.dtype())) throw_graph("grad: cannot differentiate with respect to \"{}\" {}", w.name(), w.desc());

    // Nodes on some path wrt → ys: forward-reachable from wrt (node ids are a topological
    // order, inputs always precede their users) and backward-reachable from ys.
    const int32_t n = g.num_nodes();
    std::vector<char> from_wrt(static_cast<std::size_t>(n), 0), to_ys(static_cast<std::size_t>(n), 0);
    int32_t lo = n;
    for (const Value& w : wrt) { from_wrt[static_cast<std::size_t>(w.node)] = 1; lo = std::min(lo, w.node); }
    for (int32_t id = lo; id < n; ++id)
        for (const Value& in : g.node(id).inputs)
            if (from_wrt[static_cast<std::size_t>(in.node)]) { from_wrt[static_cast<std::size_t>(id)] = 1; break; }
    int32_t hi = -1;
    for (const Value& y : ys) { to_ys[static_cast<std::size_t>(y.node)] = 1; hi = std::max(hi, y.node); }
    for (int32_t id = hi; id >= 0; --id)
        if (to_ys[static_cast<std::size_t>(id)])
            for (const Value& in : g.node(id).inputs) to_ys[static_cast<std::size_t>(in.node)] = 1;

    std::map<std::pair<int32_t, int32_t>, std::vector<Value>> partials;
    for (std::size_t i = 0; i < ys.size(); ++i) partials[{ys[i].node, ys[i].slot}].push_back(seeds[i]);

    GradientMode mode(g);
    std::map<std::pair<int32_t, int32_t>, Value> summed;  // final gradient per value
    Accumulator accumulate;
    auto total = [&](int32_t node, int32_t slot) -> std::optional<Value> {
        auto key = std::make_pair(node, slot);
        if (auto s = summed.find(key); s != summed.end()) return s->second;
        auto it = partials.find(key);
        if (it == partials.end()) return std::nullopt;
        Value v = accumulate(g, it->second);
        summed.emplace(key, v);
        return v;
    };

    for (int32_t id = hi; id >= lo; --id) {
        const auto uid = static_cast<std::size_t>(id);
        if (!from_wrt[uid] || !to_ys[uid]) continue;
        const Node& node = g.node(id);
        if (node.op->is_source) continue;
        std::vector<std::optional<Value>> gouts(node.outputs.size());
        bool any = false;
        for (std::size_t s = 0; s < node.outputs.size(); ++s) {
            gouts[s] = total(id, static_cast<int32_t>(s));
            any = any || gouts[s].has_value();
        }
        if (!any) continue;
        if (!node.op->differentiable()) {
            if (!node.op->no_grad_reason.empty()) continue;  // explicit opt-out: contributes nothing
            throw_graph("grad: op {} (node \"{}\") has no gradient rule", node.op->name, node.name);
        }
        GradContext ctx(g, node, std::move(gouts));
        InputGrads in_grads = node.op->grad_rule(ctx);
        const Node& same = node;  // nodes live in a deque: rules adding nodes keep it valid
        if (in_grads.size() != same.inputs.size())
            throw_graph("grad: gradient rule of {} returned {} gradients for {} inputs (node \"{}\")", same.op->name,
                        in_grads.size(), same.inputs.size(), same.name);
        for (std::size_t i = 0; i < in_grads.size(); ++i) {
            const Value& in = same.inputs[i];
            if (!in_grads[i] || !from_wrt[static_cast<std::size_t>(in.node)] || !is_floating(in.dtype())) continue;
            if (!same.op->input_differentiable(static_cast<int>(i))) continue;
            if (in_grads[i]->desc() != in.desc())
                throw_graph("grad: gradient rule of {} returned {} for input {} of node \"{}\", which is {}",
                            same.op->name, in_grads[i]->desc(), i, same.name, in.desc());
            partials[{in.node, in.slot}].push_back(*in_grads[i]);
        }
    }

    std::vector<Value> result;
    for (const Value& w : wrt) {
        if (auto v = total(w.node, w.slot)) result.push_back(*v);
        else result.push_back(g.constant(Tensor::zeros(w.shape(), w.dtype()), "zero_grad"));
    }
    return result;
}

}  // namespace gg
