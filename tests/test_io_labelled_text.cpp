// Labelled texts from fortune files (io/labelled_text.h) on a generated fortune tree laid out
// like Debian's: separators, categories, duplicates, what is skipped (.dat, .u8 links, links
// into it/, brasil, es/off), encodings, missing packages, and the stratified split.
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>

#include <catch2/catch.hpp>

#include "graphgrad/graph/errors.h"
#include "graphgrad/io/data_error.h"
#include "graphgrad/io/labelled_text.h"
#include "test_support.h"

using namespace gg;
using namespace gg::io;
using gg::testing::TempDir;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
}

// n distinct entries "<prefix> quote i" separated by "%" lines.
std::string entries(const std::string& prefix, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += (i ? "%\n" : "") + prefix + " quote " + std::to_string(i) + "\n";
    return s;
}

// A Debian-like tree: English law (4 + a duplicate), work (3, one repeating law's), tiny (1),
// their .dat indexes and .u8 links; fortunes-br's brasil; fortunes-it's it/ with a link at
// the top; de/, es/ with an off/ subfolder.
void make_tree(const fs::path& root) {
    write(root / "law", entries("law", 4) + "%\nlaw quote 0\n");  // a repeat inside the file
    write(root / "law.dat", std::string("\x00\x01\x02", 3));
    fs::create_symlink("law", root / "law.u8");
    write(root / "work", entries("work", 2) + "%\n  law   quote\n1\n");  // law's quote 1, spaced differently
    write(root / "tiny", "only one\n");
    write(root / "brasil", entries("olá", 3));
    write(root / "it" / "adams", entries("ciao", 3));
    fs::create_symlink("it/adams", root / "adams");
    write(root / "de" / "witze", entries("Witz", 2));
    write(root / "de" / "zitate", entries("Zitat", 2));
    write(root / "es" / "vida.fortunes", entries("hola", 3));
    write(root / "es" / "off" / "varios.fortunes", entries("uryyb", 5));
}

}  // namespace

TEST_CASE("split_fortunes: % lines separate, entries trimmed, blank ones skipped", "[io][labelled]") {
    CHECK(split_fortunes("a\n%\nb\nc\n%\n\n%\n  d  \n") == std::vector<std::string>{"a", "b\nc", "d"});
    CHECK(split_fortunes("%\nx\n%\n") == std::vector<std::string>{"x"});
    CHECK(split_fortunes("x\r\n%\r\ny") == std::vector<std::string>{"x", "y"});           // CRLF files
    CHECK(split_fortunes("50%\n%%\n% x\n") == std::vector<std::string>{"50%\n%%\n% x"});  // only a lone % separates
    CHECK(split_fortunes("").empty());
    CHECK(split_fortunes("%\n%\n \n").empty());
}

TEST_CASE("fortune-category: one class per English file, small ones dropped, duplicates once", "[io][labelled]") {
    TempDir dir;
    make_tree(dir.path);
    const LabelledTexts t = load_fortune_categories({.root = dir.path.string(), .min_entries = 2});
    // tiny (1 entry) is dropped; brasil, the .dat, the .u8 link and the adams link are not categories.
    REQUIRE(t.classes == std::vector<std::string>{"law", "work"});
    CHECK(t.task == "fortune-category");
    CHECK(t.class_counts() == std::vector<int64_t>{4, 2});  // law's repeat and work's copy of law 1 dropped
    CHECK(t.texts[0] == "law quote 0");
    CHECK(t.texts[4] == "work quote 0");
    CHECK(t.labels == std::vector<int64_t>{0, 0, 0, 0, 1, 1});
    // min_entries 1 keeps tiny; categories are in byte order of the file names.
    CHECK(load_fortune_categories({.root = dir.path.string(), .min_entries = 1}).classes ==
          std::vector<std::string>{"law", "tiny", "work"});
    CHECK_THROWS_WITH(load_fortune_categories({.root = dir.path.string(), .min_entries = 5}),
                      Catch::Contains("fewer than two English categories with at least 5 entries"));
}

TEST_CASE("language: de, en, es, it, pt from their packages' folders", "[io][labelled]") {
    TempDir dir;
    make_tree(dir.path);
    const LabelledTexts t = load_labelled_texts("language", {.root = dir.path.string()});
    REQUIRE(t.classes == std::vector<std::string>{"de", "en", "es", "it", "pt"});
    // en: law 4 + tiny 1 + work 2 (no minimum here); es: vida only, off/ is not read.
    CHECK(t.class_counts() == std::vector<int64_t>{4, 7, 3, 3, 3});
    for (std::size_t i = 0; i < t.texts.size(); ++i)
        if (t.labels[i] == 4) CHECK(t.texts[i].rfind("olá quote", 0) == 0);
    for (const std::string& s : t.texts) CHECK(s.find("uryyb") == std::string::npos);
}

TEST_CASE("labelled texts: missing packages, bad encodings and unknown tasks are clear errors", "[io][labelled]") {
    TempDir dir;
    CHECK_THROWS_WITH(load_fortune_categories({.root = dir.file("none")}),
                      Catch::Contains("none: no such directory: install the Debian package fortunes (apt-get install fortunes)"));
    make_tree(dir.path);
    const std::string root = dir.path.string();
    fs::remove_all(dir.path / "de");
    CHECK_THROWS_WITH(load_fortune_languages({.root = root}), Catch::Contains("install the Debian package fortunes-de"));
    write(dir.path / "de" / "witze", entries("Witz", 2));
    fs::remove(dir.path / "brasil");
    CHECK_THROWS_WITH(load_fortune_languages({.root = root}),
                      Catch::Contains("brasil: no such file: install the Debian package fortunes-br"));
    write(dir.path / "brasil", entries("ol\xE1", 2));  // Latin-1 "olá": rejected, not guessed at
    CHECK_THROWS_WITH(load_fortune_languages({.root = root}), Catch::Contains("brasil: invalid UTF-8 at byte 2"));
    write(dir.path / "brasil", "%\n\n%\n");
    CHECK_THROWS_WITH(load_fortune_languages({.root = root}), Catch::Contains("brasil: no fortune entries"));
    write(dir.path / "brasil", "");
    CHECK_THROWS_WITH(read_fortune_file(dir.file("brasil")), Catch::Contains("brasil: the file is empty"));
    CHECK_THROWS_AS(load_labelled_texts("sentiment", {.root = root}), OptionError);
    CHECK_THROWS_WITH(load_labelled_texts("sentiment", {.root = root}), Catch::Contains("fortune-category or language"));
    fs::remove_all(dir.path / "de");
    fs::create_directories(dir.path / "de");
    CHECK_THROWS_WITH(load_fortune_languages({.root = root}), Catch::Contains("holds no fortune files"));
}

TEST_CASE("split_stratified: deterministic, a partition, per-class fractions, caps", "[io][labelled]") {
    std::vector<int64_t> labels;
    const std::vector<int64_t> sizes{100, 37, 3, 10};
    for (std::size_t c = 0; c < sizes.size(); ++c)
        for (int64_t i = 0; i < sizes[c]; ++i) labels.push_back(static_cast<int64_t>(c));
    const StratifiedSplit a = split_stratified(labels, 4, {.seed = 5});
    const StratifiedSplit b = split_stratified(labels, 4, {.seed = 5});
    CHECK(a.train == b.train);
    CHECK(a.valid == b.valid);
    CHECK(a.test == b.test);
    CHECK(split_stratified(labels, 4, {.seed = 6}).test != a.test);
    std::set<int64_t> all;
    for (auto* part : {&a.train, &a.valid, &a.test})
        for (int64_t i : *part) CHECK(all.insert(i).second);  // disjoint
    CHECK(all.size() == labels.size());                        // and complete
    auto per_class = [&](const std::vector<int64_t>& part) {
        std::vector<int64_t> n(4, 0);
        for (int64_t i : part) ++n[static_cast<std::size_t>(labels[static_cast<std::size_t>(i)])];
        return n;
    };
    // round(0.8 n) / round(0.1 n) / rest; a class of 3 gets one text in each part.
    CHECK(per_class(a.train) == std::vector<int64_t>{80, 30, 1, 8});
    CHECK(per_class(a.valid) == std::vector<int64_t>{10, 4, 1, 1});
    CHECK(per_class(a.test) == std::vector<int64_t>{10, 3, 1, 1});
    CHECK(std::is_sorted(a.train.begin(), a.train.end()));

    const StratifiedSplit capped = split_stratified(labels, 4, {.seed = 5, .max_per_class = 20});
    CHECK(per_class(capped.train) == std::vector<int64_t>{16, 16, 1, 8});
    CHECK(per_class(capped.test) == std::vector<int64_t>{2, 2, 1, 1});

    CHECK_THROWS_WITH(split_stratified(labels, 3), Catch::Contains("label 3 of text 140 is outside [0, 3)"));
    CHECK_THROWS_WITH(split_stratified(labels, 4, {.train = 0.9, .valid = 0.2}), Catch::Contains("sum to at most 1"));
}

TEST_CASE("shuffle_indices: a seeded permutation, the same every time", "[io][labelled]") {
    std::vector<int64_t> a(50), b;
    std::iota(a.begin(), a.end(), 0);
    b = a;
    const std::vector<int64_t> identity = a;
    shuffle_indices(a, 3);
    shuffle_indices(b, 3);
    CHECK(a == b);
    CHECK(a != identity);
    std::vector<int64_t> sorted = a;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == identity);
    shuffle_indices(b, 4);
    CHECK(a != b);
}

TEST_CASE("tokens, training vocabulary and fastText files", "[io][labelled]") {
    LabelledTexts t{.task = "t", .classes = {"a", "b-c"}, .texts = {"Hello, world!\nBye", "unseen words"}, .labels = {0, 1}};
    CHECK(text_tokens(t.texts[0]) == std::vector<std::string>{"hello", ",", "world", "!", "bye"});
    const std::vector<int64_t> train{0};
    const Vocabulary v = training_vocabulary(t, train);
    CHECK(v.size() == 6);  // <unk> and the five tokens of text 0
    CHECK_FALSE(v.find("unseen"));
    TempDir dir;
    const std::vector<int64_t> both{1, 0};
    write_fasttext_file(dir.file("x.txt"), t, both);
    std::ifstream f(dir.file("x.txt"));
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    CHECK(s == "__label__b-c unseen words\n__label__a hello , world ! bye\n");
}
