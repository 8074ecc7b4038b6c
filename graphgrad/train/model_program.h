// A classifier as a program: x [B, C, H, W] → model → logits [B, classes], cross-entropy
// against labels y [B], and optionally the gradients of the loss over every trainable
// parameter. The model is any graph-code function (your own, or a zoo entry by name); the CLI's
// train, eval, summary, dot, logits and bench train-step all build their graphs this way.
//
//   auto p = gg::train::build_classifier_program(
//       [](gg::Value x, int64_t classes) { return my_net(x, classes); }, 64, {1, 28, 28}, /*seed=*/1, true);
//   auto step = gg::compile(*p->graph, p->train_fetches());   // loss, logits, gradients
//   auto eval = gg::compile(*p->graph, {p->logits});           // batch norm: running stats
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "graphgrad/graph/graph.h"
#include "graphgrad/models/model_zoo.h"

namespace gg::train {

// Builds the model on x and returns logits [B, num_classes].
using ClassifierFn = std::function<Value(Value x, int64_t num_classes)>;

struct ModelProgram {
    // Heap-held: Values point at their Graph, so the graph must never move.
    std::unique_ptr<Graph> graph;
    const models::ModelEntry* entry = nullptr;  // set for zoo models
    Value x, y, logits, loss;
    std::vector<Value> params;  // trainable, in graph order
    std::vector<Value> grads;   // ∂loss/∂params (empty unless built with grads)

    // {loss, logits, grads...}: what a training step fetches (logits for train accuracy).
    std::vector<Value> train_fetches() const;
    int64_t num_parameters() const;
};

std::unique_ptr<ModelProgram> build_classifier_program(const ClassifierFn& model, int64_t batch, const Shape& chw,
                                                       uint64_t seed, bool with_grads, int64_t num_classes = 10);

// A zoo model by name; an unknown name is an OptionError listing the zoo.
const models::ModelEntry& find_zoo_model(const std::string& name);
std::unique_ptr<ModelProgram> build_model_program(const std::string& model, int64_t batch, const Shape& chw,
                                                  uint64_t seed, bool with_grads, int64_t num_classes = 10);

// "1x28x28" → {1, 28, 28}; OptionError when malformed.
Shape parse_chw(const std::string& text);
// Written as "1x28x28" in help texts and JSON.
std::string chw_str(const Shape& chw);

}  // namespace gg::train
