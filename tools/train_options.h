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
    int64_t window = 5, negative = 5, min_count = 5;  // the width is TrainOptions::dim (default 100)
    int threads = 0;
    std::string arch = "skipgram";
    std::string out;       // PREFIX: PREFIX.vec and PREFIX.safetensors
    std::string subwords;  // "3-6": character n-grams (fasttext's default)
    double sample = 1e-3;
    double noise_power = 0.75;
};

// Canvas tasks (unet_seg, yolo_v1): cmd_train_canvas.cpp.
struct CanvasCliOptions {
    int64_t train = 6000, test = 1000;  // canvases composed from the training and test images
    int64_t min_items = 2, max_items = 4;
    double smooth = 1.0;                // ε of the Dice / Jaccard losses
    int64_t width = 0;                  // 0: the model's default (U-Net base 16, YOLO width 32)
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
    // Transfer learning (zoo image classifiers; train/transfer.h, train/class_subset.h).
    std::string freeze;           // comma-separated globs over parameter names: not trained
    int64_t new_head = 0;         // > 0: a fresh classifier head of this many outputs; --init loads the rest
    std::string class_subset;     // "5-9": train and test on these classes only, relabelled 0..K-1
    int64_t train_per_class = 0;  // > 0: this many training images per class, drawn with --seed
    bool json = false;
    // Language models (char_lstm, char_gru, char_rnn).
    std::string text;        // empty: the King James Bible from Debian's bible-kjv
    int64_t seq = 100;       // truncated-BPTT window
    int64_t embedding = 64, hidden = 256, layers = 2;
    double dropout = 0.0;
    bool fused = false;      // fused recurrent ops instead of graph code
    int64_t limit_valid = 0;
    int64_t split_blocks = 0;  // train/valid/test pieces from this many blocks of the text; 0: automatic (io::SplitFractions)
    // Embedding networks (embedding_net): triplet loss with in-batch mining, P×K batches, SEC.
    std::string loss = "triplet";
    std::string mining = "semi-hard";  // batch-hard collapses from a random start (FaceNet §3.2)
    double margin = 0.2;
    double sec = 0;                 // η of the spherical embedding constraint (0: off)
    std::string distance = "squared";  // squared | euclidean, between L2-normalised embeddings
    int64_t classes = 8, per_class = 16;  // P × K
    std::string plot;               // PNG of the test embeddings' 2-D PCA projection
    // Text classifiers (text_cnn, fasttext_classifier) on the fortune corpora.
    std::string corpus;                // fortune-category or language
    std::string variant = "rand";      // text_cnn: rand, static, non-static
    int64_t dim = 0;  // embedding width (0: the model's default: embedding_net 64, text_cnn 128, fasttext_classifier 100)
    int64_t word_ngrams = 2;  // fasttext_classifier
    int64_t buckets = 0;  // hash buckets (0: the model's default: fasttext_classifier 200,000, word vectors 2,000,000)
    int64_t max_tokens = 100;          // text_cnn: padded length
    int64_t max_per_class = -1;        // -1: 3000 for language, all for fortune-category; 0: all
    std::string write_split;           // write train/valid/test.txt in fastText's format here
    std::string embeddings;            // text_cnn static/non-static: word vectors (word2vec text format)
    // Which of --batch, --optimizer, --lr, --clip and --schedule the command line gave: a
    // language model's defaults differ (batch 32, Adam 2e-3, clip 5, no schedule).
    WordVectorCliOptions words;
    CanvasCliOptions canvas;
    bool given_loss = false;
    bool given_epochs = false, given_lr = false;
    bool given_batch = false, given_optimizer = false, given_clip = false, given_schedule = false;
};

// `graphgrad train char_lstm ...`: trains a character-level language model (cmd_train_lm.cpp).
int run_train_language_model(const TrainOptions& o);
// `graphgrad train text_cnn|fasttext_classifier ...` (cmd_train_text.cpp).
bool is_text_classifier(const std::string& model);
int run_train_text_classifier(const TrainOptions& o);

// `graphgrad train embedding_net ...`: metric learning with the triplet loss (cmd_train_embedding.cpp).
bool is_embedding_model(const std::string& model);
int run_train_embedding(const TrainOptions& o);

// `graphgrad train word2vec|fasttext ...` (cmd_train_word2vec.cpp).
bool is_word_vector_model(const std::string& model);
int run_train_word_vectors(const TrainOptions& o);
void add_word_vector_options(CLI::App* sub, WordVectorCliOptions& o);

// `graphgrad train unet_seg|yolo_v1 ...`: segmentation and detection on canvases of
// Fashion-MNIST items (cmd_train_canvas.cpp).
bool is_canvas_model(const std::string& model);
int run_train_canvas(const TrainOptions& o);
void add_canvas_options(CLI::App* sub, CanvasCliOptions& o);

}  // namespace gg::cli
