// Word vectors in word2vec's text format, the one fastText (.vec), gensim
// (KeyedVectors.load_word2vec_format(binary=False)) and GloVe tools read and write: a header
// line "V D", then V lines "word v₁ … v_D" (the word has no whitespace; values are decimal).
//
//   gg::io::WordVectors wv = gg::io::read_word_vectors("emb.vec");   // words + f32 [V, D]
//   auto id = wv.find("king");                                      // row of "king", if any
//   gg::io::write_word_vectors("copy.vec", wv);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "graphgrad/graph/tensor.h"

namespace gg::io {

struct WordVectors {
    std::vector<std::string> words;  // row i is words[i]; distinct, non-empty, no whitespace
    Tensor vectors;                  // f32 [V, D]

    int64_t size() const { return static_cast<int64_t>(words.size()); }
    int64_t dim() const { return vectors.shape().size() == 2 ? vectors.shape()[1] : 0; }
    std::optional<int64_t> find(std::string_view word) const;
    // (Re)builds the word → row index; read_word_vectors and make_word_vectors call it.
    void index();

private:
    std::unordered_map<std::string, int64_t> index_;
};

// Checks words against vectors (count, duplicates, whitespace): DataError naming `what`.
WordVectors make_word_vectors(std::vector<std::string> words, Tensor vectors, const std::string& what = "word vectors");

// DataError naming the file and line for: a missing or unreadable file, a bad header, a line
// with the wrong number of values, a value that is not a finite number, a duplicate word,
// more or fewer lines than the header says.
WordVectors read_word_vectors(const std::string& path);
WordVectors parse_word_vectors(std::string_view text, const std::string& what);
// Atomically; values with 9 significant digits (a float round-trips exactly).
void write_word_vectors(const std::string& path, const WordVectors& v);
std::string format_word_vectors(const WordVectors& v);

}  // namespace gg::io
