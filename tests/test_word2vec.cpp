// word2vec and fastText subwords (train/word2vec.h) and the word2vec text format
// (io/word_vectors.h): the negative-sampling loss and its gradients against a hand
// computation, subsampling and noise-table statistics, fastText's hash and n-grams, the
// vector file round trip and bad files, and a tiny corpus where related words end up nearer.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>

#include "graphgrad/io/fasttext_hash.h"
#include "graphgrad/graph/autodiff.h"
#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/io/data_error.h"
#include "graphgrad/io/word_vectors.h"
#include "graphgrad/train/word2vec.h"
#include "test_support.h"

using namespace gg;
using namespace gg::train;

namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0, na = 0, nb = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        d += static_cast<double>(a[i]) * b[i];
        na += static_cast<double>(a[i]) * a[i];
        nb += static_cast<double>(b[i]) * b[i];
    }
    return d / std::sqrt(na * nb);
}

}  // namespace

TEST_CASE("negative-sampling loss and its gradients against a hand computation", "[word2vec]") {
    Graph g;
    const int64_t V = 5, D = 3;
    Value h = g.parameter("h", {2, D}, [](Tensor& t, uint64_t) {
        for (int64_t i = 0; i < t.numel(); ++i) t.set(i, 0.3 * static_cast<double>(i) - 0.7);
    }, DType::F64);
    Value out = g.parameter("out", {V, D}, [](Tensor& t, uint64_t) {
        for (int64_t i = 0; i < t.numel(); ++i) t.set(i, 0.2 * static_cast<double>((i * 7) % 5) - 0.4);
    }, DType::F64);
    Value targets = g.input("targets", {2, 3}, DType::I64);
    Value loss = negative_sampling_loss(h, out, targets);
    auto gs = gradients(loss, {h, out});
    REQUIRE_FALSE(gs[0].is_sparse());
    REQUIRE(gs[1].is_sparse());  // the output table's gradient: ids + rows
    Value dout = grad(loss, {out})[0];
    auto prog = compile(g, {loss, gs[0].dense, dout});
    const std::vector<int64_t> ids{1, 3, 3, 4, 0, 1};  // row 3 twice in example 0; 1 in both
    auto r = prog.run({{targets, Tensor::from_vector<int64_t>(ids, {2, 3})}});
    const auto H = g.store().get("h").to_doubles(), O = g.store().get("out").to_doubles();
    double want_loss = 0;
    std::vector<double> dh(6, 0.0), dO(static_cast<std::size_t>(V * D), 0.0);
    for (int b = 0; b < 2; ++b)
        for (int j = 0; j < 3; ++j) {
            const auto t = static_cast<std::size_t>(ids[static_cast<std::size_t>(b * 3 + j)]);
            double s = 0;
            for (int e = 0; e < D; ++e) s += H[static_cast<std::size_t>(b * D + e)] * O[t * D + static_cast<std::size_t>(e)];
            // positive: −log σ(s), d/ds = σ(s) − 1; negative: −log σ(−s), d/ds = σ(s)
            want_loss += j == 0 ? -std::log(sigmoid(s)) : -std::log(sigmoid(-s));
            const double ds = j == 0 ? sigmoid(s) - 1 : sigmoid(s);
            for (int e = 0; e < D; ++e) {
                dh[static_cast<std::size_t>(b * D + e)] += ds * O[t * D + static_cast<std::size_t>(e)];
                dO[t * D + static_cast<std::size_t>(e)] += ds * H[static_cast<std::size_t>(b * D + e)];
            }
        }
    CHECK(r[0].get(0) == Approx(want_loss).epsilon(1e-12));
    for (std::size_t i = 0; i < dh.size(); ++i) CHECK(r[1].get(static_cast<int64_t>(i)) == Approx(dh[i]).margin(1e-12));
    for (std::size_t i = 0; i < dO.size(); ++i) CHECK(r[2].get(static_cast<int64_t>(i)) == Approx(dO[i]).margin(1e-12));
}

TEST_CASE("subsampling keeps words with word2vec's probability; the noise table follows count^0.75", "[word2vec]") {
    CHECK(keep_probability(100000, 1000000, 1e-3) == Approx((std::sqrt(100.0) + 1) * 1000.0 / 100000.0));  // 0.11
    CHECK(keep_probability(10, 1000000, 1e-3) == 1.0);  // rare words are always kept
    CHECK(keep_probability(5000, 1000000, 0.0) == 1.0);
    const std::vector<int64_t> counts{0, 1000, 100, 10, 1};
    const auto table = unigram_table(counts, 0.75, 1000000);
    std::map<int32_t, double> freq;
    for (int32_t id : table) freq[id] += 1.0 / static_cast<double>(table.size());
    CHECK(freq.count(0) == 0);  // id 0 (count 0) is never noise
    double z = 0;
    for (int64_t c : counts) z += std::pow(static_cast<double>(c), 0.75);
    for (int32_t id = 1; id <= 4; ++id)
        CHECK(freq[id] == Approx(std::pow(static_cast<double>(counts[static_cast<std::size_t>(id)]), 0.75) / z).margin(2e-6));
    // The corpus counts what it keeps: words by descending count, all 2000 tokens (min count 1).
    Word2VecOptions o{.min_count = 1, .sample = 1e-2};
    std::string text;
    for (int i = 0; i < 2000; ++i) text += (i % 4 == 0) ? "rare" + std::to_string(i % 40) + " " : "the ";
    auto c = build_word2vec_corpus(text, o);
    CHECK(c.words[1] == "the");
    CHECK(c.counts[1] == 1500);
    CHECK(static_cast<int64_t>(c.tokens.size()) == 2000);
}

TEST_CASE("fastText's FNV-1a hash and the n-grams of <word>", "[word2vec][subwords]") {
    // Published FNV-1a 32-bit values for ASCII input.
    CHECK(io::fasttext_hash("") == 0x811c9dc5u);
    CHECK(io::fasttext_hash("a") == 0xe40c292cu);
    CHECK(io::fasttext_hash("foobar") == 0xbf9cf968u);
    // A byte ≥ 0x80 is sign-extended first (fastText hashes int8_t(c)): for "é" (C3 A9).
    uint32_t h = 2166136261u;
    for (uint32_t byte : {0xFFFFFFC3u, 0xFFFFFFA9u}) h = (h ^ byte) * 16777619u;
    CHECK(io::fasttext_hash("\xC3\xA9") == h);
    // "<where>" with n = 3..6, in fastText's order (by start, then by length).
    const std::vector<std::string> grams{"<wh", "<whe", "<whei", "<wheie", "whe", "whei", "wheie", "wheie>", "hei", "heie",
                                         "heie>", "eie", "eie>", "ie>"};
    std::vector<int64_t> want;
    for (const auto& s : grams) want.push_back(static_cast<int64_t>(io::fasttext_hash(s) % 2000000u));
    CHECK(subword_buckets("wheie", 3, 6, 2000000) == want);
    // Code points, not bytes: "été" has 5 code points in "<été>", so 3 + 2 + 1 n-grams of 3..5.
    CHECK(subword_buckets("\xC3\xA9t\xC3\xA9", 3, 5, 1000).size() == 6u);
    CHECK(subword_buckets("wheie", 0, 0, 1000).empty());
}

TEST_CASE("word vectors: text format round trip and strict reading", "[word2vec][io]") {
    gg::testing::TempDir dir;
    Tensor m(TensorDesc{{2, 3}, DType::F32});
    const std::vector<float> vals{0.1f, -2.5e-7f, 3.0f, 1.0f / 3.0f, -0.0f, 12345.678f};
    for (int64_t i = 0; i < 6; ++i) m.data<float>()[i] = vals[static_cast<std::size_t>(i)];
    auto wv = io::make_word_vectors({"king", "queen"}, m);
    const std::string path = dir.path.string() + "/v.vec";
    io::write_word_vectors(path, wv);
    auto back = io::read_word_vectors(path);
    CHECK(back.words == wv.words);
    for (int64_t i = 0; i < 6; ++i) CHECK(back.vectors.data<float>()[i] == vals[static_cast<std::size_t>(i)]);  // exact
    CHECK(back.find("queen") == 1);
    CHECK_FALSE(back.find("rook"));
    // fastText's .vec lines end with a space; tabs and CRLF are tolerated too.
    CHECK(io::parse_word_vectors("2 2\r\na 1 2 \nb\t3 4\n", "ft").vectors.to_doubles() == std::vector<double>{1, 2, 3, 4});
    auto bad = [](const std::string& text, const std::string& message) {
        CHECK_THROWS_MATCHES(io::parse_word_vectors(text, "bad.vec"), io::DataError, Catch::Message(message));
    };
    bad("", "bad.vec: empty file (expected a header line \"V D\")");
    bad("2\n", "bad.vec: line 1: expected a header \"V D\", got \"2\"");
    bad("x 3\n", "bad.vec: line 1: the header's word count \"x\" is not a non-negative integer");
    bad("2 2\na 1 2\n", "bad.vec: the header says 2 words, the file has 1");
    bad("1 2\na 1\n", "bad.vec: line 2: expected a word and 2 values, got 2 fields");
    bad("1 2\na 1 nan\n", "bad.vec: line 2: value 2 \"nan\" of \"a\" is not a finite number");
    bad("1 2\na 1 2x\n", "bad.vec: line 2: value 2 \"2x\" of \"a\" is not a finite number");
    bad("2 1\na 1\na 2\n", "bad.vec: word \"a\" appears twice (rows 0 and 1)");
    bad("1 1\na 1\nb 2\n", "bad.vec: line 3: more lines than the 1 words of the header");
    bad("99999999 100\na 1\n", "bad.vec: line 1: 99999999 words of dimension 100 cannot fit in 17 bytes");
    CHECK_THROWS_AS(io::read_word_vectors(dir.path.string() + "/missing.vec"), io::DataError);
}

namespace {

// Two topics that never share a sentence: animals and tools, in sentences of 12 words.
std::string two_topic_text() {
    const std::vector<std::string> a{"cat", "dog", "horse", "cow", "sheep", "goat"};
    const std::vector<std::string> b{"hammer", "saw", "drill", "wrench", "chisel", "plane"};
    std::string text;
    uint64_t s = 7;
    for (int sentence = 0; sentence < 400; ++sentence) {
        const auto& topic = sentence % 2 ? a : b;
        for (int w = 0; w < 12; ++w) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            text += topic[(s >> 33) % topic.size()] + " ";
        }
        text += "\n";
    }
    return text;
}

double topic_margin(const Word2VecModel& m) {
    const std::vector<std::string> a{"cat", "dog", "horse", "cow"}, b{"hammer", "saw", "drill", "wrench"};
    double same = 0, cross = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        for (std::size_t j = 0; j < a.size(); ++j) {
            if (i != j) same += cosine(m.word_vector(a[i]), m.word_vector(a[j])) + cosine(m.word_vector(b[i]), m.word_vector(b[j]));
            cross += cosine(m.word_vector(a[i]), m.word_vector(b[j]));
        }
    return same / 24.0 - cross / 16.0;
}

}  // namespace

TEST_CASE("word2vec on a tiny two-topic corpus: words of one topic end up nearer", "[word2vec]") {
    // Sentences of 12 words joined into one stream: windows rarely cross a topic boundary.
    for (auto arch : {Word2VecArch::SkipGram, Word2VecArch::Cbow}) {
        Word2VecOptions o{.arch = arch, .dim = 16, .window = 2, .negative = 4, .min_count = 1, .epochs = 10,
                          .lr = arch == Word2VecArch::Cbow ? 0.05 : 0.025, .sample = 0, .batch = 64,
                          .table_size = 100000, .seed = 3};
        Word2VecReport r;
        auto m = train_word2vec(build_word2vec_corpus(two_topic_text(), o), o, &r);
        INFO((arch == Word2VecArch::Cbow ? "cbow" : "skipgram") << ": margin " << topic_margin(m) << ", loss " << r.final_loss);
        CHECK(r.words == 10 * 4800);
        CHECK(topic_margin(m) > 0.5);
        auto nn = nearest_neighbors(m.word_vectors(), m.word_vector("cat"), 3, {*m.word_vectors().find("cat")});
        for (const Neighbor& n : nn) CHECK((n.word == "dog" || n.word == "horse" || n.word == "cow" || n.word == "sheep" || n.word == "goat"));
    }
}

TEST_CASE("fastText subwords: an unseen word gets the mean of its n-grams' rows", "[word2vec][subwords]") {
    Word2VecOptions o{.dim = 8, .window = 2, .negative = 3, .min_count = 1, .epochs = 2, .sample = 0, .batch = 32,
                      .minn = 3, .maxn = 5, .buckets = 1000, .table_size = 10000, .seed = 5};
    auto m = train_word2vec(build_word2vec_corpus(two_topic_text(), o), o);
    CHECK(topic_margin(m) > 0.2);
    const std::string oov = "cattle";
    const auto rows = subword_buckets(oov, 3, 5, 1000);
    REQUIRE_FALSE(rows.empty());
    std::vector<double> want(8, 0.0);
    const int64_t v = m.corpus().vocab_size();
    for (int64_t b : rows)
        for (int64_t e = 0; e < 8; ++e) want[static_cast<std::size_t>(e)] += m.input_table().get((v + b) * 8 + e) / static_cast<double>(rows.size());
    const auto got = m.word_vector(oov);
    REQUIRE(got.size() == 8u);
    for (std::size_t e = 0; e < 8; ++e) CHECK(got[e] == Approx(want[e]).margin(1e-6));
    // A known word: the mean of its own row and its n-grams' rows, which training moved.
    const auto cat = m.word_vector("cat");
    const auto cat_grams = subword_buckets("cat", 3, 5, 1000);
    CHECK(cat_grams.size() == 6u);  // <ca cat at> <cat cat> <cat>
    // The saved model reloads to the same vectors, OOV words included.
    gg::testing::TempDir dir;
    save_word2vec(dir.path.string() + "/m.safetensors", m);
    auto back = load_word2vec(dir.path.string() + "/m.safetensors");
    CHECK(back.word_vector(oov) == got);
    CHECK(back.word_vector("cat") == cat);
    CHECK(back.word_vectors().words == m.word_vectors().words);
}
