// Per-layer summary of a model graph for `graphgrad summary`: output shape, parameters,
// multiply-adds, activation bytes and receptive field per layer, totals, and the memory
// planner's peak for a training step and for inference.
//
// A "layer" is a group of forward nodes sharing a name-scope prefix: the first scope plus a
// numbered scope after it ("conv1.conv2d_7" → "conv1", "layer1.0.conv2.conv2d_31" →
// "layer1.0", "features.denseblock1.denselayer2.conv1.conv2d_40" → "features.denseblock1"); an unscoped node is a layer of its own ("relu_12") unless it reads a scoped
// parameter (the bias broadcast of a linear layer) or such a node (the bias add). Parameters
// and state belong to the layer of their first reader. Every figure comes from the ops'
// bundles (graph/op_rules.h), never from op names: multiply-adds from each node's cost rule;
// the receptive field r_k = r_{k−1} + (span_k − 1)·∏ s_i from each node's reach (kernel,
// stride, dilation per axis; a global reduction spans its whole input), following the input
// with the largest field where paths join (residual adds). An op that states no reach for a
// node mixes positions in ways no window describes (a flatten and matmul, attention): its
// output is taken to see the whole input.
//
//   gg::train::ModelSummary s = gg::train::summarize_model("lenet5", {1, 28, 28}, 1);
//   s.params;                                   // 61706
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "graphgrad/graph/graph.h"

namespace gg::train {

using ReceptiveField = std::array<int64_t, 2>;  // rows, cols of the input one output element sees

struct LayerSummary {
    std::string name;
    std::vector<std::string> ops;  // distinct op names in graph order
    Shape output;                  // output 0 of the layer's last node
    int64_t params = 0;            // trainable elements
    int64_t state = 0;             // persistent non-trainable elements (batch-norm statistics)
    int64_t macs = 0;              // multiply-adds of the layer's nodes (their cost rules)
    std::size_t activation_bytes = 0;               // every value the layer's nodes produce
    std::optional<ReceptiveField> receptive_field;  // set for [N, C, H, W] outputs
};

struct ModelSummary {
    std::string model;
    Shape input;  // [N, C, H, W] as fed
    std::vector<LayerSummary> layers;  // layers[0] is the input
    int64_t params = 0, state = 0, macs = 0;
    std::size_t activation_bytes = 0;
    std::optional<ReceptiveField> receptive_field;  // the largest any layer reaches
    // Planner figures (summarize_model only; 0 from summarize_graph).
    std::size_t train_peak_bytes = 0, train_unplanned_bytes = 0;
    std::size_t inference_peak_bytes = 0, inference_unplanned_bytes = 0;
    // With a memory budget: the training step compiled to fit it (train_peak_bytes is then
    // its arena) and what it recomputes; unconstrained_train_peak_bytes is the arena without.
    std::size_t memory_budget = 0, unconstrained_train_peak_bytes = 0;
    std::vector<std::string> recomputed;  // node names, in schedule order
    int64_t recompute_macs = 0;           // extra multiply-adds per training step
};

// The scope prefix a node named `node_name` is grouped under (see above).
std::string layer_group(const std::string& node_name);

// Summary of the forward graph from `input` to `output` (no compilation).
ModelSummary summarize_graph(const Graph& g, Value input, Value output);

// Builds the zoo model on [batch, C, H, W], summarizes it and compiles it twice for the
// planner's peaks: a training step (loss and every parameter gradient) and inference (logits).
// memory_budget: the training step is compiled to fit it (CompileOptions::memory_budget), which
// throws MemoryBudgetError naming the smallest reachable arena when it cannot.
ModelSummary summarize_model(const std::string& model, const Shape& chw, int64_t batch,
                             std::optional<std::size_t> memory_budget = std::nullopt);

}  // namespace gg::train
