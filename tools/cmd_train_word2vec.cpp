// `graphgrad train word2vec|fasttext` (word vectors, graphgrad/train/word2vec.h) and
// `graphgrad neighbors` (cosine nearest neighbours and analogies over saved vectors).
//
//   graphgrad train word2vec --dim 100 --window 5 --negative 5 --min-count 5 --epochs 5 --out kjv
//   graphgrad train fasttext --subwords 3-6 --buckets 200000 --out kjv_sub     # n-gram subwords
//   graphgrad neighbors --embeddings kjv.vec --word king
//   graphgrad neighbors --embeddings kjv.vec --analogy man:king::woman
//   graphgrad neighbors --embeddings kjv_sub.safetensors --word kingdomless    # unseen: its n-grams
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/io/text_corpus.h"
#include "graphgrad/io/word_vectors.h"
#include "graphgrad/train/word2vec.h"
#include "train_options.h"

namespace gg::cli {

bool is_word_vector_model(const std::string& model) { return model == "word2vec" || model == "fasttext"; }

void add_word_vector_options(CLI::App* sub, WordVectorCliOptions& o) {
    sub->add_option("--window", o.window, "Word vectors: largest context window (a reduced one is drawn per word)")
        ->capture_default_str();
    sub->add_option("--negative", o.negative, "Word vectors: negative samples per target")->capture_default_str();
    sub->add_option("--min-count", o.min_count, "Word vectors: words seen fewer times are dropped")->capture_default_str();
    sub->add_option("--threads", o.threads, "Word vectors: kernel threads (0: OpenMP's default)")->capture_default_str();
    sub->add_option("--arch", o.arch, "Word vectors: skipgram or cbow")->capture_default_str();
    sub->add_option("--out", o.out, "Word vectors: write PREFIX.vec (word2vec text format) and PREFIX.safetensors");
    sub->add_option("--subwords", o.subwords,
                    "Word vectors: character n-gram lengths MIN-MAX (fasttext: 3-6 unless given; word2vec: none)");
    sub->add_option("--sample", o.sample, "Word vectors: subsampling threshold (0: off)")->capture_default_str();
    sub->add_option("--noise-power", o.noise_power, "Word vectors: negatives drawn by count^POWER (fastText uses 0.5)")
        ->capture_default_str();
}

namespace {

std::pair<int64_t, int64_t> parse_range(const std::string& s) {
    int64_t a = 0, b = 0;
    char dash = 0, extra = 0;
    if (std::sscanf(s.c_str(), "%ld%c%ld%c", &a, &dash, &b, &extra) != 3 || dash != '-' || a < 1 || b < a)
        throw UsageError(fmt::format("--subwords \"{}\": expected MIN-MAX with 1 <= MIN <= MAX, e.g. 3-6", s));
    return {a, b};
}

}  // namespace

int run_train_word_vectors(const TrainOptions& t) {
    const WordVectorCliOptions& c = t.words;
    Word2VecOptions o;
    if (c.arch == "cbow") o.arch = Word2VecArch::Cbow;
    else if (c.arch != "skipgram") throw UsageError(fmt::format("--arch \"{}\": expected skipgram or cbow", c.arch));
    o.dim = t.dim ? t.dim : 100;  // --dim and --buckets are shared with other models (cmd_train.cpp)
    o.window = c.window;
    o.negative = c.negative;
    o.min_count = c.min_count;
    o.epochs = t.given_epochs ? t.epochs : 5;
    o.lr = t.given_lr && t.lr ? *t.lr : (o.arch == Word2VecArch::Cbow ? 0.05 : 0.025);
    if (t.given_batch) o.batch = t.batch;
    o.sample = c.sample;
    o.noise_power = c.noise_power;
    o.buckets = t.buckets ? t.buckets : 2000000;
    o.threads = c.threads;
    o.seed = t.seed;
    const std::string sub = !c.subwords.empty() ? c.subwords : (t.model == "fasttext" ? "3-6" : "");
    if (!sub.empty()) std::tie(o.minn, o.maxn) = parse_range(sub);
    const std::string path = t.text.empty() ? io::ensure_kjv_text() : t.text;
    Word2VecCorpus corpus = build_word2vec_corpus(io::read_text_file(path), o);
    if (!t.json)
        fmt::print("{}: {} words, vocabulary {} (min count {}), {} {}d, window {}, {} negatives, {} epochs, batch {}{}\n",
                   path, corpus.tokens.size(), corpus.vocab_size() - 1, o.min_count, c.arch, o.dim, o.window, o.negative,
                   o.epochs, o.batch, o.maxn ? fmt::format(", subwords {}-{} in {} buckets", o.minn, o.maxn, o.buckets) : "");
    if (!t.json)
        o.progress = [](const Word2VecProgress& p) {
            fmt::print(stderr, "\repoch {} {:5.1f}%  {:8.0f} words/s  lr {:.5f}  loss {:.4f}   ", p.epoch, 100 * p.fraction,
                       p.words_per_second, p.lr, p.loss);
            std::fflush(stderr);
        };
    Word2VecReport r;
    Word2VecModel m = train_word2vec(std::move(corpus), o, &r);
    if (!t.json) fmt::print(stderr, "\n");
    const int threads = c.threads > 0 ? c.threads : 1;
    if (!c.out.empty()) {
        io::write_word_vectors(c.out + ".vec", m.word_vectors());
        save_word2vec(c.out + ".safetensors", m);
    }
    if (t.json) {
        print_json({{"words", r.words}, {"examples", r.examples}, {"seconds", r.seconds},
                    {"words_per_second", r.words_per_second}, {"threads", c.threads},
                    {"words_per_second_per_thread", r.words_per_second / threads}, {"final_loss", r.final_loss}});
        return 0;
    }
    fmt::print("trained {} words ({} examples) in {:.1f} s: {:.0f} words/s{}, final loss {:.4f}{}\n", r.words, r.examples,
               r.seconds, r.words_per_second,
               c.threads > 0 ? fmt::format(" ({:.0f} per thread)", r.words_per_second / threads) : "", r.final_loss,
               c.out.empty() ? "" : fmt::format("; wrote {0}.vec and {0}.safetensors", c.out));
    return 0;
}

Command add_neighbors_command(CLI::App& app) {
    struct Options {
        std::string embeddings, word, analogy;
        int64_t k = 10;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    CLI::App* sub = app.add_subcommand("neighbors", "Cosine nearest neighbours and analogies over word vectors");
    sub->add_option("--embeddings", o->embeddings,
                    "Word vectors: a .vec file (word2vec text format, e.g. from fastText) or a graphgrad word2vec "
                    ".safetensors (then words never seen get a vector from their n-grams)")
        ->required();
    sub->add_option("--word", o->word, "The words nearest to this one");
    sub->add_option("--analogy", o->analogy, "a:b::c — the words nearest to b − a + c");
    sub->add_option("--k", o->k, "How many neighbours")->capture_default_str();
    sub->add_flag("--json", o->json, "Print JSON");
    return {sub, [o] {
                if (o->word.empty() == o->analogy.empty()) throw UsageError("give exactly one of --word and --analogy");
                if (o->k < 1) throw UsageError("--k must be at least 1");
                const bool model = o->embeddings.size() > 12 &&
                                   o->embeddings.compare(o->embeddings.size() - 12, 12, ".safetensors") == 0;
                std::optional<Word2VecModel> m;
                if (model) m.emplace(load_word2vec(o->embeddings));
                const io::WordVectors wv = m ? m->word_vectors() : io::read_word_vectors(o->embeddings);
                std::vector<Neighbor> found;
                if (!o->word.empty()) {
                    std::vector<float> q;
                    std::vector<int64_t> exclude;
                    if (auto id = wv.find(o->word)) {
                        exclude.push_back(*id);
                        const float* row = wv.vectors.data<float>() + *id * wv.dim();
                        q.assign(row, row + wv.dim());
                    } else if (m) {
                        q = m->word_vector(o->word);
                    }
                    if (q.empty())
                        throw io::DataError(fmt::format("{}: \"{}\" is not among its {} words{}", o->embeddings, o->word,
                                                        wv.size(), m ? " and has no n-gram rows" : ""));
                    found = nearest_neighbors(wv, q, o->k, exclude);
                } else {
                    const auto a = o->analogy.find(':'), b = o->analogy.find("::");
                    if (a == std::string::npos || b == std::string::npos || a >= b)
                        throw UsageError(fmt::format("--analogy \"{}\": expected a:b::c, e.g. man:king::woman", o->analogy));
                    found = analogy(wv, o->analogy.substr(0, a), o->analogy.substr(a + 1, b - a - 1),
                                    o->analogy.substr(b + 2), o->k);
                }
                if (o->json) {
                    nlohmann::json j = nlohmann::json::array();
                    for (const Neighbor& n : found) j.push_back({{"word", n.word}, {"cosine", n.cosine}});
                    print_json(j);
                    return 0;
                }
                for (const Neighbor& n : found) fmt::print("{:<20} {:.4f}\n", n.word, n.cosine);
                return 0;
            }};
}

}  // namespace gg::cli
