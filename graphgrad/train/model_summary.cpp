#include "graphgrad/train/model_summary.h"

#include <algorithm>
#include <any>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph_algorithms.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/train/model_program.h"
#include "graphgrad/ops/conv.h"
#include "graphgrad/ops/pooling.h"

namespace gg::train {
namespace {

bool all_digits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool is_op(const Node& n, const char* name) { return n.op->name == name; }

// Receptive field bookkeeping of one value: r = field in input pixels, j = distance in input
// pixels between neighbouring elements (the product of strides so far). Doubles because
// transposed convolutions and upsampling make j fractional.
struct Field {
    bool spatial = false;  // depends on the input through [N, C, H, W] values
    std::array<double, 2> r{1, 1}, j{1, 1};
};

// Stride of one axis from sizes alone: the smallest s for which some total padding in
// [0, 2·(k − 1)] gives out = ⌊(in + P − k)/s⌋ + 1. Exact for the usual convolutions and
// pools (e.g. 28 → 14 with k = 3 gives 2, 7 → 2 with k = 3 gives 3).
int64_t infer_stride(int64_t in, int64_t out, int64_t k) {
    for (int64_t s = 1; s <= std::max<int64_t>(in, 1); ++s)
        for (int64_t pad = 0; pad <= 2 * (k - 1); ++pad)
            if (in + pad >= k && (in + pad - k) / s + 1 == out) return s;
    return std::max<int64_t>(1, std::llround(static_cast<double>(in) / static_cast<double>(std::max<int64_t>(out, 1))));
}

// Pool kernel and stride per axis. The attributes are private to ops/pooling.cpp, but if the
// node stores the public Pool2dOptions we use them; otherwise assume kernel == stride
// (PyTorch's default) and infer it from the sizes.
std::pair<std::array<int64_t, 2>, std::array<int64_t, 2>> pool_geometry(const Node& n, const Shape& in,
                                                                         const Shape& out) {
    if (const auto* o = std::any_cast<Pool2dOptions>(&n.attrs)) {
        std::array<int64_t, 2> s{o->stride[0] ? o->stride[0] : o->kernel[0], o->stride[1] ? o->stride[1] : o->kernel[1]};
        return {o->kernel, s};
    }
    std::array<int64_t, 2> k{};
    for (int a = 0; a < 2; ++a) {
        k[a] = 1;
        for (int64_t s = 1; s <= in[2 + a]; ++s)
            if (infer_stride(in[2 + a], out[2 + a], s) == s) {
                k[a] = s;
                break;
            }
    }
    return {k, k};
}

// The field of a node's output from its inputs' fields.
Field propagate(const Node& n, const std::vector<Field>& in_fields) {
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
    }
    if (!f.spatial || n.inputs.empty()) return f;
    const Shape& in = n.inputs[0].shape();
    const Shape& out = n.outputs[0].shape;
    if (in.size() != 4 || out.size() != 4) return f;
    if (is_op(n, "conv2d")) {
        const Shape& w = n.inputs.at(1).shape();
        std::array<int64_t, 2> dil{1, 1};
        if (const auto* o = std::any_cast<Conv2dOptions>(&n.attrs)) dil = o->dilation;
        for (int a = 0; a < 2; ++a) {
            int64_t k = dil[a] * (w[2 + a] - 1) + 1;  // effective (dilated) kernel
            f.r[a] += static_cast<double>(k - 1) * f.j[a];
            f.j[a] *= static_cast<double>(infer_stride(in[2 + a], out[2 + a], k));
        }
    } else if (is_op(n, "max_pool2d") || is_op(n, "avg_pool2d")) {
        auto [k, s] = pool_geometry(n, in, out);
        for (int a = 0; a < 2; ++a) {
            f.r[a] += static_cast<double>(k[a] - 1) * f.j[a];
            f.j[a] *= static_cast<double>(s[a]);
        }
    } else if (is_op(n, "global_avg_pool2d") ||
               (in[2] > 1 && in[3] > 1 && out[2] == 1 && out[3] == 1 && n.inputs.size() == 1)) {
        // Global pooling, whatever op implements it (global_avg_pool2d is a mean over H, W):
        // one output element sees the whole input plane.
        for (int a = 0; a < 2; ++a) f.r[a] += static_cast<double>(in[2 + a] - 1) * f.j[a];
    } else if (is_op(n, "conv_transpose2d") || is_op(n, "upsample_nearest2d")) {
        const bool conv = is_op(n, "conv_transpose2d");
        for (int a = 0; a < 2; ++a) {
            if (conv) f.r[a] += static_cast<double>(n.inputs.at(1).shape()[2 + a] - 1) * f.j[a];
            f.j[a] *= static_cast<double>(in[2 + a]) / static_cast<double>(out[2 + a]);  // upsampling: j shrinks
        }
    }
    return f;
}

int64_t node_macs(const Node& n) {
    const Shape& out = n.outputs.at(0).shape;
    if (is_op(n, "matmul")) {
        // out [..., M, N]; a is [..., M, K], or [..., K, M] when read transposed.
        const Shape& a = n.inputs.at(0).shape();
        if (a.size() < 2 || out.size() < 2) return 0;
        int64_t k = a[a.size() - 2] == out[out.size() - 2] ? a.back() : a[a.size() - 2];
        return numel(out) * k;
    }
    if (is_op(n, "conv2d")) {  // N·O·Ho·Wo·(C/g)·kh·kw
        const Shape& w = n.inputs.at(1).shape();
        return numel(out) * w[1] * w[2] * w[3];
    }
    if (is_op(n, "conv_transpose2d")) {  // every input element scatters into (O/g)·kh·kw outputs
        const Shape& w = n.inputs.at(1).shape();
        return numel(n.inputs.at(0).shape()) * w[1] * w[2] * w[3];
    }
    return 0;
}

std::optional<ReceptiveField> field_of(const Field& f, const Shape& out) {
    if (!f.spatial || out.size() != 4) return std::nullopt;
    return ReceptiveField{std::llround(f.r[0]), std::llround(f.r[1])};
}

}  // namespace

std::string layer_group(const std::string& node_name) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t dot; (dot = node_name.find('.', start)) != std::string::npos; start = dot + 1)
        parts.push_back(node_name.substr(start, dot - start));
    if (parts.empty()) return node_name;  // unscoped: a layer of its own
    // One numeric level keeps a repeated block together ("layer1.0", "features.3") without
    // splitting it into its sub-modules ("layer1.0.shortcut.0").
    return parts.size() > 1 && all_digits(parts[1]) ? parts[0] + "." + parts[1] : parts[0];
}

ModelSummary summarize_graph(const Graph& g, Value input, Value output) {
    ModelSummary s;
    s.input = input.shape();
    const std::vector<int32_t> nodes = reachable_nodes(g, {output});  // ascending ids: topological

    // First reader of every node, so parameters join the layer that uses them.
    std::map<int32_t, int32_t> first_reader;
    for (int32_t id : nodes)
        for (const Value& v : g.node(id).inputs) first_reader.try_emplace(v.node, id);

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
        if (n.op->is_source) {
            Field f;
            f.spatial = id == input.node;
            fields[id] = f;
            continue;
        }
        std::vector<Field> in_fields;
        for (const Value& v : n.inputs) in_fields.push_back(fields[v.node]);
        Field f = propagate(n, in_fields);
        fields[id] = f;

        std::string group = layer_group(n.name);
        if (n.name.find('.') == std::string::npos) {
            // Unscoped helpers of a scoped layer join it: `matmul(x, w, "fc1") + b` adds an
            // unscoped broadcast_to (reads fc1.bias) and add (reads that broadcast).
            for (const Value& v : n.inputs) {
                const Node& src = g.node(v.node);
                if (src.op->name == "parameter" && src.name.find('.') != std::string::npos) {
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
        if (std::find(l.ops.begin(), l.ops.end(), n.op->name) == l.ops.end()) l.ops.push_back(n.op->name);
        l.output = n.outputs.at(0).shape;  // ids ascend: the last node seen is the layer's output
        l.macs += node_macs(n);
        for (const auto& d : n.outputs) l.activation_bytes += d.bytes();
        l.receptive_field = field_of(f, l.output);
    }

    // Parameters and state: counted in the layer of their first reader.
    for (int32_t id : nodes) {
        const Node& n = g.node(id);
        if (n.op->name != "parameter") continue;
        auto reader = first_reader.find(id);
        if (reader == first_reader.end() || !group_of.count(reader->second)) continue;
        LayerSummary& l = s.layers[layer_index.at(group_of.at(reader->second))];
        const auto& attrs = std::any_cast<const ParameterAttrs&>(n.attrs);
        (attrs.trainable ? l.params : l.state) += n.outputs.at(0).numel();
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

ModelSummary summarize_model(const std::string& model, const Shape& chw, int64_t batch) {
    auto p = build_model_program(model, batch, chw, /*seed=*/1, /*with_grads=*/true);
    ModelSummary s = summarize_graph(*p->graph, p->x, p->logits);
    s.model = model;
    std::vector<Value> train{p->loss};
    train.insert(train.end(), p->grads.begin(), p->grads.end());
    CompiledGraph step = compile(*p->graph, train);
    CompiledGraph infer = compile(*p->graph, {p->logits});
    s.train_peak_bytes = step.peak_bytes();
    s.train_unplanned_bytes = step.memory_plan().total_bytes;
    s.inference_peak_bytes = infer.peak_bytes();
    s.inference_unplanned_bytes = infer.memory_plan().total_bytes;
    return s;
}

}  // namespace gg::train
