#include "graphgrad/graph/autodiff.h"

#include <algorithm>
#include <functional>
#include <map>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"

namespace gg {

namespace {

// Sums partial gradients with the op that declared itself the accumulator (ops/ registers
// one; graph/ names no concrete op), looked up once per grad() call and only if some value
// fans out. The sum is kept running: each partial is added as soon as its rule made it, so
// in the program it dies right after it is computed. (Summing them all when the value's own
// rule runs kept every partial alive until then: an LSTM's weight_hh over T steps held T
// partial [4H, H] gradients at once, more than all its activations.)
//
// Partials whose op declares fold_sum (OpDef::fold_sum_rule) wait in runs of up to kFoldRun
// and enter the running sum as one folded node: the T per-step weight gradients dZ_tᵀ·H_t of
// a recurrent matmul become ⌈T / kFoldRun⌉ GEMMs over kFoldRun·N rows instead of T thin GEMMs
// and T additions of a whole [4H, H] matrix, which is where graph-code BPTT spent its time.
// A run holds its partials' inputs alive (kFoldRun steps of dZ_t, [N, 4H] each, far less than
// the weights); the partial nodes themselves are never computed (compile() prunes them). A run
// never spans two checkpoint regions, and every run is folded as soon as grad() leaves a
// region (nodes run in id order): a run left waiting would keep the segment it reads alive
// while the next one is recomputed.
//
// Row-sparse parts stay a list until something needs the value dense (graph/gradient.h).
struct Partial {
    std::optional<Value> dense;
    std::vector<Value> run;   // dense partials waiting to fold, all made by one op
    int32_t run_region = -1;  // the checkpoint region of the forward nodes whose rules made them
    std::vector<RowSparse> sparse;
    std::vector<std::function<Value(const RowSparse&)>> densify;  // one per sparse part
};

class Accumulator {
public:
    static constexpr std::size_t kFoldRun = 16;

    // `region`: the checkpoint region of the forward node whose gradient rule made `part`.
    void add(Graph& g, Partial& p, const Value& part, int32_t region = -1) {
        if (!p.sparse.empty()) densify(g, p);
        const OpDef* op = g.node(part.node).op;
        if (!op->fold_sum_rule || part.slot != 0) return add_dense(g, p, part);
        if (!p.run.empty() && (g.node(p.run[0].node).op != op || p.run_region != region)) flush(g, p);
        if (p.run.empty()) open_.push_back(&p);
        p.run.push_back(part);
        p.run_region = region;
        if (p.run.size() == kFoldRun) flush(g, p);
    }
    void add(Graph& g, Partial& p, const InputGrad& part, int32_t region = -1) {
        if (!part.is_sparse()) return add(g, p, *part, region);
        if (p.dense || !p.run.empty()) return add(g, p, part.densify(), region);
        p.sparse.push_back(part.sparse());
        p.densify.push_back(part.densifier());
    }
    // Folds the waiting run and every sparse part into the dense sum, in arrival order.
    void densify(Graph& g, Partial& p) {
        flush(g, p);
        for (std::size_t k = 0; k < p.sparse.size(); ++k) add_dense(g, p, p.densify[k](p.sparse[k]));
        p.sparse.clear();
        p.densify.clear();
    }
    // Folds every waiting run (Partials live in a std::map: the pointers stay valid).
    void flush_all(Graph& g) {
        for (Partial* p : open_) flush(g, *p);
        open_.clear();
    }

private:
    void add_dense(Graph& g, Partial& p, const Value& part) {
        if (!p.dense) {
            p.dense = part;
            return;
        }
        if (!add_) add_ = &op_registry().gradient_accumulator();
        p.dense = g.add_node1(*add_, {*p.dense, part}, {}, "");
    }
    void flush(Graph& g, Partial& p) {
        if (p.run.empty()) return;
        std::vector<Value> run = std::move(p.run);
        p.run.clear();
        std::optional<Value> folded;
        if (run.size() > 1) folded = g.node(run[0].node).op->fold_sum_rule(g, run);
        if (folded) return add_dense(g, p, *folded);
        for (const Value& part : run) add_dense(g, p, part);
    }

    const OpDef* add_ = nullptr;
    std::vector<Partial*> open_;  // partials whose run may be non-empty
};

void check_sparse(const OpDef& op, const Node& node, std::size_t i, const Value& in, const RowSparse& s) {
    const Shape& rs = s.rows.shape();
    const bool ok = s.indices.dtype() == DType::I64 && s.indices.rank() == 1 && in.rank() >= 1 &&
                    s.rows.dtype() == in.dtype() && rs.size() == in.shape().size() && rs[0] == s.indices.dim(0) &&
                    std::equal(rs.begin() + 1, rs.end(), in.shape().begin() + 1);
    if (!ok)
        throw_graph("grad: gradient rule of {} returned row-sparse indices {} and rows {} for input {} of node \"{}\", "
                    "which is {}", op.name, s.indices.desc(), s.rows.desc(), i, node.name, in.desc());
}

// Resets the graph's "building gradient" flag even when a rule throws.
struct GradientMode {
    explicit GradientMode(Graph& g) : g_(g) { g_.set_building_gradient(true); }
    ~GradientMode() { g_.set_building_gradient(false); }
    Graph& g_;
};

}  // namespace

namespace {

Value scalar_seed(const Value& loss) {
    if (!loss.valid()) throw_graph("grad: the loss is an empty Value");
    if (loss.rank() != 0)
        throw_graph("grad: the loss \"{}\" must be a scalar, got {}; reduce it (sum/mean) or pass seeds",
                    loss.name(), loss.desc());
    return loss.graph->scalar(1.0, loss.dtype());
}

// The backward sweep; a wrt value keeps row-sparse parts only when keep_sparse.
std::vector<Gradient> backward(const std::vector<Value>& ys, const std::vector<Value>& wrt,
                               const std::vector<Value>& seeds, bool keep_sparse) {
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

    GradientMode mode(g);
    // The running sum of the partial gradients per value.
    std::map<std::pair<int32_t, int32_t>, Partial> partials;
    Accumulator accumulate;
    for (std::size_t i = 0; i < ys.size(); ++i) accumulate.add(g, partials[{ys[i].node, ys[i].slot}], seeds[i]);
    // The dense total (a rule consumes it): sparse parts are folded in here.
    auto total = [&](int32_t node, int32_t slot) -> std::optional<Value> {
        auto it = partials.find(std::make_pair(node, slot));
        if (it == partials.end()) return std::nullopt;
        accumulate.densify(g, it->second);
        return it->second.dense;
    };

    int32_t region = -1;  // the checkpoint region of the last node whose rule ran
    for (int32_t id = hi; id >= lo; --id) {
        const auto uid = static_cast<std::size_t>(id);
        if (!from_wrt[uid] || !to_ys[uid]) continue;
        const Node& node = g.node(id);
        if (node.op->is_source) continue;
        if (node.checkpoint != region) {
            accumulate.flush_all(g);
            region = node.checkpoint;
        }
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
        std::vector<char> needs(node.inputs.size());
        for (std::size_t i = 0; i < needs.size(); ++i)
            needs[i] = from_wrt[static_cast<std::size_t>(node.inputs[i].node)] && is_floating(node.inputs[i].dtype()) &&
                       node.op->input_differentiable(static_cast<int>(i));
        ctx.set_needs_input_grad(std::move(needs));
        InputGrads in_grads = node.op->grad_rule(ctx);
        const Node& same = node;  // nodes live in a deque: rules adding nodes keep it valid
        if (in_grads.size() != same.inputs.size())
            throw_graph("grad: gradient rule of {} returned {} gradients for {} inputs (node \"{}\")", same.op->name,
                        in_grads.size(), same.inputs.size(), same.name);
        for (std::size_t i = 0; i < in_grads.size(); ++i) {
            const Value& in = same.inputs[i];
            if (!in_grads[i] || !from_wrt[static_cast<std::size_t>(in.node)] || !is_floating(in.dtype())) continue;
            if (!same.op->input_differentiable(static_cast<int>(i))) continue;
            if (in_grads[i].is_sparse()) check_sparse(*same.op, same, i, in, in_grads[i].sparse());
            else if (in_grads[i]->desc() != in.desc())
                throw_graph("grad: gradient rule of {} returned {} for input {} of node \"{}\", which is {}",
                            same.op->name, in_grads[i]->desc(), i, same.name, in.desc());
            accumulate.add(g, partials[{in.node, in.slot}], in_grads[i], same.checkpoint);
        }
    }

    std::vector<Gradient> result;
    for (const Value& w : wrt) {
        auto it = partials.find(std::make_pair(w.node, w.slot));
        if (it != partials.end() && keep_sparse && !it->second.sparse.empty() && !it->second.dense &&
            it->second.run.empty()) {
            result.push_back(Gradient{Value{}, it->second.sparse});
            continue;
        }
        if (auto v = total(w.node, w.slot)) result.push_back(Gradient{*v, {}});
        else result.push_back(Gradient{g.constant(Tensor::zeros(w.shape(), w.dtype()), "zero_grad"), {}});
    }
    return result;
}

std::vector<Value> dense_values(const std::vector<Gradient>& gs) {
    std::vector<Value> out;
    out.reserve(gs.size());
    for (const Gradient& x : gs) out.push_back(x.dense);
    return out;
}

}  // namespace

std::vector<Value> Gradient::values() const {
    if (!is_sparse()) return {dense};
    std::vector<Value> out;
    for (const RowSparse& p : sparse) {
        out.push_back(p.indices);
        out.push_back(p.rows);
    }
    return out;
}

std::vector<Value> grad(Value loss, const std::vector<Value>& wrt) {
    Value one = scalar_seed(loss);
    return dense_values(backward({loss}, wrt, {one}, false));
}

std::vector<Value> grad(const std::vector<Value>& ys, const std::vector<Value>& wrt, const std::vector<Value>& seeds) {
    return dense_values(backward(ys, wrt, seeds, false));
}

std::vector<Gradient> gradients(Value loss, const std::vector<Value>& wrt) {
    Value one = scalar_seed(loss);
    return backward({loss}, wrt, {one}, true);
}

}  // namespace gg
