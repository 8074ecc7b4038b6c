// A zoo classifier as the CLI uses it (train, eval, summary, dot, logits, bench train-step):
// x [B, C, H, W] → models::find_model(name).build → logits [B, classes], cross-entropy
// against labels y [B], and optionally the gradients of the loss over every trainable
// parameter. Also the host-side evaluation loop shared by `train` and `eval`.
//
//   auto p = gg::train::build_model_program("lenet5", 64, {1, 28, 28}, /*seed=*/1, /*grads=*/true);
//   auto step = gg::compile(*p->graph, p->train_fetches());   // loss, logits, gradients
//   auto eval = gg::compile(*p->graph, {p->logits});           // batch norm: running stats
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/io/dataset.h"
#include "graphgrad/models/model_zoo.h"

namespace gg::train {

struct ModelProgram {
    // Heap-held: Values point at their Graph, so the graph must never move.
    std::unique_ptr<Graph> graph;
    const models::ModelEntry* entry = nullptr;
    Value x, y, logits, loss;
    std::vector<Value> params;  // trainable, in graph order
    std::vector<Value> grads;   // ∂loss/∂params (empty unless built with grads)

    // {loss, logits, grads...}: what a training step fetches (logits for train accuracy).
    std::vector<Value> train_fetches() const;
    int64_t num_parameters() const;
};

// Throws OptionError (exit status 2) for an unknown model, listing the zoo.
const models::ModelEntry& find_model_or_usage_error(const std::string& name);

std::unique_ptr<ModelProgram> build_model_program(const std::string& model, int64_t batch, const Shape& chw,
                                                  uint64_t seed, bool with_grads, int64_t num_classes = 10);

// "1x28x28" → {1, 28, 28}; OptionError when malformed.
Shape parse_chw(const std::string& text);

// Mean cross-entropy numerator and correct count over the first `valid` rows of f32 logits
// [B, C] (host side, so padded rows of a fixed-shape evaluation batch are not counted).
struct BatchScore {
    double loss_sum = 0;
    int64_t correct = 0;
};
BatchScore score_batch(const Tensor& logits, const Tensor& labels, int64_t valid);

struct EvalResult {
    double loss = 0, accuracy = 0;
    int64_t samples = 0;
    double seconds = 0;
};
// Runs the forward-only program over every test sample in fixed-shape batches
// (LastBatch::Pad: the last batch is padded, its padding ignored).
EvalResult evaluate(CompiledGraph& eval, const ModelProgram& p, const io::ImageDataset& data);

// The first n samples of `data` (n <= 0 or >= count: all of it), for quick runs.
io::ImageDataset take_first(const io::ImageDataset& data, int64_t n);

// Stored as "1x28x28" in help texts and JSON.
std::string chw_str(const Shape& chw);

}  // namespace gg::train
