#include "graphgrad/optim/make_optimizer.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "graphgrad/optim/adagrad.h"
#include "graphgrad/optim/adam.h"
#include "graphgrad/optim/rmsprop.h"

namespace gg::optim {
namespace {

struct DoubleField {
    const char* name;
    std::optional<double> OptimizerOptions::*field;
};
struct BoolField {
    const char* name;
    std::optional<bool> OptimizerOptions::*field;
};
constexpr DoubleField kDoubles[] = {
    {"lr", &OptimizerOptions::lr},
    {"momentum", &OptimizerOptions::momentum},
    {"dampening", &OptimizerOptions::dampening},
    {"weight_decay", &OptimizerOptions::weight_decay},
    {"alpha", &OptimizerOptions::alpha},
    {"eps", &OptimizerOptions::eps},
    {"beta1", &OptimizerOptions::beta1},
    {"beta2", &OptimizerOptions::beta2},
    {"lr_decay", &OptimizerOptions::lr_decay},
    {"initial_accumulator_value", &OptimizerOptions::initial_accumulator_value},
};
constexpr BoolField kBools[] = {
    {"nesterov", &OptimizerOptions::nesterov},
    {"centered", &OptimizerOptions::centered},
    {"amsgrad", &OptimizerOptions::amsgrad},
};

double parse_double(std::string_view name, std::string_view text) {
    double v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
        throw_graph("optimizer option {}: \"{}\" is not a number", name, text);
    return v;
}

// Rejects options that `optimizer` does not have, naming the ones it does.
void check_allowed(const OptimizerOptions& o, const char* optimizer, const std::vector<std::string_view>& allowed) {
    auto fail = [&](const char* field) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        throw_graph("optimizer {} has no option \"{}\" (it takes: {})", optimizer, field, list);
    };
    auto ok = [&](const char* field) { return std::find(allowed.begin(), allowed.end(), field) != allowed.end(); };
    for (const auto& f : kDoubles)
        if ((o.*f.field).has_value() && !ok(f.name)) fail(f.name);
    for (const auto& f : kBools)
        if ((o.*f.field).has_value() && !ok(f.name)) fail(f.name);
}

template <typename T>
void take(T& dst, const std::optional<T>& src) {
    if (src) dst = *src;
}

}  // namespace

void OptimizerOptions::set(std::string_view name, std::string_view value) {
    if (name == "betas") {  // PyTorch's tuple spelling: "0.9,0.999"
        auto comma = value.find(',');
        if (comma == std::string_view::npos) throw_graph("optimizer option betas: expected \"beta1,beta2\", got \"{}\"", value);
        beta1 = parse_double("beta1", value.substr(0, comma));
        beta2 = parse_double("beta2", value.substr(comma + 1));
        return;
    }
    for (const auto& f : kDoubles)
        if (name == f.name) {
            this->*f.field = parse_double(name, value);
            return;
        }
    for (const auto& f : kBools)
        if (name == f.name) {
            if (value == "true" || value == "1") this->*f.field = true;
            else if (value == "false" || value == "0") this->*f.field = false;
            else throw_graph("optimizer option {}: \"{}\" is not true/false", name, value);
            return;
        }
    throw_graph("unknown optimizer option \"{}\"", name);
}

const std::vector<std::string>& optimizer_names() {
    static const std::vector<std::string> names{"sgd", "adagrad", "rmsprop", "adam", "adamw"};
    return names;
}

std::unique_ptr<Optimizer> make_optimizer(std::string_view name, Graph& g, const std::vector<Value>& params,
                                          const OptimizerOptions& o) {
    std::string n(name);
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (n == "sgd") {
        check_allowed(o, "sgd", {"lr", "momentum", "dampening", "weight_decay", "nesterov"});
        SgdOptions s;
        take(s.lr, o.lr); take(s.momentum, o.momentum); take(s.dampening, o.dampening);
        take(s.weight_decay, o.weight_decay); take(s.nesterov, o.nesterov);
        return std::make_unique<Sgd>(g, params, s);
    }
    if (n == "adagrad") {
        check_allowed(o, "adagrad", {"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"});
        AdagradOptions s;
        take(s.lr, o.lr); take(s.lr_decay, o.lr_decay); take(s.weight_decay, o.weight_decay);
        take(s.initial_accumulator_value, o.initial_accumulator_value); take(s.eps, o.eps);
        return std::make_unique<Adagrad>(g, params, s);
    }
    if (n == "rmsprop") {
        check_allowed(o, "rmsprop", {"lr", "alpha", "eps", "weight_decay", "momentum", "centered"});
        RmsPropOptions s;
        take(s.lr, o.lr); take(s.alpha, o.alpha); take(s.eps, o.eps); take(s.weight_decay, o.weight_decay);
        take(s.momentum, o.momentum); take(s.centered, o.centered);
        return std::make_unique<RmsProp>(g, params, s);
    }
    if (n == "adam" || n == "adamw") {
        check_allowed(o, n.c_str(), {"lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad"});
        auto fill = [&](auto s) {
            take(s.lr, o.lr); take(s.beta1, o.beta1); take(s.beta2, o.beta2); take(s.eps, o.eps);
            take(s.weight_decay, o.weight_decay); take(s.amsgrad, o.amsgrad);
            return s;
        };
        if (n == "adam") return std::make_unique<Adam>(g, params, fill(AdamOptions{}));
        return std::make_unique<AdamW>(g, params, fill(AdamWOptions{}));
    }
    std::string list;
    for (const auto& k : optimizer_names()) list += (list.empty() ? "" : ", ") + k;
    throw_graph("unknown optimizer \"{}\" (known: {})", name, list);
}

}  // namespace gg::optim
