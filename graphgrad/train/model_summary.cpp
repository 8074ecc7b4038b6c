#include "graphgrad/train/model_summary.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph_algorithms.h"
#include "graphgrad/graph/op_rules.h"
#include "graphgrad/train/model_program.h"

namespace gg::train {
namespace {

bool all_digits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// "3", or a numbered module such as "denseblock1", "transition2", "conv0": letters, then digits.
bool numbered(const std::string& s) {
    if (all_digits(s)) return true;
    const auto digits = std::find_if(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
    return digits != s.begin() && digits != s.end() && std::isalpha(static_cast<unsigned char>(s.front())) &&
           all_digits(std::string(digits, s.end()));
}

// Receptive field bookkeeping of one value: r = field in input pixels, j = distance in input
// pixels between neighbouring elements (the product of strides so far). Doubles because
// transposed convolutions and upsampling make j fractional.
struct Field {
    bool spatial = false;  // depends on the input through [N, C, H, W] values
    bool whole = false;    // positions were mixed: sees the whole input, and so does all that follows
    std::array<double, 2> r{1, 1}, j{1, 1};
};

// The field of a node's output from its inputs' fields and the reach its op's bundle states.
// `whole` is the model input's H and W: what an output sees when its op mixes positions in
// ways no window describes (a flatten followed by a matmul, attention over all positions).
// Past such an op, values of rank 4 need not be [N, C, H, W] grids (attention's [N, heads,
// positions, d]), so windows no longer apply: the field stays the whole input.
Field propagate(const Node& n, const std::vector<Field>& in_fields, const std::array<double, 2>& whole) {
    Field f;
    for (const Field& i : in_fields) {
        if (!i.spatial) continue;
        if (!f.spatial) {
            f = i;
            continue;
        }
        for (int a = 0; a < 2; ++a) {  // where paths join (residual add), the larger field wins
            f.r[a] = std::max(f.r[a], i.r[a]);
            f.j[a] = std::max(f.j[a], i.j[a]);
        }
        f.whole = f.whole || i.whole;
    }
    if (!f.spatial || f.whole) return f;
    const std::optional<SpatialReach> reach = node_reach(n);
    if (!reach) {
        f.whole = true;
        for (std::size_t a = 0; a < 2; ++a) f.r[a] = std::max(f.r[a], whole[a]);
        return f;
    }
    const Shape& in = n.inputs.at(static_cast<std::size_t>(reach->input)).shape();
    for (std::size_t a = 0; a < 2; ++a) {
        const AxisReach& x = reach->axes[a];
        if (x.global) {  // one output element sees the whole input plane
            f.r[a] += static_cast<double>(in.at(2 + a) - 1) * f.j[a];
            continue;
        }
        f.r[a] += static_cast<double>(x.span() - 1) * f.j[a];
        f.j[a] = x.transposed ? f.j[a] / static_cast<double>(x.stride) : f.j[a] * static_cast<double>(x.stride);
    }
    return f;
}

std::optional<ReceptiveField> field_of(const Field& f, const Shape& out) {
    if (!f.spatial || out.size() != 4) return std::nullopt;
    return ReceptiveField{std::llround(f.r[0]), std::llround(f.r[1])};
}

bool holds_parameters(const Node& n) { return n.kind() == NodeKind::Parameter || n.kind() == NodeKind::State; }

}  // namespace

std::string layer_group(const std::string& node_name) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t dot; (dot = node_name.find('.', start)) != std::string::npos; start = dot + 1)
        parts.push_back(node_name.substr(start, dot - start));
    if (parts.empty()) return node_name;  // unscoped: a layer of its own
    // One numbered level keeps a repeated block together ("layer1.0", "features.3",
    // "features.denseblock1") without splitting it into its sub-modules ("layer1.0.shortcut.0").
    return parts.size() > 1 && numbered(parts[1]) ? parts[0] + "." + parts[1] : parts[0];
}

ModelSummary summarize_graph(const Graph& g, Value input, Value output) {
    ModelSummary s;
    s.input = input.shape();
    const std::vector<int32_t> nodes = reachable_nodes(g, {output});  // ascending ids: topological

    // First reader of every node, so parameters join the layer that uses them.
    std::map<int32_t, int32_t> first_reader;
    for (int32_t id : nodes)
        for (const Value& v : g.node(id).inputs) first_reader.try_emplace(v.node, id);

    const std::array<double, 2> whole{static_cast<double>(input.dim(-2)), static_cast<double>(input.dim(-1))};
    std::map<int32_t, Field> fields;
    std::map<std::string, std::size_t> layer_index;
    std::map<int32_t, std::string> group_of;
    std::set<int32_t> reads_parameter;  // unscoped nodes grouped by the parameter they read
    LayerSummary in_layer{.name = "input", .ops = {}, .output = input.shape()};
    in_layer.activation_bytes = input.desc().bytes();
    in_layer.receptive_field = ReceptiveField{1, 1};
    s.layers.push_back(in_layer);

    auto layer_for = [&](const std::string& group) -> LayerSummary& {
        auto [it, added] = layer_index.try_emplace(group, s.layers.size());
        if (added) s.layers.push_back(LayerSummary{.name = group});
        return s.layers[it->second];
    };

    for (int32_t id : nodes) {
        const Node& n = g.node(id);
        if (n.kind() != NodeKind::Compute) {
            Field f;
            f.spatial = id == input.node;
            fields[id] = f;
            continue;
        }
        std::vector<Field> in_fields;
        for (const Value& v : n.inputs) in_fields.push_back(fields[v.node]);
        Field f = propagate(n, in_fields, whole);
        fields[id] = f;

        std::string group = layer_group(n.name);
        if (n.name.find('.') == std::string::npos) {
            // Unscoped helpers of a scoped layer join it: `matmul(x, w, "fc1") + b` adds an
            // unscoped broadcast_to (reads fc1.bias) and add (reads that broadcast).
            for (const Value& v : n.inputs) {
                const Node& src = g.node(v.node);
                if (holds_parameters(src) && src.name.find('.') != std::string::npos) {
                    group = layer_group(src.name);
                    reads_parameter.insert(id);
                    break;
                }
                if (reads_parameter.count(v.node)) {
                    group = group_of.at(v.node);
                    break;
                }
            }
        }
        group_of[id] = group;
        LayerSummary& l = layer_for(group);
        if (std::find(l.ops.begin(), l.ops.end(), n.op_name()) == l.ops.end()) l.ops.push_back(n.op_name());
        l.output = n.outputs.at(0).shape;  // ids ascend: the last node seen is the layer's output
        l.macs += node_cost(n).macs;
        for (const auto& d : n.outputs) l.activation_bytes += d.bytes();
        l.receptive_field = field_of(f, l.output);
    }

    // Parameters and state: counted in the layer of their first reader.
    for (int32_t id : nodes) {
        const Node& n = g.node(id);
        if (!holds_parameters(n)) continue;
        auto reader = first_reader.find(id);
        if (reader == first_reader.end() || !group_of.count(reader->second)) continue;
        LayerSummary& l = s.layers[layer_index.at(group_of.at(reader->second))];
        (n.kind() == NodeKind::Parameter ? l.params : l.state) += n.outputs.at(0).numel();
    }

    for (const LayerSummary& l : s.layers) {
        s.params += l.params;
        s.state += l.state;
        s.macs += l.macs;
        s.activation_bytes += l.activation_bytes;
        if (l.receptive_field && (!s.receptive_field || (*l.receptive_field)[0] * (*l.receptive_field)[1] >
                                                             (*s.receptive_field)[0] * (*s.receptive_field)[1]))
            s.receptive_field = l.receptive_field;
    }
    return s;
}

ModelSummary summarize_model(const std::string& model, const Shape& chw, int64_t batch,
                             std::optional<std::size_t> memory_budget) {
    auto p = build_model_program(model, batch, chw, /*seed=*/1, /*with_grads=*/true);
    ModelSummary s = summarize_graph(*p->graph, p->x, p->logits);
    s.model = model;
    std::vector<Value> train{p->loss};
    train.insert(train.end(), p->grads.begin(), p->grads.end());
    CompiledGraph step = compile(*p->graph, train, {.memory_budget = memory_budget});
    CompiledGraph infer = compile(*p->graph, {p->logits});
    s.train_peak_bytes = step.peak_bytes();
    s.train_unplanned_bytes = step.memory_plan().total_bytes;
    s.inference_peak_bytes = infer.peak_bytes();
    s.inference_unplanned_bytes = infer.memory_plan().total_bytes;
    const CompileReport::Remat& r = step.compile_report().remat;
    s.memory_budget = r.budget;
    s.unconstrained_train_peak_bytes = memory_budget ? r.unconstrained_bytes : step.peak_bytes();
    s.recomputed = r.recomputed;
    s.recompute_macs = r.extra_macs;
    return s;
}

}  // namespace gg::train
