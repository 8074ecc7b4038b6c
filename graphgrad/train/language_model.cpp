#include "graphgrad/train/language_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numbers>

#include <fmt/format.h>

#include "graphgrad/graph/rng.h"
#include "graphgrad/io/checkpoint.h"
#include "graphgrad/io/vocabulary.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/train/language_model_io.h"
#include "graphgrad/ops/ops.h"

namespace gg::train {

namespace {

constexpr double kLn2 = std::numbers::ln2;

struct NamedCell {
    const char* model;
    RnnCell cell;
};
constexpr NamedCell kModels[] = {{"char_lstm", RnnCell::Lstm}, {"char_gru", RnnCell::Gru}, {"char_rnn", RnnCell::RnnTanh}};

models::RecurrentOptions recurrent_options(const CharModelOptions& o) {
    return {.cell = o.cell, .hidden = o.hidden, .layers = o.layers, .dropout = o.dropout, .fused = o.fused};
}

std::vector<Value> eval_fetches(const LanguageModelProgram& p) {
    std::vector<Value> f{p.loss};
    for (const auto& [from, to] : p.carry()) f.push_back(from);
    return f;
}

}  // namespace

const std::vector<std::string>& language_model_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> n;
        for (const NamedCell& m : kModels) n.emplace_back(m.model);
        return n;
    }();
    return names;
}

bool is_language_model(const std::string& name) {
    return std::any_of(std::begin(kModels), std::end(kModels), [&](const NamedCell& m) { return name == m.model; });
}

CharModelOptions language_model_options(const std::string& name) {
    for (const NamedCell& m : kModels)
        if (name == m.model) return {.cell = m.cell};
    throw OptionError(fmt::format("unknown language model \"{}\" (known: {})", name, fmt::join(language_model_names(), ", ")));
}

std::vector<std::pair<Value, Value>> LanguageModelProgram::carry() const {
    std::vector<std::pair<Value, Value>> c{{*final.h, *initial.h}};
    if (initial.c) c.emplace_back(*final.c, *initial.c);
    return c;
}

int64_t LanguageModelProgram::num_parameters() const {
    int64_t n = 0;
    for (const Value& v : params) n += v.numel();
    return n;
}

std::unique_ptr<LanguageModelProgram> build_char_model(const CharModelOptions& o, int64_t vocab, int64_t window,
                                                       int64_t batch, uint64_t seed, bool with_grads) {
    if (vocab < 2 || window < 1 || batch < 1 || o.embedding < 1 || o.hidden < 1 || o.layers < 1)
        throw OptionError(fmt::format("char model: vocabulary {} (>= 2), window {}, batch {}, embedding {}, hidden {} "
                                      "and layers {} must be positive",
                                      vocab, window, batch, o.embedding, o.hidden, o.layers));
    if (!(o.dropout >= 0 && o.dropout < 1)) throw OptionError(fmt::format("char model: dropout {} is not in [0, 1)", o.dropout));
    auto p = std::make_unique<LanguageModelProgram>();
    p->graph = std::make_unique<Graph>(seed);
    p->options = o;
    p->vocab = vocab;
    p->window = window;
    p->batch = batch;
    Graph& g = *p->graph;
    p->tokens = g.input("tokens", {window, batch}, DType::I64);
    p->targets = g.input("targets", {window, batch}, DType::I64);
    const models::RecurrentOptions ro = recurrent_options(o);
    p->initial = models::recurrent_state_inputs(g, ro, batch, "rnn");
    Value table = g.parameter("embedding.weight", {vocab, o.embedding}, init::normal());  // nn.Embedding's N(0, 1)
    Value x = embedding(table, p->tokens);                                                 // [T, B, E]
    models::RecurrentOutput r = models::recurrent(x, ro, "rnn", p->initial);
    p->final = r.final;
    p->logits = models::linear(reshape(r.y, {window * batch, o.hidden}), vocab, "decoder");
    p->loss = cross_entropy(p->logits, reshape(p->targets, {window * batch}));
    p->params = g.parameters();
    if (with_grads) p->grads = grad(p->loss, p->params);
    return p;
}

StreamBatches::StreamBatches(std::span<const int64_t> ids, int64_t batch, int64_t window, int64_t limit)
    : batcher_(ids, batch, window), limit_(limit) {
    if (batcher_.num_windows() < 1)
        throw OptionError(fmt::format("{} tokens make no full window of {} steps in {} streams", ids.size(), window, batch));
}

int64_t StreamBatches::num_batches() const {
    return limit_ > 0 ? std::min(limit_, batcher_.num_windows()) : batcher_.num_windows();
}

int64_t StreamBatches::fill(int64_t b, std::vector<Tensor>& feeds) {
    if (feeds.size() != 2) throw OptionError(fmt::format("stream batches feed tokens and targets, the task has {} inputs", feeds.size()));
    batcher_.fill(b, feeds[0], feeds[1]);
    return batcher_.batch();
}

void BitsPerTokenMetric::add(const std::vector<Tensor>& watched, const std::vector<Tensor>&, int64_t) {
    if (watched.empty()) throw OptionError("bits per token: needs the loss as the first watched value");
    sum_ += watched[0].get(0);
    ++count_;
}

double BitsPerTokenMetric::value() const { return count_ ? sum_ / static_cast<double>(count_) / kLn2 : 0.0; }

CompiledGraph compile_language_model_eval(const LanguageModelProgram& p) {
    return compile(*p.graph, eval_fetches(p), {.training = false});
}

EvalResult evaluate_language_model(CompiledGraph& eval, const LanguageModelProgram& p, std::span<const int64_t> ids,
                                   int64_t limit) {
    const auto t0 = std::chrono::steady_clock::now();
    io::StreamBatcher batcher(ids, p.batch, p.window);
    int64_t windows = batcher.num_windows();
    if (limit > 0) windows = std::min(windows, limit);
    if (windows < 1)
        throw OptionError(fmt::format("evaluation: {} tokens make no full window of {} steps in {} streams", ids.size(),
                                      p.window, p.batch));
    Tensor tokens(p.tokens.desc()), targets(p.targets.desc());
    const auto carry = p.carry();
    std::vector<Tensor> states;
    Feeds feeds{{p.tokens, tokens}, {p.targets, targets}};
    for (const auto& [from, to] : carry) {
        states.push_back(Tensor::zeros(to.shape(), to.dtype()));
        feeds.emplace_back(to, states.back());
    }
    double sum = 0;
    for (int64_t w = 0; w < windows; ++w) {
        batcher.fill(w, tokens, targets);
        std::vector<Tensor> out = eval.run(feeds);
        sum += out[0].get(0);
        for (std::size_t c = 0; c < states.size(); ++c) std::memcpy(states[c].raw(), out[1 + c].raw(), states[c].bytes());
    }
    EvalResult r;
    r.loss = sum / static_cast<double>(windows);
    r.metric = r.loss / kLn2;
    r.samples = windows * p.window * p.batch;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

void record_char_model(io::Metadata& meta, const std::string& model, const CharModelOptions& o) {
    meta["model"] = model;
    meta["lm.cell"] = rnn_cell_name(o.cell);
    meta["lm.embedding"] = std::to_string(o.embedding);
    meta["lm.hidden"] = std::to_string(o.hidden);
    meta["lm.layers"] = std::to_string(o.layers);
    meta["lm.dropout"] = fmt::format("{:.17g}", o.dropout);
}

std::pair<std::string, CharModelOptions> recorded_char_model(const io::Metadata& meta, const std::string& source) {
    auto model = meta.find("model");
    if (model == meta.end() || !is_language_model(model->second))
        throw io::DataError(fmt::format("{}: not a language-model checkpoint (its model is \"{}\"; known: {})", source,
                                        model == meta.end() ? "" : model->second, fmt::join(language_model_names(), ", ")));
    CharModelOptions o = language_model_options(model->second);
    auto need = [&](const char* key, int64_t max) {
        auto v = io::metadata_int(meta, key, source, 1, max);
        if (!v) throw io::DataError(fmt::format("{}: language-model checkpoint without \"{}\"", source, key));
        return *v;
    };
    o.embedding = need("lm.embedding", 1 << 16);
    o.hidden = need("lm.hidden", 1 << 16);
    o.layers = need("lm.layers", 64);
    o.dropout = io::metadata_double(meta, "lm.dropout", source, 0.0, 0.999).value_or(0.0);
    return {model->second, o};
}

TrainReport train_language_model(LanguageModelProgram& p, const io::TextCorpus& corpus, optim::Optimizer& optimizer,
                                 optim::LrSchedule* schedule, LanguageModelTrainOptions o) {
    if (p.grads.size() != p.params.size())
        throw OptionError("train_language_model: the program was built without gradients (with_grads = false)");
    if (corpus.vocab.size() != p.vocab)
        throw OptionError(fmt::format("train_language_model: the corpus has {} tokens in its vocabulary, the model {}",
                                      corpus.vocab.size(), p.vocab));
    // A checkpoint to start from must mean the same characters and hold the same layers: checked
    // here, before anything trains, with messages naming the difference (the harness would
    // only see mismatching tensors, and a different vocabulary of equal size not at all).
    if (!o.trainer.init.empty())
        check_init_checkpoint(io::SafetensorsFile::open(o.trainer.init).metadata(), o.trainer.init, p.options,
                              corpus.vocab);
    io::put_vocabulary(o.trainer.metadata, corpus.vocab);
    o.trainer.metadata["window"] = std::to_string(p.window);
    StreamBatches batches(corpus.splits.train, p.batch, p.window, o.limit_train);
    CompiledGraph eval = compile_language_model_eval(p);
    Trainer trainer({.graph = p.graph.get(),
                     .inputs = {p.tokens, p.targets},
                     .loss = p.loss,
                     .params = p.params,
                     .grads = p.grads,
                     .watch = {p.loss},
                     .carry = p.carry()},
                    optimizer, schedule, o.trainer);
    BitsPerTokenMetric bpc;
    return trainer.fit(batches, [&] { return evaluate_language_model(eval, p, corpus.splits.valid, o.limit_valid); }, &bpc);
}

std::string sample_text(const LanguageModelProgram& p, const io::Vocabulary& vocab, const SampleOptions& o) {
    if (vocab.size() != p.vocab)
        throw OptionError(fmt::format("sample: the vocabulary has {} tokens, the model {}", vocab.size(), p.vocab));
    if (!(o.temperature > 0)) throw OptionError(fmt::format("sample: the temperature must be positive, got {}", o.temperature));
    if (o.length < 0) throw OptionError(fmt::format("sample: the length must be >= 0, got {}", o.length));
    auto s = build_char_model(p.options, p.vocab, 1, 1, 0, false);
    for (const auto& [name, entry] : p.graph->store().entries())
        if (s->graph->store().contains(name)) {
            Tensor& dst = s->graph->store().get(name);
            std::memcpy(dst.raw(), entry.value.raw(), dst.bytes());
        }
    CompiledGraph step = compile(*s->graph, {s->logits, *s->final.h, s->final.c ? *s->final.c : *s->final.h},
                                 {.training = false});
    Tensor token(s->tokens.desc()), target = Tensor::zeros({1, 1}, DType::I64);
    Tensor h = Tensor::zeros(s->initial.h->shape()), c = Tensor::zeros(s->initial.h->shape());
    Feeds feeds{{s->tokens, token}, {s->targets, target}, {*s->initial.h, h}};
    if (s->initial.c) feeds.emplace_back(*s->initial.c, c);
    std::vector<int64_t> prime = vocab.encode(o.prime, "the prime text");
    if (prime.empty()) prime.push_back(vocab.unknown_id().value_or(0));
    std::vector<int64_t> out;
    std::vector<double> probs(static_cast<std::size_t>(p.vocab));
    int64_t next = prime[0];
    const int64_t total = static_cast<int64_t>(prime.size()) + o.length;
    for (int64_t t = 0; t + 1 < total; ++t) {
        *token.data<int64_t>() = t < static_cast<int64_t>(prime.size()) ? prime[static_cast<std::size_t>(t)] : next;
        std::vector<Tensor> r = step.run(feeds);
        std::memcpy(h.raw(), r[1].raw(), h.bytes());
        if (s->final.c) std::memcpy(c.raw(), r[2].raw(), c.bytes());
        if (t + 1 < static_cast<int64_t>(prime.size())) continue;  // still reading the prime
        const float* z = r[0].data<float>();
        const double top = *std::max_element(z, z + p.vocab);
        double sum = 0;
        for (int64_t v = 0; v < p.vocab; ++v) sum += probs[static_cast<std::size_t>(v)] = std::exp((z[v] - top) / o.temperature);
        double u = uniform01(o.seed, 77, static_cast<uint64_t>(t)) * sum;
        next = p.vocab - 1;
        for (int64_t v = 0; v < p.vocab; ++v)
            if ((u -= probs[static_cast<std::size_t>(v)]) <= 0) {
                next = v;
                break;
            }
        out.push_back(next);
    }
    return o.prime + vocab.decode(out);
}

}  // namespace gg::train
