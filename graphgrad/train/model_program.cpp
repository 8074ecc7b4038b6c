#include "graphgrad/train/model_program.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

#include <fmt/format.h>

#include "graphgrad/ops/ops.h"

namespace gg::train {

std::vector<Value> ModelProgram::train_fetches() const {
    std::vector<Value> f{loss, logits};
    f.insert(f.end(), grads.begin(), grads.end());
    return f;
}

int64_t ModelProgram::num_parameters() const {
    int64_t n = 0;
    for (const Value& p : params) n += p.numel();
    return n;
}

const models::ModelEntry& find_zoo_model(const std::string& name) {
    const auto& zoo = models::model_zoo();
    for (const auto& e : zoo)
        if (e.name == name) return e;
    std::string names;
    for (const auto& e : zoo) names += (names.empty() ? "" : ", ") + e.name;
    throw OptionError(fmt::format("unknown model \"{}\" (known: {})", name, names));
}

std::unique_ptr<ModelProgram> build_classifier_program(const ClassifierFn& model, int64_t batch, const Shape& chw,
                                                       uint64_t seed, bool with_grads, int64_t num_classes) {
    if (batch < 1) throw OptionError(fmt::format("the batch size must be positive, got {}", batch));
    if (num_classes < 2) throw OptionError(fmt::format("a classifier needs at least 2 classes, got {}", num_classes));
    if (chw.size() != 3) throw OptionError(fmt::format("input must be C x H x W, got {}", shape_str(chw)));
    auto p = std::make_unique<ModelProgram>();
    p->graph = std::make_unique<Graph>(seed);
    Graph& g = *p->graph;
    p->x = g.input("x", {batch, chw[0], chw[1], chw[2]});
    p->y = g.input("y", {batch}, DType::I64);
    p->logits = model(p->x, num_classes);
    if (p->logits.shape() != Shape{batch, num_classes})
        throw OptionError(fmt::format("the model returned {}, expected logits [{}, {}]", desc_str(p->logits.desc()),
                                      batch, num_classes));
    p->loss = cross_entropy(p->logits, p->y);
    p->params = g.parameters();
    if (with_grads) p->grads = grad(p->loss, p->params);
    return p;
}

std::unique_ptr<ModelProgram> build_model_program(const std::string& model, int64_t batch, const Shape& chw,
                                                  uint64_t seed, bool with_grads, int64_t num_classes) {
    const models::ModelEntry& entry = find_zoo_model(model);
    auto p = build_classifier_program(entry.build, batch, chw, seed, with_grads, num_classes);
    p->entry = &entry;
    return p;
}

Shape parse_chw(const std::string& text) {
    Shape s;
    std::stringstream in(text);
    std::string part;
    while (std::getline(in, part, 'x')) {
        try {
            std::size_t used = 0;
            long long v = std::stoll(part, &used);
            if (used != part.size() || v < 1) throw std::invalid_argument(part);
            s.push_back(v);
        } catch (const std::exception&) {
            throw OptionError(fmt::format("--input \"{}\": expected CxHxW with positive sizes, e.g. 1x28x28", text));
        }
    }
    if (s.size() != 3) throw OptionError(fmt::format("--input \"{}\": expected CxHxW, e.g. 1x28x28", text));
    return s;
}

std::string chw_str(const Shape& chw) { return fmt::format("{}", fmt::join(chw, "x")); }

}  // namespace gg::train
