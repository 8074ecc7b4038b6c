// Character-level language models (Karpathy's char-rnn; the sequence side of the course) on
// the training harness: embedding → recurrent layers (graph code, models/recurrent.h) →
// a linear decoder to the vocabulary at every step, trained with teacher forcing and
// truncated BPTT (each window's final states are the next window's initial states), scored
// in bits per character, sampled with a temperature. Parameter names follow a PyTorch module
// with submodules `embedding`, `rnn` (nn.LSTM/GRU/RNN) and `decoder` (nn.Linear), so weights
// interchange with tools/compare/char_lstm.py.
//
//   auto corpus = gg::io::load_text_corpus(gg::io::ensure_kjv_text());
//   auto lm = gg::train::build_char_model({.cell = gg::RnnCell::Lstm}, corpus.vocab.size(), 100, 32, 1, true);
//   gg::optim::Adam opt(*lm->graph, lm->params, {.lr = 2e-3});
//   auto report = gg::train::train_language_model(*lm, corpus, opt, nullptr, {.trainer = {.epochs = 2}});
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/io/text_corpus.h"
#include "graphgrad/models/recurrent.h"
#include "graphgrad/train/trainer.h"

namespace gg::train {

struct CharModelOptions {
    RnnCell cell = RnnCell::Lstm;
    int64_t embedding = 64;  // E: token embedding width (the recurrent layers' input)
    int64_t hidden = 256;    // H
    int64_t layers = 2;
    double dropout = 0.0;    // between recurrent layers (training only), like nn.LSTM's
    bool fused = false;      // one fused op per recurrent layer (models::RecurrentOptions::fused):
                             // the same parameters and results; not recorded in checkpoints
};

// The zoo's names: char_lstm, char_gru, char_rnn (tanh).
const std::vector<std::string>& language_model_names();
bool is_language_model(const std::string& name);
CharModelOptions language_model_options(const std::string& name);  // cell from the name

struct LanguageModelProgram {
    std::unique_ptr<Graph> graph;
    CharModelOptions options;
    int64_t vocab = 0, window = 0, batch = 0;
    Value tokens, targets;                  // i64 [T, B]: inputs and next tokens
    models::RecurrentState initial, final;  // [layers, B, H] (c: LSTM only)
    Value logits;                           // [T·B, V], row t·B + b
    Value loss;                             // mean cross-entropy in nats per token
    std::vector<Value> params, grads;       // grads empty unless built with them

    // final → initial pairs, for Trainer's carry and for evaluation and sampling loops.
    std::vector<std::pair<Value, Value>> carry() const;
    int64_t num_parameters() const;
};

std::unique_ptr<LanguageModelProgram> build_char_model(const CharModelOptions& o, int64_t vocab, int64_t window,
                                                       int64_t batch, uint64_t seed, bool with_grads);

// Windows of a StreamBatcher for the program's tokens and targets (LastWindow::Drop).
class StreamBatches final : public BatchSource {
public:
    StreamBatches(std::span<const int64_t> ids, int64_t batch, int64_t window, int64_t limit = 0);
    int64_t num_batches() const override;
    void start_epoch(int64_t) override {}  // streams are read in order: the state carries over
    int64_t fill(int64_t b, std::vector<Tensor>& feeds) override;

private:
    io::StreamBatcher batcher_;
    int64_t limit_;
};

// Bits per token from the mean loss in nats, over the steps of an epoch (watch: the loss).
class BitsPerTokenMetric final : public Metric {
public:
    std::string name() const override { return "bpc"; }
    void reset() override { sum_ = 0, count_ = 0; }
    void add(const std::vector<Tensor>& watched, const std::vector<Tensor>& feeds, int64_t valid) override;
    double value() const override;
    bool higher_is_better() const override { return false; }

private:
    double sum_ = 0;
    int64_t count_ = 0;
};

// Mean loss (nats per token) and bits per token over every full window of `ids`, carrying
// the states from window to window from zeros, with a forward program compiled from
// p.graph fetching {p.loss, final states...}. `limit` > 0: only the first windows.
EvalResult evaluate_language_model(CompiledGraph& eval, const LanguageModelProgram& p, std::span<const int64_t> ids,
                                   int64_t limit = 0);
CompiledGraph compile_language_model_eval(const LanguageModelProgram& p);

struct LanguageModelTrainOptions {
    TrainerOptions trainer;
    int64_t limit_train = 0;  // > 0: windows per epoch (quick runs)
    int64_t limit_valid = 0;  // > 0: validation windows
};

// Trains on corpus.splits.train, validating on corpus.splits.valid after every epoch (bits per
// character: the metric). Checkpoints record the vocabulary and the model's options so a
// checkpoint alone rebuilds the model (load_char_model, language_model_io.h). With
// options.trainer.init the run starts from that checkpoint's weights, which must record the
// corpus's vocabulary and p's architecture (check_init_checkpoint).
TrainReport train_language_model(LanguageModelProgram& p, const io::TextCorpus& corpus, optim::Optimizer& optimizer,
                                 optim::LrSchedule* schedule, LanguageModelTrainOptions options);

void record_char_model(io::Metadata& meta, const std::string& model, const CharModelOptions& o);
// The model name and options a checkpoint records (DataError when absent or malformed).
std::pair<std::string, CharModelOptions> recorded_char_model(const io::Metadata& meta, const std::string& source);

struct SampleOptions {
    std::string prime;          // text fed first (may be empty: starts from the first token)
    int64_t length = 300;       // tokens generated after the prime
    double temperature = 1.0;   // softmax(logits / temperature); → 0: greedy
    uint64_t seed = 1;
};
// Generates text with a batch-1, window-1 program built from p's options and sharing nothing
// with it but the weights (copied from p's store).
std::string sample_text(const LanguageModelProgram& p, const io::Vocabulary& vocab, const SampleOptions& o);

}  // namespace gg::train
