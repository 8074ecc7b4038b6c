#include "graphgrad/train/transfer.h"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "graphgrad/ops/ops.h"

namespace gg::train {

std::vector<std::string> split_patterns(const std::string& patterns) {
    std::vector<std::string> out;
    std::stringstream in(patterns);
    std::string part;
    while (std::getline(in, part, ',')) {
        if (part.empty()) throw OptionError(fmt::format("parameter patterns \"{}\": an empty pattern", patterns));
        out.push_back(part);
    }
    if (out.empty()) throw OptionError("parameter patterns: none given");
    return out;
}

bool glob_matches(std::string_view pattern, std::string_view name) {
    return fnmatch(std::string(pattern).c_str(), std::string(name).c_str(), 0) == 0;
}

ParameterSplit select_parameters(const std::vector<Value>& params, const std::string& patterns) {
    const std::vector<std::string> globs = split_patterns(patterns);
    std::vector<int> hits(globs.size(), 0);
    ParameterSplit s;
    for (const Value& p : params) {
        bool any = false;
        for (std::size_t i = 0; i < globs.size(); ++i)
            if (glob_matches(globs[i], p.name())) any = true, ++hits[i];
        (any ? s.matched : s.rest).push_back(p);
    }
    for (std::size_t i = 0; i < globs.size(); ++i)
        if (hits[i] == 0) {
            std::string names;
            for (std::size_t k = 0; k < params.size() && k < 8; ++k) names += (k ? ", " : "") + params[k].name();
            throw OptionError(fmt::format("pattern \"{}\" matches no parameter (they are named like {}{})", globs[i], names,
                                          params.size() > 8 ? ", ..." : ""));
        }
    return s;
}

std::vector<std::string> freeze_parameters(ModelProgram& p, const std::string& patterns) {
    if (!p.grads.empty())
        throw OptionError("freeze_parameters: the program already has gradients for every parameter; build it without");
    ParameterSplit s = select_parameters(p.params, patterns);
    if (s.rest.empty()) throw OptionError(fmt::format("\"{}\" freezes every parameter: nothing would train", patterns));
    std::vector<std::string> frozen;
    for (const Value& v : s.matched) frozen.push_back(v.name());
    p.params = std::move(s.rest);
    // Only paths from a trainable parameter to the loss get backward nodes (grad()'s rule), so
    // a frozen prefix fed by the input gets none.
    p.grads = grad(p.loss, p.params);
    return frozen;
}

std::vector<std::string> classifier_head(const ClassifierFn& model, const Shape& chw, const std::string& model_name) {
    std::map<std::string, Shape> shapes[2];
    for (int k = 0; k < 2; ++k) {
        auto p = build_classifier_program(model, 1, chw, 1, /*with_grads=*/false, 2 + k);
        for (const Value& v : p->graph->parameters()) shapes[k][v.name()] = v.shape();
    }
    std::vector<std::string> head;
    for (const auto& [name, shape] : shapes[0]) {
        auto other = shapes[1].find(name);
        if (other == shapes[1].end() || other->second != shape) head.push_back(name);
    }
    if (head.empty())
        throw OptionError(fmt::format("{} has no classifier layer whose size follows the class count: no head to replace", model_name));
    return head;
}

}  // namespace gg::train
