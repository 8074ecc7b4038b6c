// Transfer learning on a ModelProgram: freeze parameters chosen by glob patterns (they leave
// the gradient targets, so grad() builds no backward node for a frozen prefix of the network,
// and the optimizer never sees them), and find a classifier's head (the parameters whose shape
// follows the class count) so that `--init` can load every other tensor into a model whose
// head was replaced.
//
//   auto p = gg::train::build_model_program("lenet5", 64, {1, 28, 28}, 1, /*with_grads=*/false, 5);
//   auto frozen = gg::train::freeze_parameters(*p, "conv*,fc1.*");   // builds p->grads for the rest
//   auto head = gg::train::classifier_head(gg::train::find_zoo_model("lenet5").build, {1, 28, 28});
//   // head == {"fc3.bias", "fc3.weight"}: TrainerOptions::init_keep = head
//
// Batch norm in a frozen part behaves as PyTorch's requires_grad=False: its scale and shift
// stay fixed while its running statistics still follow the training batches (train mode).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "graphgrad/train/model_program.h"

namespace gg::train {

// "conv*,layer1.*" → {"conv*", "layer1.*"}; empty entries are an OptionError.
std::vector<std::string> split_patterns(const std::string& patterns);

// Shell-style match of a whole name (fnmatch(3): *, ?, [...]; '*' also crosses dots).
bool glob_matches(std::string_view pattern, std::string_view name);

// Splits `params` by comma-separated glob patterns over their names, keeping order. An
// OptionError names a pattern that matches no parameter (a typo must not silently train all).
struct ParameterSplit {
    std::vector<Value> matched, rest;
};
ParameterSplit select_parameters(const std::vector<Value>& params, const std::string& patterns);

// Freezes p's parameters matching `patterns`: p.params becomes the others and p.grads their
// gradients (p must have been built without gradients, so none exist for the frozen ones).
// Returns the frozen parameters' names. Freezing everything is an OptionError.
std::vector<std::string> freeze_parameters(ModelProgram& p, const std::string& patterns);

// The names of the parameters whose shape depends on the class count (the final classifier
// layer), found by building the model for two class counts; sorted. An OptionError when none
// does (the model has no classifier layer to replace).
std::vector<std::string> classifier_head(const ClassifierFn& model, const Shape& chw, const std::string& model_name);

}  // namespace gg::train
