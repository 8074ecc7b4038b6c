#include "graphgrad/optim/precise_bn.h"

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/node.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/ops/normalization.h"

namespace gg::optim {

namespace {

// The store name behind a batch_norm input, if it is graph state (not a fed input).
std::string state_name(const Graph& g, const Value& v) {
    const Node& n = g.node(v.node);
    return n.kind() == NodeKind::State && g.store().contains(n.name) ? n.name : std::string();
}

}  // namespace

// The layers are the forward nodes whose op names running statistics and batch statistics
// among its inputs and outputs (graph/op_rules.h roles); eps comes from the node's public
// BatchNormOptions, to turn the batch invstd back into a variance.
std::vector<PreciseBatchNorm::Layer> PreciseBatchNorm::find_layers(Graph& g) {
    std::vector<Layer> layers;
    for (int32_t id = 0; id < g.num_nodes(); ++id) {
        const Node& n = g.node(id);
        if (n.is_gradient) continue;
        const OpDef& op = *n.op;
        const auto rm = op.input_with_role(roles::kRunningMean), rv = op.input_with_role(roles::kRunningVar);
        const auto bm = op.output_with_role(roles::kBatchMean), bs = op.output_with_role(roles::kBatchInvStd);
        if (!rm || !rv || !bm || !bs) continue;
        const std::string mean = state_name(g, n.inputs.at(static_cast<std::size_t>(*rm)));
        const std::string var = state_name(g, n.inputs.at(static_cast<std::size_t>(*rv)));
        if (mean.empty() || var.empty()) continue;
        const Value& x = n.inputs.at(0);  // [N, C, ...]: statistics per channel
        layers.push_back({Value{&g, id, *bm}, Value{&g, id, *bs}, mean, var, node_attributes<BatchNormOptions>(n).eps,
                          x.numel() / x.dim(1)});
    }
    return layers;
}

std::vector<Value> PreciseBatchNorm::fetches(Value output) const {
    std::vector<Value> f{output};
    for (const Layer& l : layers_) {
        f.push_back(l.mean);
        f.push_back(l.invstd);
    }
    return f;
}

PreciseBatchNorm::PreciseBatchNorm(Graph& g, Value output)
    : g_(g), layers_(find_layers(g)), forward_(compile(g, fetches(output), CompileOptions{.training = true})) {}

void PreciseBatchNorm::recalibrate(const std::function<Feeds(int64_t)>& feeds, int64_t batches) {
    if (batches <= 0) throw_graph("precise batch norm: batches must be positive, got {}", batches);
    std::vector<std::vector<double>> mean_sum(layers_.size()), var_sum(layers_.size());
    for (int64_t b = 0; b < batches; ++b) {
        const std::vector<Tensor> out = forward_.run(feeds(b));
        for (std::size_t l = 0; l < layers_.size(); ++l) {
            const Tensor& mean = out[1 + 2 * l];
            const Tensor& invstd = out[2 + 2 * l];
            const Layer& L = layers_[l];
            // Unbiased like the running update: PyTorch refuses one value per channel too.
            const double unbias = L.count > 1 ? static_cast<double>(L.count) / static_cast<double>(L.count - 1) : 1.0;
            mean_sum[l].resize(static_cast<std::size_t>(mean.numel()));
            var_sum[l].resize(static_cast<std::size_t>(mean.numel()));
            for (int64_t c = 0; c < mean.numel(); ++c) {
                const double is = invstd.get(c);
                mean_sum[l][static_cast<std::size_t>(c)] += mean.get(c);
                var_sum[l][static_cast<std::size_t>(c)] += (1.0 / (is * is) - L.eps) * unbias;
            }
        }
    }
    for (std::size_t l = 0; l < layers_.size(); ++l) {
        Tensor& rm = g_.store().get(layers_[l].running_mean);
        Tensor& rv = g_.store().get(layers_[l].running_var);
        for (int64_t c = 0; c < rm.numel(); ++c) {
            rm.set(c, mean_sum[l][static_cast<std::size_t>(c)] / static_cast<double>(batches));
            rv.set(c, var_sum[l][static_cast<std::size_t>(c)] / static_cast<double>(batches));
        }
    }
}

}  // namespace gg::optim
