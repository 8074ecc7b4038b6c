// Text classifiers as graph code over padded batches of token ids:
//
// - FastText (Joulin et al. 2017, "Bag of Tricks"): the mean of the embeddings of a text's
//   words and hashed word bigrams, a linear layer without bias, softmax cross-entropy.
// - Text CNN (Kim 2014): word embeddings [B, L, D] as D channels of a sequence [B, D, L, 1];
//   per width k (3, 4, 5) a 1-D convolution over time (conv2d, F kernels [D, k, 1], each
//   spanning k whole embeddings), ReLU, max over time; the 3F features concatenated, dropout
//   0.5, a linear layer. Parameters "text_cnn.conv3.weight" [F, D, 3, 1], ".bias", ...,
//   "text_cnn.fc.weight" [3F, classes], "text_cnn.fc.bias".
//
//   gg::Graph g;
//   auto ids = g.input("ids", {50, 64}, gg::DType::I64);        // padded with o.padding_id()
//   auto net = gg::models::text_cnn(ids, {.vocab = 20000, .classes = 39});
//   auto loss = gg::cross_entropy(net.logits, labels);
//   // CNN-static: {.freeze_embeddings = true, .embedding_init = gg::models::embedding_rows(vectors, found)}
//
// A frozen table is the graph's persistent state (Graph::state), not a parameter: it stays out
// of Graph::parameters(), so grad() and the optimizer never see it, and checkpoints keep it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/init.h"

namespace gg::models {

// ---- FastText -------------------------------------------------------------------------------

// The bucket of the word n-gram whose tokens have these hashes: fastText's addWordNgrams,
// h = h·116049371 + hash (64-bit, each hash sign-extended), modulo `buckets`.
int64_t fasttext_ngram_bucket(std::span<const uint32_t> hashes, int64_t buckets);

struct FastTextOptions {
    int64_t words = 0;       // rows for word ids [0, words)
    int64_t buckets = 200000;  // rows for hashed word n-grams [words, words + buckets)
    int64_t dim = 100;
    int64_t classes = 0;
    // The table has one more row, words + buckets: padding, kept at zero and never updated.
    int64_t padding_id() const { return words + buckets; }
    int64_t rows() const { return words + buckets + 1; }
};

struct FastTextNet {
    Value table;     // "fasttext.input" [rows, dim]: uniform(−1/dim, 1/dim), padding row 0 (fastText's init)
    Value output;    // "fasttext.output" [dim, classes]: zeros, as fastText
    Value embedded;  // [B, L, dim]: the rows the batch reads (their gradient is the table's, row-sparse)
    Value hidden;    // [B, dim]
    Value logits;    // [B, classes]
};
// ids i64 [B, L] padded with o.padding_id(); weights f32 [B, L]: 1/n for a text's n features,
// 0 on padding, so hidden = Σ_l weights·E[ids] is the mean over the text's features. The
// parameters are made on the first call and reused by later calls on the same graph with
// other B or L (one table shared by programs for several padded lengths).
FastTextNet fasttext_classifier(Value ids, Value weights, const FastTextOptions& o);

// ---- Text CNN -------------------------------------------------------------------------------

struct TextCnnOptions {
    int64_t vocab = 0;   // word ids [0, vocab); the table has one more row, the padding row `vocab`
    int64_t dim = 128;   // embedding width D (Kim: 300, word2vec's)
    std::vector<int64_t> widths = {3, 4, 5};
    int64_t filters = 100;  // per width
    double dropout = 0.5;
    int64_t classes = 0;
    bool freeze_embeddings = false;  // CNN-static: the table is state, not a parameter
    // Fills the [vocab + 1, dim] table; empty: uniform(−0.25, 0.25) (Kim's CNN-rand), padding
    // row 0. embedding_rows() makes one from pre-trained vectors.
    Initializer embedding_init;
    int64_t padding_id() const { return vocab; }
};

struct TextCnnNet {
    Value table;     // "text_cnn.embedding" [vocab + 1, dim]
    Value features;  // [B, widths·filters] after max over time (before dropout)
    Value logits;    // [B, classes]
};
// ids i64 [B, L] with L ≥ the widest kernel, padded with o.padding_id().
TextCnnNet text_cnn(Value ids, const TextCnnOptions& o);

// An initialiser for a [V + 1, D] table from pre-trained rows: rows [V, D] (f32) where
// found[v], else uniform(−range, range) (Kim: words without a vector, variance like the found
// ones'); row V (padding) zero. A ShapeError-like GraphError when the table's shape disagrees.
Initializer embedding_rows(Tensor rows, std::vector<bool> found, double range = 0.25);

}  // namespace gg::models
