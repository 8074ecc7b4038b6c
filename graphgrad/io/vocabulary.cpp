#include "graphgrad/io/vocabulary.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "graphgrad/io/data_error.h"
#include "graphgrad/io/utf8.h"

namespace gg::io {

namespace {

constexpr const char* kFormat = "graphgrad-vocabulary-1";

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
// ASCII letters and digits, and every byte of a non-ASCII (valid UTF-8) sequence.
bool is_word_byte(unsigned char c) { return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

// A token as messages show it: quoted when printable, else its code points (U+000A).
std::string display(std::string_view token) {
    bool printable = !token.empty();
    for (unsigned char c : token) printable = printable && c >= 0x20 && c != 0x7F;
    if (printable) return fmt::format("\"{}\"", token);
    std::string out;
    for (char32_t cp : decode_utf8(token, "token")) out += fmt::format("{}U+{:04X}", out.empty() ? "" : " ", static_cast<uint32_t>(cp));
    return out;
}

const char* kind_name(TokenKind k) { return k == TokenKind::Char ? "char" : "word"; }

}  // namespace

std::vector<std::string> tokenize_words(std::string_view text, bool lowercase, bool line_end_token) {
    std::vector<std::string> out;
    const std::size_t n = text.size();
    for (std::size_t i = 0; i < n;) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '\n' && line_end_token) {
            out.emplace_back(Vocabulary::kLineEnd);
            ++i;
        } else if (is_space(c)) {
            ++i;
        } else if (is_word_byte(c)) {
            std::size_t j = i + 1;
            for (; j < n; ++j) {
                const auto b = static_cast<unsigned char>(text[j]);
                if (is_word_byte(b)) continue;
                // "LORD's", "well-favoured": joiners between two word characters stay inside.
                if ((b == '\'' || b == '-') && j + 1 < n && is_word_byte(static_cast<unsigned char>(text[j + 1]))) continue;
                break;
            }
            std::string w(text.substr(i, j - i));
            if (lowercase)
                for (char& ch : w)
                    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
            out.push_back(std::move(w));
            i = j;
        } else {
            out.emplace_back(1, static_cast<char>(c));  // punctuation: a token of its own
            ++i;
        }
    }
    return out;
}

Vocabulary::Vocabulary(TokenKind kind, std::vector<std::string> tokens, bool has_unknown, bool lowercase,
                       bool line_end, const std::string& what)
    : kind_(kind), tokens_(std::move(tokens)), has_unknown_(has_unknown), lowercase_(lowercase), line_end_token_(line_end) {
    if (tokens_.empty()) throw_data("{}: a vocabulary needs at least one token", what);
    if (has_unknown_ && tokens_[0] != kUnknown)
        throw_data("{}: id 0 must be \"{}\", got {}", what, kUnknown, display(tokens_[0]));
    for (std::size_t i = 0; i < tokens_.size(); ++i) {
        const std::string& t = tokens_[i];
        validate_utf8(t, fmt::format("{}: token {}", what, i));
        if (!index_.emplace(t, static_cast<int64_t>(i)).second)
            throw_data("{}: token {} appears twice (ids {} and {})", what, display(t), index_.at(t), i);
        if (kind_ != TokenKind::Char || (has_unknown_ && i == 0)) continue;
        const std::u32string cps = decode_utf8(t, what);
        if (cps.size() != 1) throw_data("{}: character token {} at id {} is not one code point", what, display(t), i);
        char_index_.emplace(cps[0], static_cast<int64_t>(i));
    }
}

Vocabulary Vocabulary::characters(std::string_view text, const CharVocabOptions& o) {
    const std::u32string cps = decode_utf8(text, "text");
    std::vector<bool> ascii(128, false);
    std::vector<char32_t> seen;
    for (char32_t cp : cps) {
        if (cp < 128) {
            if (!ascii[cp]) ascii[cp] = true, seen.push_back(cp);
        } else {
            seen.push_back(cp);
        }
    }
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    std::vector<std::string> tokens;
    if (o.unknown_token) tokens.emplace_back(kUnknown);
    for (char32_t cp : seen) tokens.push_back(encode_utf8(std::u32string_view(&cp, 1)));
    return Vocabulary(TokenKind::Char, std::move(tokens), o.unknown_token, false, false, "character vocabulary");
}

Vocabulary Vocabulary::words(std::string_view text, const WordVocabOptions& o) {
    validate_utf8(text, "text");
    if (o.min_count < 1 || o.max_size < 0 || o.max_size == 1)
        throw_data("word vocabulary: min_count {} must be at least 1 and max_size {} 0 (unlimited) or at least 2",
                   o.min_count, o.max_size);
    std::unordered_map<std::string, int64_t> counts;
    for (std::string& t : tokenize_words(text, o.lowercase, o.line_end_token)) ++counts[std::move(t)];
    std::vector<std::pair<std::string, int64_t>> kept;
    for (auto& [t, c] : counts)
        if (c >= o.min_count) kept.emplace_back(t, c);
    std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (o.max_size > 0 && static_cast<int64_t>(kept.size()) > o.max_size - 1)
        kept.resize(static_cast<std::size_t>(o.max_size - 1));
    std::vector<std::string> tokens{kUnknown};
    for (auto& [t, c] : kept) tokens.push_back(t);
    return Vocabulary(TokenKind::Word, std::move(tokens), true, o.lowercase, o.line_end_token, "word vocabulary");
}

const std::string& Vocabulary::token(int64_t id) const {
    if (id < 0 || id >= size()) throw_data("vocabulary: id {} is outside [0, {})", id, size());
    return tokens_[static_cast<std::size_t>(id)];
}

std::optional<int64_t> Vocabulary::find(std::string_view t) const {
    auto it = index_.find(std::string(t));
    if (it == index_.end()) return std::nullopt;
    return it->second;
}

std::vector<int64_t> Vocabulary::encode(std::string_view text, const std::string& what) const {
    std::vector<int64_t> ids;
    if (kind_ == TokenKind::Char) {
        // A table for ASCII (nearly every character of English text), the map for the rest.
        std::vector<int64_t> ascii(128, -1);
        for (const auto& [cp, id] : char_index_)
            if (cp < 128) ascii[cp] = id;
        ids.reserve(text.size());
        std::size_t offset = 0;
        for (char32_t cp : decode_utf8(text, what)) {
            int64_t id = -1;
            if (cp < 128) id = ascii[cp];
            else if (auto it = char_index_.find(cp); it != char_index_.end()) id = it->second;
            if (id < 0) {
                if (!has_unknown_) {
                    const std::string t = encode_utf8(std::u32string_view(&cp, 1));
                    throw_data("{}: character {} (U+{:04X}) at byte {} is not in the vocabulary, which has no \"{}\"",
                               what, display(t), static_cast<uint32_t>(cp), offset, kUnknown);
                }
                id = 0;
            }
            ids.push_back(id);
            offset += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        }
        return ids;
    }
    validate_utf8(text, what);
    for (const std::string& t : tokenize_words(text, lowercase_, line_end_token_)) {
        auto it = index_.find(t);
        ids.push_back(it == index_.end() ? 0 : it->second);  // word vocabularies always have "<unk>"
    }
    return ids;
}

std::string Vocabulary::decode(std::span<const int64_t> ids) const {
    std::string out;
    bool line_start = true;
    for (int64_t id : ids) {
        const std::string& t = token(id);
        if (kind_ == TokenKind::Char) {
            out += has_unknown_ && id == 0 ? "\xEF\xBF\xBD" : t;  // U+FFFD for "<unk>"
            continue;
        }
        if (line_end_token_ && t == kLineEnd) {
            out += '\n';
            line_start = true;
            continue;
        }
        if (!line_start) out += ' ';
        out += t;
        line_start = false;
    }
    return out;
}

std::string Vocabulary::to_json() const {
    nlohmann::json j;
    j["format"] = kFormat;
    j["kind"] = kind_name(kind_);
    j["unknown_token"] = has_unknown_;
    j["lowercase"] = lowercase_;
    j["line_end_token"] = line_end_token_;
    j["tokens"] = tokens_;
    return j.dump();
}

Vocabulary Vocabulary::from_json(std::string_view text, const std::string& what) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {  // parse errors, and out_of_range for numbers past double
        throw_data("{}: not a vocabulary (JSON: {})", what, e.what());
    }
    try {
        if (!j.is_object() || j.value("format", "") != kFormat)
            throw_data("{}: not a vocabulary (format should be \"{}\")", what, kFormat);
        const std::string kind = j.at("kind").get<std::string>();
        if (kind != "char" && kind != "word") throw_data("{}: unknown vocabulary kind \"{}\"", what, kind);
        return Vocabulary(kind == "char" ? TokenKind::Char : TokenKind::Word, j.at("tokens").get<std::vector<std::string>>(),
                          j.at("unknown_token").get<bool>(), j.at("lowercase").get<bool>(),
                          j.at("line_end_token").get<bool>(), what);
    } catch (const nlohmann::json::exception& e) {
        throw_data("{}: malformed vocabulary: {}", what, e.what());
    }
}

void Vocabulary::save(const std::string& path) const {
    const std::string s = to_json();
    write_file_atomic(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

Vocabulary Vocabulary::load(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw_data("{}: no such file (or it cannot be read)", path);
    std::ostringstream ss;
    ss << f.rdbuf();
    return from_json(ss.str(), path);
}

void check_same_vocabulary(const Vocabulary& expected, const Vocabulary& found, const std::string& what) {
    if (found == expected) return;
    if (found.kind() != expected.kind())
        throw_data("{}: a {} vocabulary, expected a {} one", what, kind_name(found.kind()), kind_name(expected.kind()));
    if (found.unknown_id() != expected.unknown_id() || found.lowercase() != expected.lowercase() ||
        found.line_end_token() != expected.line_end_token())
        throw_data("{}: the vocabulary's options differ (unknown token, lowercase, line-end token)", what);
    if (found.size() != expected.size())
        throw_data("{}: the vocabulary has {} tokens, expected {}", what, found.size(), expected.size());
    for (int64_t i = 0; i < found.size(); ++i)
        if (found.token(i) != expected.token(i))
            throw_data("{}: the vocabularies differ at id {}: {} here, {} expected", what, i, display(found.token(i)),
                       display(expected.token(i)));
}

void put_vocabulary(Metadata& metadata, const Vocabulary& v) { metadata[kVocabularyKey] = v.to_json(); }

Vocabulary vocabulary_from_metadata(const Metadata& metadata, const std::string& file) {
    auto it = metadata.find(kVocabularyKey);
    if (it == metadata.end()) throw_data("{}: the checkpoint holds no vocabulary (it was not trained on text)", file);
    return Vocabulary::from_json(it->second, file + " (vocabulary)");
}

void check_vocabulary(const Metadata& metadata, const Vocabulary& expected, const std::string& file) {
    check_same_vocabulary(expected, vocabulary_from_metadata(metadata, file),
                          file + ": the checkpoint's vocabulary does not match the corpus's");
}

}  // namespace gg::io
