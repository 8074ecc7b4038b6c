// The FastText classifier and Kim's text CNN (models/text_classifiers.h, train/
// text_classification.h): fastText's hashing and features by hand, both forward passes against
// plain loops, frozen vs fine-tuned embeddings, and training on an easy generated task.
#include <algorithm>
#include <cmath>
#include <random>

#include <catch2/catch.hpp>

#include "graphgrad/io/fasttext_hash.h"
#include "graphgrad/models/text_classifiers.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/train/text_classification.h"
#include "test_support.h"

using namespace gg;
using namespace gg::models;
using gg::testing::norm;
using gg::testing::uniform_tensor;

namespace {

// An easy task: each text is filler words with one keyword of its class somewhere in it.
io::LabelledTexts keyword_task(int per_class, uint64_t seed) {
    const std::vector<std::string> keywords{"apple", "river", "engine"};
    const std::vector<std::string> filler{"the", "a", "of", "and", "it", "was", "on", "we", "so", "to", "is", "at"};
    io::LabelledTexts t{.task = "keywords", .classes = {"fruit", "water", "machine"}};
    std::mt19937_64 rng(seed);
    for (int i = 0; i < per_class; ++i)
        for (std::size_t c = 0; c < keywords.size(); ++c) {
            const std::size_t n = 4 + rng() % 12, at = rng() % n;
            std::string s;
            for (std::size_t w = 0; w < n; ++w) s += (w ? " " : "") + (w == at ? keywords[c] : filler[rng() % filler.size()]);
            t.texts.push_back(s);
            t.labels.push_back(static_cast<int64_t>(c));
        }
    return t;
}

}  // namespace

TEST_CASE("fastText hashing: FNV-1a with sign-extended bytes, n-gram buckets", "[models][text]") {
    CHECK(io::fasttext_hash("") == 2166136261u);
    CHECK(io::fasttext_hash("a") == 0xE40C292Cu);  // the published FNV-1a 32 of "a"
    // A byte ≥ 0x80 is xored as a sign-extended int8 (fastText's cast), unlike plain FNV-1a.
    const uint32_t e9 = (2166136261u ^ 0xFFFFFFE9u) * 16777619u;
    CHECK(io::fasttext_hash("\xE9") == e9);
    const std::vector<uint32_t> small{1, 2};
    CHECK(fasttext_ngram_bucket(small, 1000) == (116049371 + 2) % 1000);
    const std::vector<uint32_t> negative{0xFFFFFFFFu, 5};  // −1 as int32: widened to 2^64 − 1
    CHECK(fasttext_ngram_bucket(negative, 1000) == static_cast<int64_t>((uint64_t{0} - 116049371u + 5u) % 1000u));
}

TEST_CASE("fastText features: known words, </s>, bigram rows after the words", "[models][text]") {
    io::LabelledTexts t{.task = "t", .classes = {"x", "y"}, .texts = {"b a b", "c"}, .labels = {0, 1}};
    const io::Vocabulary vocab = io::training_vocabulary(t, std::vector<int64_t>{0, 1});
    REQUIRE(vocab.size() == 4);  // <unk>, b, a, c
    const FastTextOptions mo{.words = 5, .buckets = 97, .dim = 4, .classes = 2};
    const std::vector<std::string> tokens{"b", "zzz", "a"};
    const std::vector<int64_t> f = train::fasttext_features(tokens, vocab, mo, 2);
    const std::vector<uint32_t> h{io::fasttext_hash("b"), io::fasttext_hash("zzz"), io::fasttext_hash("a"),
                                  io::fasttext_hash("</s>")};
    auto bucket = [&](std::size_t i) { return 5 + fasttext_ngram_bucket(std::span(h).subspan(i, 2), 97); };
    // b, a (zzz unknown: dropped), </s> = 4, then the bigrams b·zzz, zzz·a, a·</s>.
    CHECK(f == std::vector<int64_t>{*vocab.find("b"), *vocab.find("a"), 4, bucket(0), bucket(1), bucket(2)});
    CHECK(train::fasttext_features(tokens, vocab, mo, 1).size() == 3);
    CHECK_THROWS_WITH(train::fasttext_features(tokens, vocab, {.words = 4, .classes = 2}, 2),
                      Catch::Contains("the vocabulary needs 5"));
}

TEST_CASE("fasttext_classifier: logits are the feature mean times the output matrix", "[models][text]") {
    Graph g;
    const FastTextOptions mo{.words = 3, .buckets = 2, .dim = 3, .classes = 2};
    Value ids = g.input("ids", {2, 4}, DType::I64), w = g.input("w", {2, 4});
    const FastTextNet net = fasttext_classifier(ids, w, mo);
    CHECK(net.table.shape() == Shape{6, 3});
    Tensor& table = g.store().get("fasttext.input");
    for (int64_t i = 0; i < 15; ++i) CHECK(std::abs(table.get(i)) <= 1.0 / 3 + 1e-7);  // U(±1/dim)
    for (int64_t i = 15; i < 18; ++i) CHECK(table.get(i) == 0.0);                     // padding row
    CHECK(norm(g.store().get("fasttext.output")) == 0.0);                              // fastText starts at 0
    table.copy_from(uniform_tensor({6, 3}, 1));
    g.store().get("fasttext.output").copy_from(uniform_tensor({3, 2}, 2));
    const std::vector<int64_t> id{0, 4, 4, 5, 2, 1, 5, 5};  // row 0: 3 features; row 1: 2 (5 is padding)
    const std::vector<float> wt{1 / 3.f, 1 / 3.f, 1 / 3.f, 0, 0.5f, 0.5f, 0, 0};
    auto out = compile(g, {net.logits}).run({{ids, Tensor::from_vector(id, {2, 4})}, {w, Tensor::from_vector(wt, {2, 4})}});
    const Tensor& E = table;
    const Tensor& W = g.store().get("fasttext.output");
    for (int64_t b = 0; b < 2; ++b)
        for (int64_t c = 0; c < 2; ++c) {
            double expect = 0;
            for (int64_t l = 0; l < 4; ++l)
                for (int64_t k = 0; k < 3; ++k) expect += wt[static_cast<std::size_t>(b * 4 + l)] * E.get(id[static_cast<std::size_t>(b * 4 + l)] * 3 + k) * W.get(k * 2 + c);
            CHECK(out[0].get(b * 2 + c) == Approx(expect).margin(1e-6));
        }
    // A second network on the same graph (another padded length) shares the parameters.
    Value ids8 = g.input("ids8", {1, 8}, DType::I64), w8 = g.input("w8", {1, 8});
    CHECK(fasttext_classifier(ids8, w8, mo).table == net.table);
}

TEST_CASE("fasttext_classifier: the embedded rows' gradient scattered by id is the table's", "[models][text]") {
    // The premise of the row-sparse SGD step in train/fasttext_training.cpp: adding each read
    // row's gradient into the table row it came from equals the dense table gradient, repeated
    // ids and the padding row (no gradient) included.
    Graph g;
    const FastTextOptions mo{.words = 4, .buckets = 3, .dim = 2, .classes = 3};
    Value ids = g.input("ids", {2, 3}, DType::I64), w = g.input("w", {2, 3}), y = g.input("y", {2}, DType::I64);
    const FastTextNet net = fasttext_classifier(ids, w, mo);
    g.store().get("fasttext.output").copy_from(uniform_tensor({2, 3}, 5));  // non-zero, so rows get gradient
    Value loss = cross_entropy(net.logits, y);
    const auto grads = grad(loss, {net.embedded, net.table});
    const std::vector<int64_t> id{2, 5, 2, 6, 7, 7};  // 2 twice; 7 is padding
    const std::vector<float> wt{1 / 3.f, 1 / 3.f, 1 / 3.f, 1, 0, 0};
    auto out = compile(g, {grads[0], grads[1]}).run({{ids, Tensor::from_vector(id, {2, 3})},
                                                       {w, Tensor::from_vector(wt, {2, 3})},
                                                       {y, Tensor::from_vector(std::vector<int64_t>{1, 2}, {2})}});
    std::vector<double> scattered(static_cast<std::size_t>(mo.rows() * 2), 0.0);
    for (std::size_t at = 0; at < id.size(); ++at)
        if (id[at] != mo.padding_id())
            for (int64_t k = 0; k < 2; ++k) scattered[static_cast<std::size_t>(id[at] * 2 + k)] += out[0].get(static_cast<int64_t>(at) * 2 + k);
    for (int64_t i = 0; i < mo.rows() * 2; ++i) CHECK(out[1].get(i) == Approx(scattered[static_cast<std::size_t>(i)]).margin(1e-7));
    CHECK(norm(out[1]) > 0.01);
}

TEST_CASE("text_cnn: conv over time, ReLU, max over time, linear, against loops", "[models][text]") {
    Graph g(7);
    const int64_t B = 2, L = 6, V = 5, D = 3, F = 2;
    Value ids = g.input("ids", {B, L}, DType::I64);
    const TextCnnOptions o{.vocab = V, .dim = D, .widths = {2, 3}, .filters = F, .dropout = 0.5, .classes = 3};
    const TextCnnNet net = text_cnn(ids, o);
    const std::vector<int64_t> id{1, 2, 3, 4, 0, 5, 4, 4, 2, 5, 5, 5};  // 5 = padding
    auto out = compile(g, {net.logits, net.features}).run({{ids, Tensor::from_vector(id, {B, L})}});  // eval: no dropout
    const Tensor& E = g.store().get("text_cnn.embedding");
    for (int64_t d = 0; d < D; ++d) CHECK(E.get(V * D + d) == 0.0);  // padding row zero
    for (int64_t b = 0; b < B; ++b) {
        std::vector<double> row;
        for (int64_t k : {2, 3}) {
            const Tensor& w = g.store().get(fmt::format("text_cnn.conv{}.weight", k));
            const Tensor& bias = g.store().get(fmt::format("text_cnn.conv{}.bias", k));
            for (int64_t f = 0; f < F; ++f) {
                double best = -1e30;
                for (int64_t t = 0; t + k <= L; ++t) {
                    double s = bias.get(f);
                    for (int64_t i = 0; i < k; ++i)
                        for (int64_t d = 0; d < D; ++d)
                            s += w.get((f * D + d) * k + i) * E.get(id[static_cast<std::size_t>(b * L + t + i)] * D + d);
                    best = std::max(best, std::max(s, 0.0));
                }
                row.push_back(best);
            }
        }
        for (std::size_t j = 0; j < row.size(); ++j) CHECK(out[1].get(b * 4 + static_cast<int64_t>(j)) == Approx(row[j]).margin(1e-5));
        const Tensor& fw = g.store().get("text_cnn.fc.weight");
        const Tensor& fb = g.store().get("text_cnn.fc.bias");
        for (int64_t c = 0; c < 3; ++c) {
            double s = fb.get(c);
            for (int64_t j = 0; j < 4; ++j) s += row[static_cast<std::size_t>(j)] * fw.get(j * 3 + c);
            CHECK(out[0].get(b * 3 + c) == Approx(s).margin(1e-5));
        }
    }
    CHECK_THROWS_WITH(text_cnn(g.input("short", {1, 2}, DType::I64), o), Catch::Contains("kernel width 3 needs"));
}

TEST_CASE("text_cnn: pre-trained rows, frozen (state) or fine-tuned (parameter)", "[models][text]") {
    Tensor rows = uniform_tensor({4, 2}, 3);
    const std::vector<bool> found{false, true, true, false};
    for (bool freeze : {true, false}) {
        Graph g;
        Value ids = g.input("ids", {1, 5}, DType::I64);
        const TextCnnNet net = text_cnn(
            ids, {.vocab = 4, .dim = 2, .filters = 2, .classes = 2, .freeze_embeddings = freeze, .embedding_init = embedding_rows(rows, found)});
        const Tensor& E = g.store().get("text_cnn.embedding");
        for (int64_t v = 0; v < 5; ++v)
            for (int64_t d = 0; d < 2; ++d) {
                const double e = E.get(v * 2 + d);
                if (v == 4) CHECK(e == 0.0);
                else if (found[static_cast<std::size_t>(v)]) CHECK(e == rows.get(v * 2 + d));
                else CHECK((std::abs(e) <= 0.25 && e != 0.0));
            }
        const auto params = g.parameters();
        const bool listed = std::find(params.begin(), params.end(), net.table) != params.end();
        CHECK(listed == !freeze);
        CHECK(g.store().entries().at("text_cnn.embedding").trainable == !freeze);
    }
    CHECK_THROWS_WITH(embedding_rows(rows, {true}), Catch::Contains("one `found` flag per row"));
}

TEST_CASE("text classifiers learn an easy keyword task, and a frozen table is not trained", "[models][text][train]") {
    const train::TextData d = train::prepare_text_data(keyword_task(60, 3), {.split = {.seed = 2}});
    REQUIRE(d.split.test.size() == 18);
    const auto ft = train::train_fasttext_classifier(d, {.dim = 8, .buckets = 1000, .epochs = 8, .lr = 0.5, .progress = false});
    REQUIRE(ft.epochs.size() == 8);
    CHECK(ft.epochs.back().train_loss < 0.5 * ft.epochs.front().train_loss);
    CHECK(ft.test_accuracy >= 0.94);
    const auto ft4 = train::train_fasttext_classifier(d, {.dim = 8, .buckets = 1000, .epochs = 8, .lr = 0.5, .batch = 4, .progress = false});
    CHECK(ft4.test_accuracy >= 0.94);

    train::TextCnnTrainOptions co{.model = {.dim = 8, .filters = 4}, .epochs = 8, .batch = 10, .lr = 0.01, .progress = false};
    const auto cnn = train::train_text_cnn(d, co);
    std::size_t longest = 0;
    for (int64_t i : d.split.train) longest = std::max(longest, d.tokens[static_cast<std::size_t>(i)].size());
    CHECK(cnn.padded_length == static_cast<int64_t>(longest));  // the longest training text (under max_tokens)
    CHECK(cnn.epochs.back().train_loss < 0.5 * cnn.epochs.front().train_loss);
    CHECK(cnn.test_accuracy >= 0.94);
    CHECK(cnn.parameters == (d.vocab.size() + 1) * 8 + 4 * (3 + 4 + 5) * 8 + 12 + 12 * 3 + 3);

    // CNN-static on "pre-trained" vectors that already separate the keywords: only the
    // convolutions and the classifier train, and the table is not a parameter.
    co.model.freeze_embeddings = true;
    co.pretrained = [](const std::string& w, std::span<float> row) {
        std::fill(row.begin(), row.end(), 0.0f);
        const std::vector<std::string> k{"apple", "river", "engine"};
        for (std::size_t c = 0; c < k.size(); ++c)
            if (w == k[c]) row[c] = 1.0f;
        return true;
    };
    const auto frozen = train::train_text_cnn(d, co);
    CHECK(frozen.parameters == cnn.parameters - (d.vocab.size() + 1) * 8);
    CHECK(frozen.test_accuracy >= 0.94);
}
