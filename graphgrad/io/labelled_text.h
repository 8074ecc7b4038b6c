// Labelled short texts from Debian's fortune packages, for text classification: the category
// of each English quote (`fortunes`, `fortunes-min`: one file per category) or the language of
// a quote (`fortunes-de`, `fortunes-br`, `fortunes-it`, `fortunes-es` and the English files),
// with a deterministic stratified train/valid/test split and word tokens as io/vocabulary.h
// makes them.
//
//   auto data = gg::io::load_labelled_texts("fortune-category");       // 39 categories
//   auto split = gg::io::split_stratified(data.labels, data.num_classes(), {.seed = 1});
//   auto vocab = gg::io::training_vocabulary(data, split.train);       // lowercase words
//   std::vector<int64_t> ids = vocab.encode(data.texts[split.test[0]]);
//   gg::io::write_fasttext_file("train.txt", data, split.train);      // "__label__law it is ..."
//
// A fortune file holds entries separated by lines holding only "%". Entries are trimmed;
// blank ones are skipped, and so is any entry whose text (whitespace runs collapsed) appeared
// in an earlier file or earlier in the same one: fortune files repeat quotes across
// categories, and a quote in both train and test would measure memory, not generalisation.
// Files are read in byte order of their names; the texts must be UTF-8 (every Debian 12
// fortune file is; a file that is not is a DataError naming it and the byte offset, never
// guessed at). The rot13 "off" (offensive) collections are left out.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "graphgrad/io/vocabulary.h"

namespace gg::io {

inline constexpr const char* kFortunesDir = "/usr/share/games/fortunes";

// Entries of fortune-file text (see the header comment), trimmed, blank ones skipped.
std::vector<std::string> split_fortunes(std::string_view text);
// The entries of one file: DataError when it is missing, unreadable, empty, not UTF-8, or
// holds no entry.
std::vector<std::string> read_fortune_file(const std::string& path);

struct LabelledTexts {
    std::string task;                  // "fortune-category" or "language"
    std::vector<std::string> classes;  // label → name ("law", "de", ...)
    std::vector<std::string> texts;
    std::vector<int64_t> labels;       // one per text, in [0, classes.size())
    int64_t num_classes() const { return static_cast<int64_t>(classes.size()); }
    std::vector<int64_t> class_counts() const;
};

struct FortuneOptions {
    std::string root = kFortunesDir;
    // fortune-category: categories with fewer entries (after duplicates are dropped) are left
    // out, so every class has a few test examples under a 0.8 / 0.1 / 0.1 split (this drops
    // ascii-art, magic, pratchett and translate-me from Debian 12's 43 English files).
    int64_t min_entries = 50;
};

// fortune-category: the English files directly in `root` (regular files; not the `.dat`
// indexes, the `.u8` links, the links into it/ that fortunes-it adds, or `brasil`, which is
// fortunes-br's Portuguese), one class per file. DataError naming the Debian package when
// `root` is missing or holds none.
LabelledTexts load_fortune_categories(const FortuneOptions& o = {});
// language: classes de (root/de, fortunes-de), en (as above, all categories), es (root/es,
// fortunes-es; its off/ subfolder is not read), it (root/it, fortunes-it), pt (root/brasil,
// fortunes-br). DataError naming the missing package.
LabelledTexts load_fortune_languages(const FortuneOptions& o = {});
// By task name, "fortune-category" or "language"; an OptionError lists them otherwise.
LabelledTexts load_labelled_texts(const std::string& task, const FortuneOptions& o = {});

struct StratifiedOptions {
    double train = 0.8, valid = 0.1;  // test gets the rest
    uint64_t seed = 1;
    // > 0: at most this many texts of each class are kept (drawn by the same seeded shuffle),
    // e.g. to balance the language task, where German has 7x Portuguese's quotes.
    int64_t max_per_class = 0;
};
struct StratifiedSplit {
    std::vector<int64_t> train, valid, test;  // indices into the texts, ascending
};
// Per class: a seeded Fisher–Yates shuffle (mt19937_64 and our own bounded draw, so the split
// is the same with any standard library), then the first round(n·train) to train, the next
// round(n·valid) to valid, the rest to test; a class of 3 or more texts puts at least one in
// each part. DataError on bad fractions or a label outside [0, num_classes).
StratifiedSplit split_stratified(std::span<const int64_t> labels, int64_t num_classes, const StratifiedOptions& o = {});

// Fisher–Yates with mt19937_64 and the bounded draw above: the same order on every standard
// library (training orders, and fastText's training file, which fastText reads in file order
// and never shuffles: a file sorted by class leaves it predicting the last classes it saw).
void shuffle_indices(std::vector<int64_t>& indices, uint64_t seed);

// Tokens of one text as the classifiers see it: io::tokenize_words, lowercase by default,
// newlines as plain spaces.
std::vector<std::string> text_tokens(std::string_view text, bool lowercase = true);
// Word vocabulary ("<unk>" = 0) of the texts at `indices` (the training split).
Vocabulary training_vocabulary(const LabelledTexts& data, std::span<const int64_t> indices, int64_t min_count = 1,
                               bool lowercase = true);

// fastText's supervised format, one text per line in the order of `indices`: "__label__<class> tok tok ...", the tokens
// of text_tokens() joined by spaces, so fastText and graphgrad see the same words. Atomic.
void write_fasttext_file(const std::string& path, const LabelledTexts& data, std::span<const int64_t> indices,
                         bool lowercase = true);

}  // namespace gg::io
