// word2vec's text format. Parsing is strict (a truncated or hand-edited file must not load as
// silently wrong vectors); numbers are parsed with std::from_chars (locale-independent).
#include "graphgrad/io/word_vectors.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "graphgrad/io/data_error.h"
#include "graphgrad/io/safetensors.h"  // write_file_atomic

namespace gg::io {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// The fields of one line, split on spaces/tabs.
std::vector<std::string_view> fields(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_space(line[i])) ++i;
        std::size_t j = i;
        while (j < line.size() && !is_space(line[j])) ++j;
        if (j > i) out.push_back(line.substr(i, j - i));
        i = j;
    }
    return out;
}

int64_t parse_count(std::string_view s, const std::string& what, const char* name) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < 0)
        throw_data("{}: line 1: the header's {} \"{}\" is not a non-negative integer", what, name, s);
    return v;
}

}  // namespace

std::optional<int64_t> WordVectors::find(std::string_view word) const {
    auto it = index_.find(std::string(word));
    if (it == index_.end()) return std::nullopt;
    return it->second;
}

void WordVectors::index() {
    index_.clear();
    for (std::size_t i = 0; i < words.size(); ++i) index_.emplace(words[i], static_cast<int64_t>(i));
}

WordVectors make_word_vectors(std::vector<std::string> words, Tensor vectors, const std::string& what) {
    const Shape& s = vectors.shape();
    if (vectors.dtype() != DType::F32 || s.size() != 2 || s[0] != static_cast<int64_t>(words.size()))
        throw_data("{}: {} words need f32 [{}, D] vectors, got {}", what, words.size(), words.size(), desc_str(vectors.desc()));
    WordVectors v;
    v.words = std::move(words);
    v.vectors = std::move(vectors);
    for (std::size_t i = 0; i < v.words.size(); ++i) {
        const std::string& w = v.words[i];
        if (w.empty() || fields(w).size() != 1 || w.find('\n') != std::string::npos)
            throw_data("{}: word {} \"{}\" is empty or holds whitespace", what, i, w);
    }
    v.index();
    if (static_cast<int64_t>(v.words.size()) != 0) {
        std::unordered_map<std::string_view, std::size_t> seen;
        seen.reserve(v.words.size());
        for (std::size_t i = 0; i < v.words.size(); ++i)
            if (auto [it, fresh] = seen.emplace(v.words[i], i); !fresh)
                throw_data("{}: word \"{}\" appears twice (rows {} and {})", what, v.words[i], it->second, i);
    }
    return v;
}

WordVectors parse_word_vectors(std::string_view text, const std::string& what) {
    std::size_t pos = 0;
    int64_t line_no = 0;
    auto next_line = [&](std::string_view& line) {
        if (pos >= text.size()) return false;
        std::size_t e = text.find('\n', pos);
        if (e == std::string_view::npos) e = text.size();
        line = text.substr(pos, e - pos);
        pos = e + 1;
        ++line_no;
        return true;
    };
    std::string_view line;
    if (!next_line(line)) throw_data("{}: empty file (expected a header line \"V D\")", what);
    const auto head = fields(line);
    if (head.size() != 2) throw_data("{}: line 1: expected a header \"V D\", got \"{}\"", what, line.substr(0, 80));
    const int64_t v = parse_count(head[0], what, "word count"), d = parse_count(head[1], what, "dimension");
    if (d == 0) throw_data("{}: line 1: dimension 0", what);
    // Every word line holds a word and d values, each at least a byte and a separator: a header
    // promising more is refused before anything is allocated (d alone can be huge: fuzz finding).
    const auto bytes = static_cast<int64_t>(text.size());
    if (v > 0 && (d > bytes / 2 || v > bytes / (2 * d + 1) + 1))
        throw_data("{}: line 1: {} words of dimension {} cannot fit in {} bytes", what, v, d, text.size());
    std::vector<std::string> words;
    words.reserve(static_cast<std::size_t>(v));
    Tensor vec(TensorDesc{{v, d}, DType::F32});
    float* out = vec.data<float>();
    for (int64_t r = 0; r < v; ++r) {
        if (!next_line(line)) throw_data("{}: the header says {} words, the file has {}", what, v, r);
        const auto f = fields(line);
        if (static_cast<int64_t>(f.size()) != d + 1)
            throw_data("{}: line {}: expected a word and {} values, got {} fields", what, line_no, d, f.size());
        words.emplace_back(f[0]);
        for (int64_t k = 0; k < d; ++k) {
            const std::string_view s = f[static_cast<std::size_t>(k + 1)];
            float x = 0;
            auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
            if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(x))
                throw_data("{}: line {}: value {} \"{}\" of \"{}\" is not a finite number", what, line_no, k + 1, s, f[0]);
            out[r * d + k] = x;
        }
    }
    while (next_line(line))
        if (!fields(line).empty()) throw_data("{}: line {}: more lines than the {} words of the header", what, line_no, v);
    return make_word_vectors(std::move(words), std::move(vec), what);
}

WordVectors read_word_vectors(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw_data("{}: cannot open word vectors", path);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw_data("{}: read error", path);
    return parse_word_vectors(ss.str(), path);
}

std::string format_word_vectors(const WordVectors& v) {
    const int64_t d = v.dim();
    std::string out = fmt::format("{} {}\n", v.size(), d);
    const float* x = v.vectors.data<float>();
    for (int64_t r = 0; r < v.size(); ++r) {
        out += v.words[static_cast<std::size_t>(r)];
        for (int64_t k = 0; k < d; ++k) fmt::format_to(std::back_inserter(out), " {:.9g}", x[r * d + k]);
        out += '\n';
    }
    return out;
}

void write_word_vectors(const std::string& path, const WordVectors& v) {
    const std::string s = format_word_vectors(v);
    write_file_atomic(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

}  // namespace gg::io
