// Optimizers by name, for the CLI's --optimizer flag and configuration files. Unset options
// take the optimizer's PyTorch default; an option the optimizer does not have is an error
// rather than silently ignored (a typo'd --opt momentum=0.9 for Adam should not train).
//
//   gg::optim::OptimizerOptions o{.lr = 0.1};
//   o.set("momentum", "0.9");                         // e.g. from --opt momentum=0.9
//   auto opt = gg::optim::make_optimizer("sgd", g, params, o);
//   opt->step(grads);
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graphgrad/optim/optimizer.h"

namespace gg::optim {

struct OptimizerOptions {
    std::optional<double> lr{};
    std::optional<double> momentum{};      // sgd, rmsprop
    std::optional<double> dampening{};     // sgd
    std::optional<double> weight_decay{};  // all (adamw: decoupled)
    std::optional<double> alpha{};         // rmsprop
    std::optional<double> eps{};           // adagrad, rmsprop, adam, adamw
    std::optional<double> beta1{}, beta2{};  // adam, adamw
    std::optional<double> lr_decay{};      // adagrad
    std::optional<double> initial_accumulator_value{};  // adagrad
    std::optional<bool> nesterov{};        // sgd
    std::optional<bool> centered{};        // rmsprop
    std::optional<bool> amsgrad{};         // adam, adamw

    // Sets an option by its PyTorch name ("lr", "weight_decay", "betas" = "0.9,0.999", ...);
    // booleans accept true/false/1/0. Throws on an unknown name or a malformed value.
    void set(std::string_view name, std::string_view value);
};

// "sgd", "adagrad", "rmsprop", "adam", "adamw" (case-insensitive).
std::unique_ptr<Optimizer> make_optimizer(std::string_view name, Graph& g, const std::vector<Value>& params,
                                          const OptimizerOptions& options = {});

const std::vector<std::string>& optimizer_names();

}  // namespace gg::optim
