// The demo MLP shared by `graphgrad train-mlp` and `graphgrad bench mlp`: a small ReLU
// network trained with an optim/ optimizer (SGD by default) on generated, seeded data,
// written with the public graph API only (what a user would copy). The labels come from a
// random "teacher" network (argmax of tanh(x·T1)·T2, boundaries bent by the tanh), so the
// task needs no download and the held-out accuracy (about 89% after the default 300 steps)
// shows the student generalises rather than memorises.
//
//   gg::cli::MlpDemo demo(gg::cli::MlpConfig{});
//   for (int s = 0; s < 300; ++s) demo.train_step();   // returns the batch loss
//   double acc = demo.accuracy(demo.test_data());
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graphgrad/ops/ops.h"
#include "graphgrad/optim/optimizer.h"

namespace gg::cli {

struct MlpConfig {
    int64_t inputs = 16;
    int64_t hidden = 64;         // two hidden layers of this width
    int64_t classes = 4;
    int64_t batch = 64;
    int64_t train_size = 4096;   // rounded up to a multiple of batch
    int64_t test_size = 1024;    // held out, same teacher
    std::string optimizer = "sgd";  // any name gg::optim::make_optimizer knows
    std::optional<double> lr;       // unset: 0.1 for sgd, the optimizer's default otherwise
    std::optional<double> momentum; // sgd and rmsprop only
    uint64_t seed = 7;
};

struct Dataset {
    Tensor x;  // f32 [n, inputs]
    Tensor y;  // i64 [n], class labels
    int64_t size() const { return x.defined() ? x.shape()[0] : 0; }
};

class MlpDemo {
public:
    explicit MlpDemo(const MlpConfig& config);
    MlpDemo(const MlpDemo&) = delete;
    MlpDemo& operator=(const MlpDemo&) = delete;

    // One optimizer step on the next minibatch (reshuffled every epoch); returns the batch loss.
    double train_step();
    // Share of correctly classified samples, evaluated with the forward-only program.
    double accuracy(const Dataset& data);

    const Dataset& train_data() const { return train_; }
    const Dataset& test_data() const { return test_; }
    const CompiledGraph& step_program() const { return *step_; }
    const CompiledGraph& eval_program() const { return *eval_; }
    int64_t num_parameters() const;
    const optim::Optimizer& optimizer() const { return *optimizer_; }
    int64_t steps_done() const { return steps_; }
    const MlpConfig& config() const { return config_; }

private:
    void load_batch(const Dataset& data, const std::vector<int64_t>& rows, int64_t first);

    MlpConfig config_;
    Dataset train_, test_;
    Graph graph_;  // Values point at it: the demo object never moves (copy and move deleted)
    Value x_, y_, logits_, loss_;
    std::vector<Value> params_;
    std::optional<CompiledGraph> step_, eval_;  // made in the constructor, after the graph
    std::unique_ptr<optim::Optimizer> optimizer_;
    Tensor x_batch_, y_batch_;                  // feed buffers, refilled in place every step
    std::vector<int64_t> order_;                // sample order of the current epoch
    int64_t steps_ = 0;
};

}  // namespace gg::cli
