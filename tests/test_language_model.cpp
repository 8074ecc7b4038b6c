// Character-level language models as files and as functions other frameworks check: the
// outputs for a token batch equal embedding → reference recurrent kernels → decoder loops;
// a checkpoint alone rebuilds the model; a run started from a checkpoint's weights (init) is a
// new run (fresh optimizer state, epoch 0) from exactly those weights, and refuses a
// checkpoint of another vocabulary or architecture; `graphgrad logits char_*` round-trips.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>

#include "graphgrad/io/checkpoint.h"
#include "graphgrad/optim/optim.h"
#include "graphgrad/train/language_model_io.h"
#include "recurrent_test_util.h"
#include "test_support.h"

using namespace gg;
using namespace gg::testing;
using train::CharModelOptions;

namespace {

// Deterministic text with capitals, punctuation, newlines and non-ASCII characters.
std::string make_text(int64_t sentences, uint64_t seed) {
    static const char* words[] = {"and", "God", "said", "let", "there", "be", "light", "the", "earth",
                                  "was", "without", "form", "void", "darkness", "upon", "face", "café", "naïve"};
    std::string s;
    for (int64_t i = 0; i < sentences; ++i) {
        const auto n = 3 + random_bits(seed, 1, static_cast<uint64_t>(i)) % 6;
        for (uint64_t w = 0; w < n; ++w) {
            s += words[random_bits(seed, 2, static_cast<uint64_t>(i * 16) + w) % std::size(words)];
            s += w + 1 < n ? " " : (i % 3 ? ". " : ".\n");
        }
    }
    return s;
}

std::string write_text(const TempDir& dir, const std::string& name, const std::string& text) {
    const std::string path = dir.file(name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

Tensor random_tokens(int64_t steps, int64_t streams, int64_t vocab, uint64_t seed) {
    Tensor t(TensorDesc{{steps, streams}, DType::I64});
    for (int64_t i = 0; i < t.numel(); ++i)
        t.data<int64_t>()[i] = static_cast<int64_t>(random_bits(seed, 5, static_cast<uint64_t>(i)) % static_cast<uint64_t>(vocab));
    return t;
}

std::vector<double> as_doubles(const Tensor& t) {
    std::vector<double> v(static_cast<std::size_t>(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<std::size_t>(i)] = t.get(i);
    return v;
}

std::vector<double> slice(const std::vector<double>& v, int64_t index, int64_t size) {
    return {v.begin() + index * size, v.begin() + (index + 1) * size};
}

void check_same_store(const ParameterStore& a, const ParameterStore& b) {
    REQUIRE(a.entries().size() == b.entries().size());
    for (const auto& [name, entry] : a.entries()) {
        INFO(name);
        REQUIRE(b.contains(name));
        const Tensor& x = entry.value;
        const Tensor& y = b.get(name);
        REQUIRE(x.desc() == y.desc());
        CHECK(std::memcmp(x.raw(), y.raw(), x.bytes()) == 0);
    }
}

struct LmRun {
    std::unique_ptr<train::LanguageModelProgram> p;
    std::unique_ptr<optim::Adam> opt;
};

LmRun make_lm(const CharModelOptions& o, int64_t vocab, uint64_t seed) {
    LmRun r;
    r.p = train::build_char_model(o, vocab, /*window=*/8, /*batch=*/4, seed, /*with_grads=*/true);
    r.opt = std::make_unique<optim::Adam>(*r.p->graph, r.p->params, optim::AdamOptions{.lr = 1e-2});
    return r;
}

train::LanguageModelTrainOptions lm_options(const std::string& model, const CharModelOptions& o,
                                            const std::string& checkpoint = {}, const std::string& init = {}) {
    train::LanguageModelTrainOptions to{
        .trainer = {.epochs = 1, .clip = 1.0, .checkpoint = checkpoint, .init = init, .progress = false},
        .limit_train = 6,
        .limit_valid = 2};
    train::record_char_model(to.trainer.metadata, model, o);
    return to;
}

}  // namespace

TEST_CASE("a language model's logits and final states are embedding, the reference recurrent kernels and the "
          "decoder",
          "[lm]") {
    const int64_t V = 7, T = 5, B = 2;
    for (auto [cell, model] : {std::pair{RnnCell::Lstm, "char_lstm"}, {RnnCell::Gru, "char_gru"},
                               {RnnCell::RnnTanh, "char_rnn"}}) {
        INFO(model);
        const CharModelOptions o{.cell = cell, .embedding = 3, .hidden = 4, .layers = 2};
        auto p = train::build_char_model(o, V, T, B, /*seed=*/4, /*with_grads=*/false);
        const Tensor tokens = random_tokens(T, B, V, 1);
        const Tensor h0 = uniform_tensor({2, B, 4}, 2), c0 = uniform_tensor({2, B, 4}, 3);
        const bool lstm = cell == RnnCell::Lstm;
        const train::SequenceOutputs out =
            train::sequence_outputs(*p, tokens, h0, lstm ? std::optional<Tensor>(c0) : std::nullopt);
        REQUIRE(out.logits.shape() == Shape{T, B, V});
        REQUIRE(out.c_n.has_value() == lstm);

        const ParameterStore& s = p->graph->store();
        const std::vector<double> table = as_doubles(s.get("embedding.weight"));
        std::vector<double> x;
        for (int64_t i = 0; i < T * B; ++i) {
            const auto row = slice(table, tokens.data<int64_t>()[i], o.embedding);
            x.insert(x.end(), row.begin(), row.end());
        }
        std::vector<double> hn, cn;
        for (int64_t l = 0; l < o.layers; ++l) {
            RnnCase<double> c;
            c.geo = {.cell = cell, .seq = T, .batch = B, .input = l ? o.hidden : o.embedding, .hidden = o.hidden};
            c.x = x;
            c.h0 = slice(as_doubles(h0), l, B * o.hidden);
            if (lstm) c.c0 = slice(as_doubles(c0), l, B * o.hidden);
            c.w_ih[0] = as_doubles(s.get(param_name("weight_ih", l, 0)));
            c.w_hh[0] = as_doubles(s.get(param_name("weight_hh", l, 0)));
            c.b_ih[0] = as_doubles(s.get(param_name("bias_ih", l, 0)));
            c.b_hh[0] = as_doubles(s.get(param_name("bias_hh", l, 0)));
            const RnnResult<double> r = run_reference(c, {}, /*backward=*/false);
            x = r.y;
            hn.insert(hn.end(), r.hn.begin(), r.hn.end());
            cn.insert(cn.end(), r.cn.begin(), r.cn.end());
        }
        const std::vector<double> w = as_doubles(s.get("decoder.weight")), bias = as_doubles(s.get("decoder.bias"));
        std::vector<double> logits;
        for (int64_t i = 0; i < T * B; ++i)
            for (int64_t v = 0; v < V; ++v) {
                double z = bias[static_cast<std::size_t>(v)];
                for (int64_t h = 0; h < o.hidden; ++h)
                    z += x[static_cast<std::size_t>(i * o.hidden + h)] * w[static_cast<std::size_t>(v * o.hidden + h)];
                logits.push_back(z);
            }
        CHECK(max_rel_diff(as_doubles(out.logits), logits) < 1e-5);
        CHECK(max_rel_diff(as_doubles(out.h_n), hn) < 1e-5);
        if (lstm) CHECK(max_rel_diff(as_doubles(*out.c_n), cn) < 1e-5);
    }
}

TEST_CASE("sequence outputs reject tokens and states that do not fit the model", "[lm]") {
    const CharModelOptions lstm{.cell = RnnCell::Lstm, .embedding = 3, .hidden = 4, .layers = 2};
    auto p = train::build_char_model(lstm, 5, 3, 2, 1, false);
    CHECK_THROWS_WITH(train::sequence_outputs(*p, random_tokens(4, 2, 5, 1)),
                      Catch::Contains("tokens are i64[4,2], the model was built for i64[3,2]"));
    Tensor bad = random_tokens(3, 2, 5, 1);
    bad.data<int64_t>()[3] = 5;
    CHECK_THROWS_WITH(train::sequence_outputs(*p, bad), Catch::Contains("tokens[1, 1] = 5 is outside the vocabulary [0, 5)"));
    CHECK_THROWS_WITH(train::sequence_outputs(*p, random_tokens(3, 2, 5, 1), Tensor::zeros({1, 2, 4})),
                      Catch::Contains("h0 is f32[1,2,4], the model's state is f32[2,2,4]"));
    auto gru = train::build_char_model({.cell = RnnCell::Gru, .embedding = 3, .hidden = 4, .layers = 2}, 5, 3, 2, 1, false);
    CHECK_THROWS_WITH(train::sequence_outputs(*gru, random_tokens(3, 2, 5, 1), std::nullopt, Tensor::zeros({2, 2, 4})),
                      Catch::Contains("c0 given, but a gru cell has no cell state"));
}

TEST_CASE("init starts a new run from a checkpoint's weights: fresh optimizer state, epoch 0; a checkpoint alone "
          "rebuilds the model",
          "[lm][train]") {
    TempDir dir;
    const io::TextCorpus corpus = io::load_text_corpus(write_text(dir, "text.txt", make_text(400, 1)));
    const int64_t V = corpus.vocab.size();
    const CharModelOptions o{.cell = RnnCell::Lstm, .embedding = 6, .hidden = 8, .layers = 2};
    LmRun a = make_lm(o, V, 1);
    train::train_language_model(*a.p, corpus, *a.opt, nullptr, lm_options("char_lstm", o, dir.file("a.st")));

    // b starts from a's checkpoint; c from a's weights copied by hand into a fresh run.
    LmRun b = make_lm(o, V, 2);
    const train::TrainReport rb = train::train_language_model(*b.p, corpus, *b.opt, nullptr,
                                                              lm_options("char_lstm", o, dir.file("b.st"), dir.file("a.st")));
    LmRun c = make_lm(o, V, 3);
    for (const Value& v : a.p->params) c.p->graph->store().get(v.name()).copy_from(a.p->graph->store().get(v.name()));
    train::train_language_model(*c.p, corpus, *c.opt, nullptr, lm_options("char_lstm", o));
    CHECK(rb.start_epoch == 0);
    CHECK(rb.records.size() == 1);
    CHECK(b.opt->steps() == 6);
    // Bitwise, optimizer moments included: had b taken a's moments or step count, its updates
    // (and so its weights) would differ from c's.
    check_same_store(b.p->graph->store(), c.p->graph->store());
    CHECK(io::SafetensorsFile::open(dir.file("b.st")).metadata().at("init") == dir.file("a.st"));

    // The checkpoint alone: model, vocabulary and weights; the optimizer state is skipped.
    const train::LoadedLanguageModel lm = train::load_char_model(dir.file("a.st"), 8, 4);
    CHECK(lm.model == "char_lstm");
    REQUIRE(lm.vocab);
    CHECK(*lm.vocab == corpus.vocab);
    CHECK(lm.program->options.hidden == 8);
    for (const auto& [name, entry] : lm.program->graph->store().entries()) CHECK(name.rfind("optim.", 0) != 0);
    const Tensor tokens = random_tokens(8, 4, V, 3);
    const auto mine = train::sequence_outputs(*a.p, tokens), loaded = train::sequence_outputs(*lm.program, tokens);
    CHECK(relative_difference(loaded.logits, mine.logits) < 1e-6);
    CHECK(relative_difference(*loaded.c_n, *mine.c_n) < 1e-6);
}

TEST_CASE("init refuses a checkpoint of another vocabulary or architecture, and excludes resume", "[lm][train]") {
    TempDir dir;
    const io::TextCorpus corpus = io::load_text_corpus(write_text(dir, "text.txt", make_text(300, 1)));
    const int64_t V = corpus.vocab.size();
    const CharModelOptions o{.cell = RnnCell::Lstm, .embedding = 6, .hidden = 8, .layers = 1};
    LmRun a = make_lm(o, V, 1);
    train::train_language_model(*a.p, corpus, *a.opt, nullptr, lm_options("char_lstm", o, dir.file("a.st")));
    const std::string init = dir.file("a.st");

    CharModelOptions wider = o;
    wider.hidden = 16;
    LmRun w = make_lm(wider, V, 1);
    CHECK_THROWS_WITH(train::train_language_model(*w.p, corpus, *w.opt, nullptr, lm_options("char_lstm", wider, {}, init)),
                      Catch::Contains("the checkpoint's model has hidden 8, this run's has 16"));
    CharModelOptions gru = o;
    gru.cell = RnnCell::Gru;
    LmRun g = make_lm(gru, V, 1);
    CHECK_THROWS_WITH(train::train_language_model(*g.p, corpus, *g.opt, nullptr, lm_options("char_gru", gru, {}, init)),
                      Catch::Contains("has cell lstm, this run's has gru"));
    // Dropout changes training, not what the weights mean: accepted.
    CharModelOptions dropout = o;
    dropout.dropout = 0.25;
    LmRun d = make_lm(dropout, V, 1);
    CHECK_NOTHROW(train::train_language_model(*d.p, corpus, *d.opt, nullptr, lm_options("char_lstm", dropout, {}, init)));

    // Another text: other characters, so ids would mean other things.
    const io::TextCorpus other = io::load_text_corpus(write_text(dir, "other.txt", make_text(300, 1) + "XYZ!"));
    LmRun x = make_lm(o, other.vocab.size(), 1);
    CHECK_THROWS_WITH(train::train_language_model(*x.p, other, *x.opt, nullptr, lm_options("char_lstm", o, {}, init)),
                      Catch::Contains("vocabulary does not match the corpus's"));

    // A checkpoint without a recorded language model (a classifier's, or a bare state_dict).
    Graph plain;
    plain.parameter("fc.weight", {2, 2});
    io::save_checkpoint(plain.store(), dir.file("plain.st"));
    LmRun y = make_lm(o, V, 1);
    CHECK_THROWS_WITH(
        train::train_language_model(*y.p, corpus, *y.opt, nullptr, lm_options("char_lstm", o, {}, dir.file("plain.st"))),
        Catch::Contains("not a language-model checkpoint"));

    train::LanguageModelTrainOptions both = lm_options("char_lstm", o, {}, init);
    both.trainer.resume = init;
    LmRun z = make_lm(o, V, 1);
    CHECK_THROWS_WITH(train::train_language_model(*z.p, corpus, *z.opt, nullptr, both), Catch::Contains("exclude each other"));
}

TEST_CASE("graphgrad logits char_*: fresh weights saved, reloaded and given initial states give the library's outputs",
          "[lm][cli]") {
    TempDir dir;
    const Tensor tokens = random_tokens(6, 3, 9, 2);
    const Tensor h0 = uniform_tensor({2, 3, 5}, 4), c0 = uniform_tensor({2, 3, 5}, 5);
    io::save_safetensors(dir.file("batch.st"), {{"tokens", tokens}, {"h0", h0}, {"c0", c0}});
    auto run = [&](const std::string& args) {
        const std::string cmd = fmt::format("OMP_NUM_THREADS=1 '{}' logits char_lstm --batch-file '{}' {} > /dev/null",
                                            GG_CLI_PATH, dir.file("batch.st"), args);
        REQUIRE(std::system(cmd.c_str()) == 0);
    };
    run(fmt::format("--vocab-size 9 --embedding 4 --hidden 5 --seed 7 --save-weights '{}' --output '{}'",
                    dir.file("w.st"), dir.file("fresh.st")));
    run(fmt::format("--checkpoint '{}' --output '{}'", dir.file("w.st"), dir.file("loaded.st")));
    const io::TensorMap fresh = io::SafetensorsFile::open(dir.file("fresh.st")).tensors();
    const io::TensorMap loaded = io::SafetensorsFile::open(dir.file("loaded.st")).tensors();

    const train::LoadedLanguageModel lm = train::load_char_model(dir.file("w.st"), 6, 3);
    CHECK_FALSE(lm.vocab);  // fresh weights know no characters
    CHECK(lm.program->options.embedding == 4);
    const train::SequenceOutputs want = train::sequence_outputs(*lm.program, tokens, h0, c0);
    for (const io::TensorMap* m : {&fresh, &loaded}) {
        REQUIRE(m->size() == 3);
        CHECK(m->at("logits").shape() == Shape{6, 3, 9});
        CHECK(relative_difference(m->at("logits"), want.logits) < 1e-6);
        CHECK(relative_difference(m->at("h_n"), want.h_n) < 1e-6);
        CHECK(relative_difference(m->at("c_n"), *want.c_n) < 1e-6);
    }
    // The initial states are used: from zeros the final states differ.
    const train::SequenceOutputs from_rest = train::sequence_outputs(*lm.program, tokens);
    CHECK(relative_difference(from_rest.h_n, want.h_n) > 1e-3);
}
