// Text classification on the fortune corpora (io/labelled_text.h): the data tokenised and split
// once, then the FastText classifier (trained as fastText trains it: one example per SGD step by
// default, learning rate decayed linearly to 0 over all tokens of the run) or Kim's text CNN
// (on the training harness: batches, Adam, dropout, per-epoch validation). `graphgrad train
// fasttext_classifier|text_cnn` is a thin caller of this.
//
//   auto data = gg::train::prepare_text_data("language", {.split = {.max_per_class = 3000}});
//   auto ft = gg::train::train_fasttext_classifier(data, {.epochs = 5, .word_ngrams = 2});
//   auto cnn = gg::train::train_text_cnn(data, {.model = {.dim = 128}, .epochs = 5});
//   fmt::print("{:.1f}% / {:.1f}%\n", 100 * ft.test_accuracy, 100 * cnn.test_accuracy);
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "graphgrad/io/labelled_text.h"
#include "graphgrad/io/vocabulary.h"
#include "graphgrad/models/text_classifiers.h"

namespace gg::train {

struct TextDataOptions {
    io::FortuneOptions fortunes;
    io::StratifiedOptions split;
    int64_t min_count = 1;  // vocabulary: words seen fewer times in training become "<unk>"
    bool lowercase = true;
};

struct TextData {
    io::LabelledTexts corpus;
    io::StratifiedSplit split;
    io::Vocabulary vocab;                           // from the training texts only
    std::vector<std::vector<std::string>> tokens;   // per text: io::text_tokens
};
TextData prepare_text_data(const std::string& task, const TextDataOptions& o = {});
// The same from texts already loaded (tests, other corpora).
TextData prepare_text_data(io::LabelledTexts corpus, const TextDataOptions& o = {});

struct EpochStat {
    int64_t epoch = 0;  // 1-based
    double train_loss = 0, valid_accuracy = 0, seconds = 0;
};
struct TextClassifierReport {
    std::vector<EpochStat> epochs;
    double valid_accuracy = 0, test_accuracy = 0, test_loss = 0;
    int64_t parameters = 0;      // trainable scalars
    int64_t padded_length = 0;   // text CNN: tokens per text (longer texts are cut)
    double seconds_per_epoch = 0;  // training only, mean over epochs
};

// ---- FastText -------------------------------------------------------------------------------

struct FastTextTrainOptions {
    int64_t dim = 100, buckets = 200000, word_ngrams = 2;  // word_ngrams 1: words only
    int64_t epochs = 5;
    double lr = 0.1;     // per example, decayed linearly to 0 over the run's tokens (fastText's schedule)
    int64_t batch = 1;   // > 1: summed gradients of `batch` examples per step (lr stays per example)
    uint64_t seed = 1;   // weights and example order
    bool progress = true;
};
// fastText's features of one tokenised text: the ids of the words the vocabulary knows
// (unknown ones are dropped, as fastText drops words outside its dictionary), the end-of-line
// token fastText reads at every newline ("</s>", id vocab.size()), then one row
// words + fasttext_ngram_bucket(...) per word n-gram of 2..word_ngrams tokens over all of
// them (unknown words included: their hashes still form n-grams).
std::vector<int64_t> fasttext_features(const std::vector<std::string>& tokens, const io::Vocabulary& vocab,
                                       const models::FastTextOptions& model, int64_t word_ngrams);
TextClassifierReport train_fasttext_classifier(const TextData& data, const FastTextTrainOptions& o = {});

// ---- Text CNN -------------------------------------------------------------------------------

struct TextCnnTrainOptions {
    models::TextCnnOptions model;  // vocab and classes are filled in from the data
    // Pre-trained vectors, asked once per vocabulary word: fills `row` (dim floats) and returns
    // true, or returns false (that word starts random). Unset: CNN-rand.
    std::function<bool(const std::string& word, std::span<float> row)> pretrained;
    int64_t epochs = 5, batch = 50;
    double lr = 1e-3;          // Adam
    int64_t max_tokens = 100;  // padded length: min(this, the longest training text), ≥ widest kernel
    uint64_t seed = 1;
    bool progress = true;
};
TextClassifierReport train_text_cnn(const TextData& data, const TextCnnTrainOptions& o = {});

// ids [rows, length] padded with `padding` (texts longer than `length` cut), one row per
// entry of `indices`; the last rows stay padding when indices are fewer. Returns nothing: a
// helper the batch sources and tests share.
void fill_padded_ids(const std::vector<std::vector<int64_t>>& ids, std::span<const int64_t> indices, int64_t padding,
                     Tensor& out);

}  // namespace gg::train
