// The options of `graphgrad train`, shared by the classifier path (cmd_train.cpp) and the
// language-model path (cmd_train_lm.cpp): one subcommand, the model name picks the path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "graphgrad/io/dataset.h"
#include "graphgrad/train/schedule_by_name.h"

namespace gg::cli {

// Word vectors (word2vec, fasttext): cmd_train_word2vec.cpp.
struct WordVectorCliOptions {
    int64_t dim = 100, window = 5, negative = 5, min_count = 5;
    int threads = 0;
    std::string arch = "skipgram";
    std::string out;       // PREFIX: PREFIX.vec and PREFIX.safetensors
    std::string subwords;  // "3-6": character n-grams (fasttext's default)
    int64_t buckets = 2000000;
    double sample = 1e-3;
    double noise_power = 0.75;
};

struct TrainOptions {
    std::string model;
    std::string data = io::kFashionMnistDir;
    int64_t epochs = 10;
    int64_t batch = 128;
    std::string optimizer = "sgd";
    std::optional<double> lr, momentum, weight_decay;
    bool nesterov = false;
    double clip = 0;  // 0: no clipping
    bool check_numerics = false;
    ScheduleOptions schedule;
    std::string augment = "none";
    std::string normalize = "auto";
    std::optional<float> mean, std;
    uint64_t seed = 1;
    std::string checkpoint, resume;
    std::string init;  // start a new run from this checkpoint's weights
    int64_t limit_train = 0, limit_test = 0;
    std::string memory_budget;  // e.g. "300MiB": the training step recomputes to fit (empty: no budget)
    int64_t precise_bn = 0;  // > 0: re-estimate batch-norm running statistics on this many batches
    bool json = false;
    // Language models (char_lstm, char_gru, char_rnn).
    std::string text;        // empty: the King James Bible from Debian's bible-kjv
    int64_t seq = 100;       // truncated-BPTT window
    int64_t embedding = 64, hidden = 256, layers = 2;
    double dropout = 0.0;
    bool fused = false;      // fused recurrent ops instead of graph code
    int64_t limit_valid = 0;
    // Which of --batch, --optimizer, --lr, --clip and --schedule the command line gave: a
    // language model's defaults differ (batch 32, Adam 2e-3, clip 5, no schedule).
    WordVectorCliOptions words;
    bool given_epochs = false, given_lr = false;
    bool given_batch = false, given_optimizer = false, given_clip = false, given_schedule = false;
};

// `graphgrad train char_lstm ...`: trains a character-level language model (cmd_train_lm.cpp).
int run_train_language_model(const TrainOptions& o);
// `graphgrad train word2vec|fasttext ...` (cmd_train_word2vec.cpp).
bool is_word_vector_model(const std::string& model);
int run_train_word_vectors(const TrainOptions& o);
void add_word_vector_options(CLI::App* sub, WordVectorCliOptions& o);

}  // namespace gg::cli
