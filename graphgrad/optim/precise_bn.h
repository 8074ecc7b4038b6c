// Precise batch-norm statistics (Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021, §3;
// fvcore's update_bn_stats): running statistics are an exponential average over steps taken
// while the weights kept moving, so when activations drift fast they describe no model in
// particular (attention_resnet on Fashion-MNIST: 15–66% test accuracy with them, 90% after
// this). With the final weights fixed, a few forward passes in training mode give each
// batch-norm layer its batch means and variances; their equal-weight average replaces
// running_mean and running_var (the variance unbiased per batch, as the running update does).
//
//   gg::optim::PreciseBatchNorm precise(graph, logits);   // compiles the forward once
//   precise.recalibrate([&](int64_t b) { loader.fill(b, images, labels); return gg::Feeds{{x, images}}; }, 100);
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"

namespace gg::optim {

class PreciseBatchNorm {
public:
    // Every batch_norm node of the forward graph (gradient nodes excluded) whose running
    // statistics are graph state; `output` is what the forward passes compute.
    PreciseBatchNorm(Graph& g, Value output);

    // Runs `batches` forward passes, feeds(b) giving batch b's feeds, and overwrites the
    // running statistics in g's store. num_batches_tracked moves as in any training pass.
    void recalibrate(const std::function<Feeds(int64_t)>& feeds, int64_t batches);

    std::size_t layers() const { return layers_.size(); }

private:
    struct Layer {
        Value mean, invstd;                    // the node's save_mean and save_invstd outputs
        std::string running_mean, running_var;  // store names
        double eps;
        int64_t count;  // elements per channel in one batch
    };
    static std::vector<Layer> find_layers(Graph& g);
    std::vector<Value> fetches(Value output) const;  // output, then each layer's mean and invstd

    Graph& g_;
    std::vector<Layer> layers_;
    CompiledGraph forward_;
};

}  // namespace gg::optim
