// word2vec (Mikolov et al. 2013) and fastText's subword vectors (Bojanowski et al. 2017) as
// graph code: embedding lookups with row-sparse gradients, batched dot products, the
// negative-sampling loss −log σ(u·v₊) − Σ log σ(−u·v₋), plain SGD with the original tool's
// linear learning-rate decay. The data side follows word2vec.c / fastText: subsampling of
// frequent words (keep probability √(t/f) + t/f), noise from a unigram^0.75 table (fastText:
// ^0.5, noise_power), a
// reduced window b drawn uniformly in [1, window] per centre word, sentences of at most
// 1000 words; fastText's orientation for skip-gram (the centre predicts each context word).
//
//   gg::train::Word2VecOptions o{.dim = 100, .epochs = 5};
//   auto corpus = gg::train::build_word2vec_corpus(gg::io::read_text_file(path), o);
//   gg::train::Word2VecModel m = gg::train::train_word2vec(corpus, o);
//   gg::io::write_word_vectors("kjv.vec", m.word_vectors());
//
// Steps are batches of (centre, context + negatives) examples: every pair of a batch reads
// the parameters as they were before the step (word2vec's updates are per pair; the sum of a
// batch's gradients is the same first-order step; with a vocabulary small next to the batch,
// a word repeated many times in one batch takes too large a step: training stops with an
// error naming the batch when the loss stops being finite). Subwords: a word's input vector is the
// mean of its own row and the rows of its character n-grams of "<word>" (lengths minn..maxn,
// FNV-1a hashed into `buckets` rows, as fastText); words never seen get the mean of their
// n-grams' rows. A bag (CBOW's context, a word's subwords) is averaged forward, but every row
// in it receives the whole gradient of the average, as word2vec.c and fastText do.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "graphgrad/graph/node.h"
#include "graphgrad/graph/tensor.h"
#include "graphgrad/io/word_vectors.h"

namespace gg::train {

enum class Word2VecArch { SkipGram, Cbow };

struct Word2VecProgress {
    int64_t epoch = 0;          // 1-based
    double fraction = 0;        // of the whole run
    int64_t words = 0;          // corpus words read so far (before subsampling, as word2vec counts)
    double words_per_second = 0;
    double lr = 0;
    double loss = 0;            // mean loss per example over the last report interval
};

struct Word2VecOptions {
    Word2VecArch arch = Word2VecArch::SkipGram;
    int64_t dim = 100, window = 5, negative = 5, min_count = 5, epochs = 5;
    double lr = 0.025;          // word2vec's default for skip-gram (0.05 for CBOW)
    double sample = 1e-3;       // subsampling threshold t (0: off)
    bool lowercase = true;      // ASCII letters
    int64_t batch = 1024;       // examples per step (skip-gram: pairs; CBOW: centre words)
    int64_t minn = 0, maxn = 0; // subword n-gram lengths (0: plain word2vec)
    int64_t buckets = 2000000;  // n-gram hash buckets
    int64_t table_size = 10000000;  // unigram^power noise table
    double noise_power = 0.75;      // word2vec's; fastText 0.9.2 uses 0.5
    uint64_t seed = 1;
    int threads = 0;            // OpenMP threads of the graph's kernels (0: leave as is)
    std::function<void(const Word2VecProgress&)> progress;  // about once a second
};

// The text as word ids: the vocabulary of words seen at least min_count times (io/vocabulary.h
// tokenizer, no line-end tokens), ids 1.. by descending count; id 0 is reserved (padding).
struct Word2VecCorpus {
    std::vector<std::string> words;  // id → word; words[0] = "<pad>"
    std::vector<int64_t> counts;     // id → occurrences; counts[0] = 0
    std::vector<int32_t> tokens;     // the text, rarer words dropped
    int64_t vocab_size() const { return static_cast<int64_t>(words.size()); }
};
Word2VecCorpus build_word2vec_corpus(std::string_view text, const Word2VecOptions& o);

// word2vec.c's subsampling: the probability of keeping a word seen `count` times among `total`.
double keep_probability(int64_t count, int64_t total, double sample);
// Ids repeated in proportion to count^power (ids with count 0 never appear).
std::vector<int32_t> unigram_table(const std::vector<int64_t>& counts, double power, int64_t size);

// Bucket indices (hash % buckets) of the character n-grams of "<word>", lengths minn..maxn in
// code points, in fastText's order.
std::vector<int64_t> subword_buckets(std::string_view word, int64_t minn, int64_t maxn, int64_t buckets);

// The negative-sampling loss summed over a batch: h [B, D] input vectors, targets i64 [B, K]
// (column 0 the positive, the rest negatives) looked up in `output` [V, D] with row-sparse
// gradients: Σ_b −log σ(h_b·v₊) − Σ_neg log σ(−h_b·v₋).
Value negative_sampling_loss(Value h, Value output, Value targets);

class Word2VecModel {
public:
    Word2VecModel(Word2VecCorpus corpus, const Word2VecOptions& o, Tensor input, Tensor output);
    const Word2VecCorpus& corpus() const { return corpus_; }
    const Word2VecOptions& options() const { return o_; }
    const Tensor& input_table() const { return input_; }    // [V (+ buckets), D]
    const Tensor& output_table() const { return output_; }  // [V, D]
    // A word's vector: its row (with subwords: the mean of its row and its n-grams' rows); a
    // word outside the vocabulary gets the mean of its n-grams' rows; empty if it has none.
    std::vector<float> word_vector(std::string_view word) const;
    // Every vocabulary word's vector (id 0 left out), for io::write_word_vectors.
    io::WordVectors word_vectors() const;

private:
    std::vector<float> bag_mean(int64_t id, std::string_view word) const;
    Word2VecCorpus corpus_;
    Word2VecOptions o_;
    Tensor input_, output_;
    std::unordered_map<std::string, int64_t> index_;  // word → id
};

// safetensors: "input" (word rows, then n-gram buckets) and "output" tables, with the words
// (newline-separated), arch, dim, minn, maxn and buckets in the metadata; load checks them.
void save_word2vec(const std::string& path, const Word2VecModel& m);
Word2VecModel load_word2vec(const std::string& path);

struct Word2VecReport {
    int64_t words = 0;      // corpus words read over all epochs
    int64_t examples = 0;   // pairs (skip-gram) or centre words (CBOW) trained
    double seconds = 0, words_per_second = 0, final_loss = 0;
};
Word2VecModel train_word2vec(Word2VecCorpus corpus, const Word2VecOptions& o, Word2VecReport* report = nullptr);

// Cosine nearest neighbours of a query vector among wv's rows (rows in `exclude` skipped).
struct Neighbor {
    std::string word;
    double cosine;
};
std::vector<Neighbor> nearest_neighbors(const io::WordVectors& wv, const std::vector<float>& query, int64_t k,
                                        const std::vector<int64_t>& exclude = {});
// "a:b::c": the k words nearest to b − a + c (3CosAdd), the three query words excluded.
std::vector<Neighbor> analogy(const io::WordVectors& wv, const std::string& a, const std::string& b, const std::string& c,
                              int64_t k);

}  // namespace gg::train
