#include "graphgrad/train/model_program.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

#include <fmt/format.h>

#include "graphgrad/train/report_format.h"
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

const models::ModelEntry& find_model_or_usage_error(const std::string& name) {
    const auto& zoo = models::model_zoo();
    for (const auto& e : zoo)
        if (e.name == name) return e;
    std::string names;
    for (const auto& e : zoo) names += (names.empty() ? "" : ", ") + e.name;
    throw OptionError(fmt::format("unknown model \"{}\" (known: {})", name, names));
}

std::unique_ptr<ModelProgram> build_model_program(const std::string& model, int64_t batch, const Shape& chw,
                                                  uint64_t seed, bool with_grads, int64_t num_classes) {
    if (batch < 1) throw OptionError("--batch must be positive");
    if (chw.size() != 3) throw OptionError(fmt::format("input must be C x H x W, got {}", shape_str(chw)));
    auto p = std::make_unique<ModelProgram>();
    p->entry = &find_model_or_usage_error(model);
    p->graph = std::make_unique<Graph>(seed);
    Graph& g = *p->graph;
    p->x = g.input("x", {batch, chw[0], chw[1], chw[2]});
    p->y = g.input("y", {batch}, DType::I64);
    p->logits = p->entry->build(p->x, num_classes);
    p->loss = cross_entropy(p->logits, p->y);
    p->params = g.parameters();
    if (with_grads) p->grads = grad(p->loss, p->params);
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

BatchScore score_batch(const Tensor& logits, const Tensor& labels, int64_t valid) {
    const int64_t classes = logits.shape().at(1);
    const float* z = logits.data<float>();
    const int64_t* y = labels.data<int64_t>();
    BatchScore s;
    for (int64_t r = 0; r < valid; ++r) {
        const float* row = z + r * classes;
        const float* best = std::max_element(row, row + classes);
        // log-sum-exp around the maximum: exact cross-entropy without overflow.
        double sum = 0;
        for (int64_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(row[c]) - *best);
        s.loss_sum += std::log(sum) + *best - row[y[r]];
        s.correct += (best - row) == y[r];
    }
    return s;
}

EvalResult evaluate(CompiledGraph& eval, const ModelProgram& p, const io::ImageDataset& data) {
    const int64_t batch = p.x.dim(0);
    io::BatchLoader loader(data, {.batch_size = batch, .shuffle = false, .last_batch = io::LastBatch::Pad});
    loader.start_epoch(0);
    // Feed buffers made once and refilled: run() reads them through the pointers we pass.
    Tensor images(p.x.desc()), labels(p.y.desc());
    EvalResult r;
    BatchScore total;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t b = 0; b < loader.num_batches(); ++b) {
        int64_t valid = loader.fill(b, images, labels);
        Tensor logits = eval.run({{p.x, images}})[0];
        BatchScore s = score_batch(logits, labels, valid);
        total.loss_sum += s.loss_sum;
        total.correct += s.correct;
        r.samples += valid;
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r.samples > 0) {
        r.loss = total.loss_sum / static_cast<double>(r.samples);
        r.accuracy = static_cast<double>(total.correct) / static_cast<double>(r.samples);
    }
    return r;
}

io::ImageDataset take_first(const io::ImageDataset& data, int64_t n) {
    if (n <= 0 || n >= data.count) return data;
    io::ImageDataset d;
    d.count = n;
    d.rows = data.rows;
    d.cols = data.cols;
    d.num_classes = data.num_classes;
    d.pixels.assign(data.pixels.begin(), data.pixels.begin() + n * data.rows * data.cols);
    d.labels.assign(data.labels.begin(), data.labels.begin() + n);
    return d;
}

}  // namespace gg::train
