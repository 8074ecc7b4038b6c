// Text corpora (io/utf8.h, io/vocabulary.h, io/text_corpus.h) on small generated text:
// strict UTF-8, files that are missing, empty or invalid, character and word vocabularies,
// save/load and checkpoint mismatches, contiguous splits, stream batching, the KJV helper
// (with a stand-in for the `bible` program).
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <numeric>

#include <catch2/catch.hpp>

#include "graphgrad/io/checkpoint.h"
#include "graphgrad/io/text_corpus.h"
#include "graphgrad/io/utf8.h"
#include "test_support.h"

using namespace gg;
using namespace gg::io;
using gg::testing::TempDir;

namespace {

void write(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace

TEST_CASE("UTF-8: round trips and every kind of invalid sequence with its byte offset", "[io][text]") {
    const std::string s = "a\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80z";  // a é 日 😀 z
    const std::u32string cps = decode_utf8(s, "s");
    CHECK(cps == std::u32string{U'a', U'\u00e9', U'\u65e5', U'\U0001F600', U'z'});
    CHECK(encode_utf8(cps) == s);
    CHECK_FALSE(find_invalid_utf8(s));

    const std::pair<std::string, std::string> bad[] = {
        {"ab\x80", "byte 2: unexpected continuation byte (0x80)"},
        {"a\xFF", "byte 1: byte cannot start a sequence (0xff)"},
        {"xy\xE6\x97", "byte 2: sequence truncated by the end of the text"},
        {"\xC0\xAF", "byte 0: overlong encoding"},
        {"ok\xED\xA0\x80", "byte 2: UTF-16 surrogate"},
        {"\xF4\x90\x80\x80", "byte 0: code point above U+10FFFF (0xf4)"},
        {"\xF7\xBF\xBF\xBF", "byte 0: byte cannot start a sequence"},
        {"abc\xE2\x28\xA1", "byte 3: expected a continuation byte (0x28)"},
    };
    for (const auto& [bytes, message] : bad) {
        INFO(message);
        CHECK_THROWS_WITH(validate_utf8(bytes, "f.txt"), Catch::Contains("f.txt: invalid UTF-8 at " + message));
        CHECK_THROWS_AS(decode_utf8(bytes, "f.txt"), DataError);
    }
}

TEST_CASE("read_text_file: missing, empty, invalid UTF-8 and byte-order marks", "[io][text]") {
    TempDir dir;
    CHECK_THROWS_WITH(read_text_file(dir.file("nope.txt")), Catch::Contains("nope.txt: no such file"));
    CHECK_THROWS_WITH(read_text_file(dir.path.string()), Catch::Contains("not a regular file"));
    write(dir.file("empty.txt"), "");
    CHECK_THROWS_WITH(read_text_file(dir.file("empty.txt")), Catch::Contains("empty.txt: the file is empty"));
    write(dir.file("bom_only.txt"), "\xEF\xBB\xBF");
    CHECK_THROWS_WITH(read_text_file(dir.file("bom_only.txt")), Catch::Contains("the file is empty"));
    write(dir.file("bad.txt"), "In the beginning\n\xC3(");
    CHECK_THROWS_WITH(read_text_file(dir.file("bad.txt")),
                      Catch::Contains("bad.txt: invalid UTF-8 at byte 17: expected a continuation byte (0x28)"));
    write(dir.file("bom.txt"), "\xEF\xBB\xBFhi \xC3\xA9");
    CHECK(read_text_file(dir.file("bom.txt")) == "hi \xC3\xA9");
    write(dir.file("bad_bom.txt"), "\xEF\xBB\xBFok\xFF");
    CHECK_THROWS_WITH(read_text_file(dir.file("bad_bom.txt")), Catch::Contains("invalid UTF-8 at byte 5"));
}

TEST_CASE("character vocabulary: sorted code points, stable ids, <unk> policy", "[io][text]") {
    const std::string text = "banana \xC3\xA9t\xC3\xA9 \xE6\x97\xA5\n";  // banana été 日
    const Vocabulary v = Vocabulary::characters(text);
    REQUIRE(v.kind() == TokenKind::Char);
    const std::vector<std::string> want{"<unk>", "\n", " ", "a", "b", "n", "t", "\xC3\xA9", "\xE6\x97\xA5"};
    REQUIRE(v.size() == static_cast<int64_t>(want.size()));
    for (int64_t i = 0; i < v.size(); ++i) CHECK(v.token(i) == want[static_cast<std::size_t>(i)]);
    // The ids depend on the set of characters only, not on their order or counts.
    CHECK(Vocabulary::characters("\xE6\x97\xA5\n \xC3\xA9tnba") == v);

    const std::vector<int64_t> ids = v.encode("nab\xC3\xA9");
    CHECK(ids == std::vector<int64_t>{5, 3, 4, 7});
    CHECK(v.decode(ids) == "nab\xC3\xA9");
    // Unseen characters: <unk> (decoded as U+FFFD), or an error naming them without it.
    CHECK(v.encode("a?b") == std::vector<int64_t>{3, 0, 4});
    CHECK(v.decode(std::vector<int64_t>{3, 0}) == "a\xEF\xBF\xBD");
    const Vocabulary strict = Vocabulary::characters(text, {.unknown_token = false});
    CHECK(strict.size() == v.size() - 1);
    CHECK_FALSE(strict.unknown_id());
    CHECK_THROWS_WITH(strict.encode("ab\xC3\xA9Z", "prime"),
                      Catch::Contains("prime: character \"Z\" (U+005A) at byte 4 is not in the vocabulary"));
    CHECK_THROWS_WITH(v.token(99), Catch::Contains("id 99 is outside [0, 9)"));
    CHECK_THROWS_AS(Vocabulary::characters("ok\xFF"), DataError);
}

TEST_CASE("word vocabulary: tokenisation, counts, min_count, max_size, <eos>, <unk>", "[io][text]") {
    CHECK(tokenize_words("And God said, Let there be light: LORD's well-favoured -x 'y\n", false, true) ==
          std::vector<std::string>{"And", "God", "said", ",", "Let", "there", "be", "light", ":", "LORD's",
                                   "well-favoured", "-", "x", "'", "y", "<eos>"});
    CHECK(tokenize_words("The  the\tTHE\r\n", true, false) == std::vector<std::string>{"the", "the", "the"});

    const std::string text = "the cat and the dog\nthe cat\nzebra\n";
    const Vocabulary v = Vocabulary::words(text);
    // <unk>, then by count (the 3, <eos> 3, cat 2), ties by byte order ("<eos>" < "the").
    const std::vector<std::string> want{"<unk>", "<eos>", "the", "cat", "and", "dog", "zebra"};
    REQUIRE(v.size() == static_cast<int64_t>(want.size()));
    for (int64_t i = 0; i < v.size(); ++i) CHECK(v.token(i) == want[static_cast<std::size_t>(i)]);
    CHECK(v.encode("the cow and\n") == std::vector<int64_t>{2, 0, 4, 1});
    CHECK(v.decode(v.encode("the cat\nand dog\n")) == "the cat\nand dog\n");

    const Vocabulary common = Vocabulary::words(text, {.min_count = 2});
    CHECK(common.size() == 4);  // <unk> <eos> the cat
    const Vocabulary small = Vocabulary::words(text, {.max_size = 3});
    CHECK(small.size() == 3);
    CHECK(small.token(2) == "the");
    CHECK(small.encode("cat") == std::vector<int64_t>{0});
    CHECK_THROWS_WITH(Vocabulary::words(text, {.min_count = 0}), Catch::Contains("min_count 0 must be at least 1"));
}

TEST_CASE("vocabulary save/load and checkpoint mismatches are clear errors", "[io][text]") {
    TempDir dir;
    const Vocabulary v = Vocabulary::characters("hello, world\n");
    v.save(dir.file("v.json"));
    CHECK(Vocabulary::load(dir.file("v.json")) == v);
    const Vocabulary w = Vocabulary::words("a b b\n", {.lowercase = true});
    CHECK(Vocabulary::from_json(w.to_json(), "w") == w);

    CHECK_THROWS_WITH(Vocabulary::load(dir.file("none.json")), Catch::Contains("none.json: no such file"));
    CHECK_THROWS_WITH(Vocabulary::from_json("{", "x.json"), Catch::Contains("x.json: not a vocabulary (JSON"));
    CHECK_THROWS_WITH(Vocabulary::from_json(R"({"format": "other"})", "x.json"), Catch::Contains("format should be"));
    CHECK_THROWS_WITH(Vocabulary::from_json(R"({"format": "graphgrad-vocabulary-1", "kind": "char",
        "unknown_token": false, "lowercase": false, "line_end_token": false, "tokens": ["a", "b", "a"]})", "x.json"),
                      Catch::Contains("x.json: token \"a\" appears twice (ids 0 and 2)"));
    CHECK_THROWS_WITH(Vocabulary::from_json(R"({"format": "graphgrad-vocabulary-1", "kind": "char",
        "unknown_token": false, "lowercase": false, "line_end_token": false, "tokens": ["ab"]})", "x.json"),
                      Catch::Contains("character token \"ab\" at id 0 is not one code point"));
    CHECK_THROWS_WITH(Vocabulary::from_json(R"({"format": "graphgrad-vocabulary-1", "kind": "char"})", "x.json"),
                      Catch::Contains("x.json: malformed vocabulary"));

    // Through a real checkpoint: the vocabulary travels in its metadata.
    ParameterStore store;
    store.add("w", Tensor::full({2}, 1.0), true);
    Metadata meta{{"epoch", "1"}};
    put_vocabulary(meta, v);
    save_checkpoint(store, dir.file("c.safetensors"), meta);
    const Metadata loaded = load_checkpoint(store, dir.file("c.safetensors"));
    CHECK_NOTHROW(check_vocabulary(loaded, v, "c.safetensors"));
    CHECK_THROWS_WITH(check_vocabulary(loaded, Vocabulary::characters("hello, world!\n"), "c.safetensors"),
                      Catch::Contains("c.safetensors: the checkpoint's vocabulary does not match the corpus's: "
                                      "the vocabulary has 11 tokens, expected 12"));
    CHECK_THROWS_WITH(check_vocabulary(loaded, Vocabulary::characters("hello, wolsd\n"), "c.safetensors"),
                      Catch::Contains("the vocabularies differ at id 9: \"r\" here, \"s\" expected"));
    CHECK_THROWS_WITH(check_vocabulary(loaded, w, "c.safetensors"), Catch::Contains("a char vocabulary, expected a word one"));
    CHECK_THROWS_WITH(check_vocabulary(Metadata{{"epoch", "1"}}, v, "old.safetensors"),
                      Catch::Contains("old.safetensors: the checkpoint holds no vocabulary"));
}

TEST_CASE("contiguous train/valid/test splits", "[io][text]") {
    std::vector<int64_t> ids(1000);
    std::iota(ids.begin(), ids.end(), 0);
    const CorpusSplits s = split_contiguous(ids);
    CHECK(s.train.size() == 900);
    CHECK(s.valid.size() == 50);
    CHECK(s.test.size() == 50);
    CHECK(s.train.front() == 0);
    CHECK(s.valid.front() == 900);
    CHECK(s.test.front() == 950);
    CHECK(s.test.back() == 999);
    const CorpusSplits t = split_contiguous(ids, {.train = 0.8, .valid = 0.2});
    CHECK(t.train.size() == 800);
    CHECK(t.valid.size() == 200);
    CHECK(t.test.empty());
    CHECK_THROWS_WITH(split_contiguous(ids, {.train = 0.9, .valid = 0.2}), Catch::Contains("sum to at most 1"));
    CHECK_THROWS_WITH(split_contiguous(ids, {.train = -0.1}), Catch::Contains("must lie in [0, 1]"));
    CHECK_THROWS_WITH(split_contiguous(std::vector<int64_t>(10, 1)), Catch::Contains("leave the valid part"));
}

TEST_CASE("block splits: every block split train/valid/test, the parts concatenated in order", "[io][text]") {
    std::vector<int64_t> ids(1003);
    std::iota(ids.begin(), ids.end(), 0);
    // 1003 ids in 4 blocks: [0, 250), [250, 501), [501, 752), [752, 1003).
    const CorpusSplits s = split_contiguous(ids, {.train = 0.8, .valid = 0.1, .blocks = 4});
    const std::vector<int64_t> valid_starts = {200, 450, 701, 952};  // begin + floor(0.8·size)
    REQUIRE(s.valid.size() == 4 * 25);
    for (std::size_t b = 0; b < 4; ++b)
        for (int64_t i = 0; i < 25; ++i) CHECK(s.valid[b * 25 + static_cast<std::size_t>(i)] == valid_starts[b] + i);
    CHECK(s.train.size() + s.valid.size() + s.test.size() == ids.size());
    CHECK(s.train[200] == 250);  // block 1's train piece follows block 0's
    CHECK(s.test.back() == 1002);
    std::vector<int64_t> all = s.train;
    all.insert(all.end(), s.valid.begin(), s.valid.end());
    all.insert(all.end(), s.test.begin(), s.test.end());
    std::sort(all.begin(), all.end());
    CHECK(all == ids);  // a partition: nothing lost, nothing shared
    // One block is the contiguous split.
    const CorpusSplits one = split_contiguous(ids, {.blocks = 1});
    CHECK(one.valid.front() == 902);
    CHECK_THROWS_WITH(split_contiguous(ids, {.blocks = -1}), Catch::Contains("at least 1"));
    // Automatic: one block per 10,000 ids, between 1 and 100.
    const SplitFractions automatic{.blocks = SplitFractions::kAutoBlocks};
    CHECK(split_block_count(1003, automatic) == 1);
    CHECK(split_block_count(45'000, automatic) == 4);
    CHECK(split_block_count(4'300'000, automatic) == 100);
    CHECK(split_contiguous(ids, automatic).valid.front() == 902);
    CHECK_THROWS_WITH(split_contiguous(std::vector<int64_t>(40, 1), {.blocks = 4}),
                      Catch::Contains("40 tokens in 4 blocks leave the valid part"));
}

TEST_CASE("stream batching: B contiguous streams, windows of T, next-token targets", "[io][text]") {
    std::vector<int64_t> ids(103);
    std::iota(ids.begin(), ids.end(), 0);
    const int64_t B = 4, T = 5;
    StreamBatcher full(ids, B, T);
    CHECK(full.stream_length() == 25);  // 103 / 4; the 3 left over are dropped
    CHECK(full.num_windows() == 4);     // 24 steps have a target: 4 full windows of 5
    Tensor in(TensorDesc{{T, B}, DType::I64}), tg(in.desc());
    for (int64_t w = 0; w < full.num_windows(); ++w) {
        CHECK(full.fill(w, in, tg) == T);
        for (int64_t t = 0; t < T; ++t)
            for (int64_t b = 0; b < B; ++b) {
                CHECK(in.get(t * B + b) == 25 * b + w * T + t);  // stream b starts at 25·b
                CHECK(tg.get(t * B + b) == 25 * b + w * T + t + 1);
            }
    }
    StreamBatcher partial(ids, B, T, LastWindow::Partial);
    CHECK(partial.num_windows() == 5);
    CHECK(partial.fill(4, in, tg) == 4);  // steps 20..23; the last row is padding
    CHECK(in.get(3 * B + 1) == 25 + 23);
    CHECK(tg.get(3 * B + 1) == 25 + 24);
    CHECK(in.get(4 * B + 1) == 0);
    CHECK(partial.stream(2).front() == 50);

    Tensor wrong(TensorDesc{{B, T}, DType::I64});
    CHECK_THROWS_WITH(full.fill(0, wrong, tg), Catch::Contains("must both be i64[5,4]"));
    CHECK_THROWS_WITH(full.fill(4, in, tg), Catch::Contains("window 4 is outside [0, 4)"));
    CHECK_THROWS_WITH(StreamBatcher(std::vector<int64_t>(7, 0), 4, 5), Catch::Contains("7 tokens are too few for 4 streams"));
    CHECK_THROWS_WITH(StreamBatcher(ids, 0, 5), Catch::Contains("batch 0 and window 5 must be at least 1"));
}

TEST_CASE("load_text_corpus: characters or words, splits, a given vocabulary", "[io][text]") {
    TempDir dir;
    std::string text;
    for (int i = 0; i < 40; ++i) text += fmt::format("And God said {}, let there be light.\n", i);
    write(dir.file("t.txt"), text);
    const TextCorpus c = load_text_corpus(dir.file("t.txt"));
    CHECK(c.tokens == static_cast<int64_t>(text.size()));  // ASCII: one id per byte
    CHECK(c.splits.train.size() + c.splits.valid.size() + c.splits.test.size() == text.size());
    CHECK(c.vocab.decode(c.splits.train) == text.substr(0, c.splits.train.size()));

    const TextCorpus w = load_text_corpus(dir.file("t.txt"), {.level = CorpusLevel::Word, .split = {.train = 0.5, .valid = 0.25}});
    CHECK(w.vocab.kind() == TokenKind::Word);
    CHECK(w.tokens == 40 * 11);  // And God said N , let there be light . <eos>
    // A vocabulary from elsewhere: what it lacks becomes <unk>.
    const TextCorpus u = load_text_corpus(dir.file("t.txt"), Vocabulary::characters("And God said"));
    CHECK(u.tokens == c.tokens);
    CHECK(u.splits.train[14] == 0);  // "," is unknown there
    CHECK(u.splits.train[0] == *u.vocab.find("A"));
}

TEST_CASE("ensure_kjv_text: runs the bible program once and caches its text", "[io][text]") {
    TempDir dir;
    const std::string fake = dir.file("fake_bible");
    write(fake, "#!/bin/sh\n[ \"$1\" = \"gen1:1-rev22:21\" ] || exit 3\nprintf 'In the beginning God created the heaven and the earth.\\n'\n");
    std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
    const std::string path = dir.file("cache/kjv.txt");
    CHECK(ensure_kjv_text(path, fake) == path);
    CHECK(read_text_file(path) == "In the beginning God created the heaven and the earth.\n");
    std::filesystem::remove(fake);
    CHECK(ensure_kjv_text(path, fake) == path);  // cached: the program is not run again

    CHECK_THROWS_WITH(ensure_kjv_text(dir.file("b/kjv.txt"), dir.file("missing")),
                      Catch::Contains("apt-get install bible-kjv bible-kjv-text"));
    write(fake, "#!/bin/sh\nexit 3\n");
    std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
    CHECK_THROWS_WITH(ensure_kjv_text(dir.file("c/kjv.txt"), fake), Catch::Contains("failed (exit status 3)"));
    CHECK_FALSE(std::filesystem::exists(dir.file("c/kjv.txt")));
    CHECK(default_kjv_path().find("graphgrad/kjv.txt") != std::string::npos);
}
