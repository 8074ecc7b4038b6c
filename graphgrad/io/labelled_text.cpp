#include "graphgrad/io/labelled_text.h"

#include <algorithm>
#include <array>
#include <limits>
#include <cmath>
#include <filesystem>
#include <random>
#include <unordered_set>

#include "graphgrad/graph/errors.h"
#include "graphgrad/io/data_error.h"
#include "graphgrad/io/safetensors.h"  // write_file_atomic
#include "graphgrad/io/text_corpus.h"  // read_text_file

namespace gg::io {

namespace fs = std::filesystem;

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
}

// The duplicate key: whitespace runs collapsed to one space.
std::string collapse_spaces(std::string_view s) {
    std::string out;
    bool space = false;
    for (char c : trim(s)) {
        if (is_blank(c)) {
            space = true;
            continue;
        }
        if (space) out += ' ';
        out += c;
        space = false;
    }
    return out;
}

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Regular files (not links) directly in dir whose names are not indexes (.dat) or the
// UTF-8-locale links (.u8), sorted by name. DataError naming the package when dir is missing.
std::vector<fs::path> fortune_files(const fs::path& dir, const char* package, const std::vector<std::string>& skip = {}) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw_data("{}: no such directory: install the Debian package {} (apt-get install {})", dir.string(), package,
                   package);
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (!e.is_regular_file() || e.is_symlink() || ends_with(name, ".dat") || ends_with(name, ".u8")) continue;
        if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
        files.push_back(e.path());
    }
    if (ec) throw_data("{}: cannot list: {}", dir.string(), ec.message());
    if (files.empty())
        throw_data("{}: holds no fortune files: install the Debian package {} (apt-get install {})", dir.string(),
                   package, package);
    std::sort(files.begin(), files.end());
    return files;
}

// The English category files: fortunes-br puts its one Portuguese file among them.
std::vector<fs::path> english_files(const std::string& root) {
    return fortune_files(root, "fortunes", {"brasil"});
}

class Collector {
public:
    explicit Collector(std::string task) { out_.task = std::move(task); }
    // Adds the entries of `files` under a new class; returns how many were new.
    int64_t add_class(const std::string& name, const std::vector<fs::path>& files) {
        const auto label = static_cast<int64_t>(out_.classes.size());
        out_.classes.push_back(name);
        int64_t added = 0;
        for (const fs::path& f : files)
            for (std::string& e : read_fortune_file(f.string())) {
                if (!seen_.insert(collapse_spaces(e)).second) continue;
                out_.texts.push_back(std::move(e));
                out_.labels.push_back(label);
                ++added;
            }
        return added;
    }
    // Removes the last class added (too few entries); its texts stay "seen" so that a later
    // class cannot pick up their duplicates.
    void drop_last_class() {
        const auto label = static_cast<int64_t>(out_.classes.size()) - 1;
        while (!out_.labels.empty() && out_.labels.back() == label) out_.labels.pop_back(), out_.texts.pop_back();
        out_.classes.pop_back();
    }
    LabelledTexts take() { return std::move(out_); }

private:
    LabelledTexts out_;
    std::unordered_set<std::string> seen_;
};

// Draws uniformly from [0, n) without std::uniform_int_distribution, whose algorithm differs
// between standard libraries (the split must not).
uint64_t draw_below(std::mt19937_64& rng, uint64_t n) {
    const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
    uint64_t r;
    do r = rng();
    while (r >= limit);
    return r % n;
}

}  // namespace

std::vector<std::string> split_fortunes(std::string_view text) {
    std::vector<std::string> out;
    auto flush = [&](std::size_t begin, std::size_t end) {
        const std::string_view e = trim(text.substr(begin, end - begin));
        if (!e.empty()) out.emplace_back(e);
    };
    std::size_t entry = 0, line = 0;
    while (line < text.size()) {
        std::size_t eol = text.find('\n', line);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view l = text.substr(line, eol - line);
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        if (l == "%") {
            flush(entry, line);
            entry = std::min(eol + 1, text.size());
        }
        line = eol + 1;
    }
    if (entry < text.size()) flush(entry, text.size());
    return out;
}

std::vector<std::string> read_fortune_file(const std::string& path) {
    std::vector<std::string> entries = split_fortunes(read_text_file(path));  // checks UTF-8, names the byte
    if (entries.empty()) throw_data("{}: no fortune entries (entries are separated by lines holding only \"%\")", path);
    return entries;
}

std::vector<int64_t> LabelledTexts::class_counts() const {
    std::vector<int64_t> counts(classes.size(), 0);
    for (int64_t l : labels) ++counts.at(static_cast<std::size_t>(l));
    return counts;
}

LabelledTexts load_fortune_categories(const FortuneOptions& o) {
    if (o.min_entries < 1) throw_data("fortune-category: min_entries {} must be at least 1", o.min_entries);
    Collector c("fortune-category");
    for (const fs::path& f : english_files(o.root))
        if (c.add_class(f.filename().string(), {f}) < o.min_entries) c.drop_last_class();
    LabelledTexts out = c.take();
    if (out.classes.size() < 2)
        throw_data("{}: fewer than two English categories with at least {} entries", o.root, o.min_entries);
    return out;
}

LabelledTexts load_fortune_languages(const FortuneOptions& o) {
    const fs::path root(o.root);
    Collector c("language");
    c.add_class("de", fortune_files(root / "de", "fortunes-de"));
    c.add_class("en", english_files(o.root));
    c.add_class("es", fortune_files(root / "es", "fortunes-es"));
    c.add_class("it", fortune_files(root / "it", "fortunes-it"));
    std::error_code ec;
    const fs::path pt = root / "brasil";
    if (!fs::is_regular_file(pt, ec))
        throw_data("{}: no such file: install the Debian package fortunes-br (apt-get install fortunes-br)", pt.string());
    c.add_class("pt", {pt});
    return c.take();
}

LabelledTexts load_labelled_texts(const std::string& task, const FortuneOptions& o) {
    if (task == "fortune-category") return load_fortune_categories(o);
    if (task == "language") return load_fortune_languages(o);
    throw OptionError(fmt::format("unknown text corpus \"{}\": expected fortune-category or language", task));
}

StratifiedSplit split_stratified(std::span<const int64_t> labels, int64_t num_classes, const StratifiedOptions& o) {
    if (!(o.train >= 0 && o.valid >= 0 && o.train + o.valid <= 1 + 1e-12))
        throw_data("stratified split: fractions train {} and valid {} must be non-negative and sum to at most 1",
                   o.train, o.valid);
    if (num_classes < 1 || o.max_per_class < 0)
        throw_data("stratified split: {} classes and max_per_class {} (0: all) are invalid", num_classes,
                   o.max_per_class);
    std::vector<std::vector<int64_t>> by_class(static_cast<std::size_t>(num_classes));
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (labels[i] < 0 || labels[i] >= num_classes)
            throw_data("stratified split: label {} of text {} is outside [0, {})", labels[i], i, num_classes);
        by_class[static_cast<std::size_t>(labels[i])].push_back(static_cast<int64_t>(i));
    }
    StratifiedSplit s;
    for (std::size_t c = 0; c < by_class.size(); ++c) {
        std::vector<int64_t>& idx = by_class[c];
        std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ull + c);
        for (std::size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[draw_below(rng, i)]);
        if (o.max_per_class > 0 && static_cast<int64_t>(idx.size()) > o.max_per_class)
            idx.resize(static_cast<std::size_t>(o.max_per_class));
        const auto n = static_cast<int64_t>(idx.size());
        std::array<int64_t, 3> part{};  // train, valid, test
        part[0] = static_cast<int64_t>(std::llround(static_cast<double>(n) * o.train));
        part[1] = std::min(n - part[0], static_cast<int64_t>(std::llround(static_cast<double>(n) * o.valid)));
        part[2] = n - part[0] - part[1];
        const std::array<bool, 3> wanted{o.train > 0, o.valid > 0, o.train + o.valid < 1 - 1e-12};
        for (std::size_t k = 0; k < 3 && n >= 3; ++k)  // every wanted part of a class gets a text
            if (wanted[k] && part[k] == 0) {
                --*std::max_element(part.begin(), part.end());
                ++part[k];
            }
        const int64_t n_train = part[0], n_valid = part[1];
        const auto begin = idx.begin();
        s.train.insert(s.train.end(), begin, begin + n_train);
        s.valid.insert(s.valid.end(), begin + n_train, begin + n_train + n_valid);
        s.test.insert(s.test.end(), begin + n_train + n_valid, idx.end());
    }
    for (auto* part : {&s.train, &s.valid, &s.test}) std::sort(part->begin(), part->end());
    return s;
}

void shuffle_indices(std::vector<int64_t>& indices, uint64_t seed) {
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 0x7E47);
    for (std::size_t i = indices.size(); i > 1; --i) std::swap(indices[i - 1], indices[draw_below(rng, i)]);
}

std::vector<std::string> text_tokens(std::string_view text, bool lowercase) {
    return tokenize_words(text, lowercase, /*line_end_token=*/false);
}

Vocabulary training_vocabulary(const LabelledTexts& data, std::span<const int64_t> indices, int64_t min_count,
                               bool lowercase) {
    std::string all;
    for (int64_t i : indices) {
        all += data.texts.at(static_cast<std::size_t>(i));
        all += '\n';
    }
    return Vocabulary::words(all, {.min_count = min_count, .lowercase = lowercase, .line_end_token = false});
}

void write_fasttext_file(const std::string& path, const LabelledTexts& data, std::span<const int64_t> indices,
                         bool lowercase) {
    std::string out;
    for (int64_t i : indices) {
        const auto k = static_cast<std::size_t>(i);
        out += "__label__";
        out += data.classes.at(static_cast<std::size_t>(data.labels.at(k)));
        for (const std::string& t : text_tokens(data.texts.at(k), lowercase)) {
            out += ' ';
            out += t;
        }
        out += '\n';
    }
    write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(out.data()), out.size()));
}

}  // namespace gg::io
