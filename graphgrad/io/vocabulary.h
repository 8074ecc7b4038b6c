// Token vocabularies for language models: characters (Unicode code points) or words, with
// stable ids, an optional "<unk>" for tokens unseen when the vocabulary was built, and
// save/load (a JSON file, or a checkpoint's metadata, so that resuming or sampling with a
// different vocabulary is a clear error instead of garbage).
//
//   auto v = gg::io::Vocabulary::characters(text);          // "<unk>" = 0, then code points sorted
//   std::vector<int64_t> ids = v.encode("And God said", "prime");
//   std::string s = v.decode(ids);
//   gg::io::put_vocabulary(meta, v);                          // into checkpoint metadata
//   gg::io::check_vocabulary(meta, v, "char_lstm.safetensors");   // DataError on a mismatch
//
// Words: whitespace separates tokens; ASCII letters and digits, every non-ASCII code point,
// and an apostrophe or hyphen between two of those form words; every other ASCII character
// (punctuation) is a token of its own; with line_end_token each newline is the token "<eos>"
// (PyTorch's word_language_model). Word ids: "<unk>" = 0, then by descending count, ties by
// token (byte order); tokens seen fewer than min_count times are left out.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "graphgrad/io/safetensors.h"  // Metadata

namespace gg::io {

enum class TokenKind { Char, Word };

struct CharVocabOptions {
    bool unknown_token = true;  // "<unk>" (id 0) for unseen code points; false: they are errors
};

struct WordVocabOptions {
    int64_t min_count = 1;
    int64_t max_size = 0;         // 0: unlimited; else at most this many ids, "<unk>" included
    bool lowercase = false;       // ASCII letters only
    bool line_end_token = true;   // "<eos>" at every newline
};

// The word tokens of text (see the header comment), as a vocabulary would see them.
std::vector<std::string> tokenize_words(std::string_view text, bool lowercase, bool line_end_token);

class Vocabulary {
public:
    static constexpr const char* kUnknown = "<unk>";
    static constexpr const char* kLineEnd = "<eos>";

    // Every code point of (valid UTF-8) text, sorted by code point.
    static Vocabulary characters(std::string_view text, const CharVocabOptions& o = {});
    static Vocabulary words(std::string_view text, const WordVocabOptions& o = {});

    TokenKind kind() const { return kind_; }
    int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
    const std::string& token(int64_t id) const;  // throws DataError when out of range
    std::optional<int64_t> find(std::string_view token) const;
    std::optional<int64_t> unknown_id() const { return has_unknown_ ? std::optional<int64_t>(0) : std::nullopt; }
    bool lowercase() const { return lowercase_; }
    bool line_end_token() const { return line_end_token_; }

    // Ids of text's tokens; unseen ones become "<unk>", or without it a DataError naming
    // `what`, the token and its byte offset.
    std::vector<int64_t> encode(std::string_view text, const std::string& what = "text") const;
    // Characters concatenated ("<unk>" as U+FFFD); words joined by spaces, "<eos>" as a newline.
    std::string decode(std::span<const int64_t> ids) const;

    std::string to_json() const;
    static Vocabulary from_json(std::string_view json, const std::string& what);
    void save(const std::string& path) const;  // atomically
    static Vocabulary load(const std::string& path);

    bool operator==(const Vocabulary& o) const {
        return kind_ == o.kind_ && has_unknown_ == o.has_unknown_ && lowercase_ == o.lowercase_ &&
               line_end_token_ == o.line_end_token_ && tokens_ == o.tokens_;
    }

private:
    Vocabulary(TokenKind kind, std::vector<std::string> tokens, bool has_unknown, bool lowercase, bool line_end,
               const std::string& what);

    TokenKind kind_ = TokenKind::Char;
    std::vector<std::string> tokens_;
    bool has_unknown_ = false, lowercase_ = false, line_end_token_ = false;
    std::unordered_map<std::string, int64_t> index_;
    std::unordered_map<char32_t, int64_t> char_index_;  // Char kind: code point → id
};

// Throws DataError "<what>: ..." describing the first difference (kind, options, size, or
// the first id whose tokens differ) when `found` is not `expected`.
void check_same_vocabulary(const Vocabulary& expected, const Vocabulary& found, const std::string& what);

// Checkpoint metadata: the vocabulary under this key, as JSON.
inline constexpr const char* kVocabularyKey = "vocabulary";
void put_vocabulary(Metadata& metadata, const Vocabulary& v);
Vocabulary vocabulary_from_metadata(const Metadata& metadata, const std::string& file);
// The checkpoint `file` (its metadata) must hold exactly `expected`.
void check_vocabulary(const Metadata& metadata, const Vocabulary& expected, const std::string& file);

}  // namespace gg::io
