// word2vec training (train/word2vec.h): one compiled graph per run. The producer (sampling,
// windows, negatives) is serial and writes straight into the feed tensors; the graph's kernels
// run on OpenMP threads; the SGD step updates only the rows the batch touched.
#include "graphgrad/train/word2vec.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "graphgrad/graph/autodiff.h"
#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/io/data_error.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/optim/optimizer.h"

namespace gg::train {

namespace {

constexpr int64_t kMaxSentence = 1000;  // word2vec.c's MAX_SENTENCE_LENGTH

// splitmix64: fast, good enough for sampling, and the same on every platform.
struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
};

// The compiled step and the feed tensors the producer writes into.
struct Network {
    Graph g;
    Value in_ids, scale, targets, loss;
    std::vector<Gradient> grads;
    std::optional<CompiledGraph> step;
    std::unique_ptr<optim::Sgd> opt;
    Tensor in_feed, scale_feed, target_feed;
    int64_t bag = 0;  // 0: one input id per example; else ids per example (padded with 0)
};

std::unique_ptr<Network> build_network(int64_t input_rows, int64_t vocab, int64_t bag, const Word2VecOptions& o) {
    auto n = std::make_unique<Network>();
    Graph& g = n->g;
    const int64_t b = o.batch, k = 1 + o.negative, d = o.dim;
    Value w_in = g.parameter("input", {input_rows, d});
    Value w_out = g.parameter("output", {vocab, d});
    n->bag = bag;
    Value h;
    if (bag == 0) {
        n->in_ids = g.input("centre", {b}, DType::I64);
        h = embedding(w_in, n->in_ids, std::nullopt, {.sparse_grad = true});  // [B, D]
    } else {
        // Mean of a bag of rows: padded with row 0 (no gradient), scaled by 1 / bag size. Each
        // row of the bag gets the whole gradient of the mean, not 1/size of it, as in word2vec.c
        // (CBOW) and fastText (CBOW, subwords): forward s·scale, backward the identity.
        n->in_ids = g.input("bag", {b, bag}, DType::I64);
        n->scale = g.input("inverse_bag_size", {b, 1});
        Value s = sum(embedding(w_in, n->in_ids, 0, {.sparse_grad = true}), {1});
        h = s + stop_gradient(s * n->scale - s);
    }
    n->targets = g.input("targets", {b, k}, DType::I64);  // the positive, then the negatives
    n->loss = negative_sampling_loss(h, w_out, n->targets);
    n->grads = gradients(n->loss, {w_in, w_out});
    std::vector<Value> fetch{n->loss};
    for (const Gradient& gr : n->grads)
        for (const Value& x : gr.values()) fetch.push_back(x);
    n->step.emplace(compile(g, fetch));
    n->opt = std::make_unique<optim::Sgd>(g, std::vector<Value>{w_in, w_out}, optim::SgdOptions{.lr = o.lr});
    n->in_feed = Tensor(n->in_ids.desc());
    if (bag) n->scale_feed = Tensor(n->scale.desc());
    n->target_feed = Tensor(n->targets.desc());
    return n;
}

void check_options(const Word2VecOptions& o, const Word2VecCorpus& c) {
    auto need = [](bool ok, const char* what, double v) {
        if (!ok) throw_graph("word2vec: invalid {}: {}", what, v);
    };
    need(o.dim > 0, "dim", static_cast<double>(o.dim));
    need(o.window > 0 && o.window <= 256, "window (1 to 256)", static_cast<double>(o.window));
    need(o.negative > 0, "negative", static_cast<double>(o.negative));
    need(o.epochs > 0, "epochs", static_cast<double>(o.epochs));
    need(o.batch > 0, "batch", static_cast<double>(o.batch));
    need(o.lr > 0 && std::isfinite(o.lr), "lr", o.lr);
    need(o.sample >= 0, "sample", o.sample);
    need(o.noise_power >= 0 && o.noise_power <= 1, "noise_power (0 to 1)", o.noise_power);
    need(o.table_size > 0, "table_size", static_cast<double>(o.table_size));
    const bool sub = o.maxn > 0;
    if (sub && (o.minn < 1 || o.minn > o.maxn || o.buckets < 1))
        throw_graph("word2vec: subwords need 1 <= minn <= maxn and buckets >= 1, got minn {} maxn {} buckets {}", o.minn,
                    o.maxn, o.buckets);
    if (sub && o.arch == Word2VecArch::Cbow) throw_graph("word2vec: subwords are implemented for skip-gram only");
    if (c.vocab_size() < 3)
        throw io::DataError(fmt::format("word2vec: {} distinct words is too few for negative sampling", c.vocab_size() - 1));
}

}  // namespace

Value negative_sampling_loss(Value h, Value output, Value targets) {
    if (h.rank() != 2 || targets.rank() != 2 || targets.dim(0) != h.dim(0) || output.rank() != 2 ||
        output.dim(1) != h.dim(1))
        throw_graph("negative_sampling_loss: inputs {} and output table {} need targets [{}, K], got {}", h.desc(),
                    output.desc(), h.rank() ? h.dim(0) : 0, targets.desc());
    const int64_t b = h.dim(0), d = h.dim(1), k = targets.dim(1);
    Value v = embedding(output, targets, std::nullopt, {.sparse_grad = true});  // [B, K, D]
    Value s = reshape(matmul(v, reshape(h, {b, d, 1})), {b, k});                // h·v per target
    Tensor sign = Tensor::full({k}, -1.0, h.dtype());
    sign.set(0, 1.0);
    return -sum(log_sigmoid(s * h.graph->constant(sign)));  // −log σ(h·v₊) − Σ log σ(−h·v₋)
}

Word2VecModel::Word2VecModel(Word2VecCorpus corpus, const Word2VecOptions& o, Tensor input, Tensor output)
    : corpus_(std::move(corpus)), o_(o), input_(std::move(input)), output_(std::move(output)) {
    for (std::size_t i = 1; i < corpus_.words.size(); ++i) index_.emplace(corpus_.words[i], static_cast<int64_t>(i));
}

// The mean of the input rows of word `id` (0: not in the vocabulary) and of its n-grams.
std::vector<float> Word2VecModel::bag_mean(int64_t id, std::string_view word) const {
    const int64_t d = input_.shape()[1], v = corpus_.vocab_size();
    std::vector<int64_t> rows;
    if (id > 0) rows.push_back(id);
    for (int64_t b : subword_buckets(word, o_.minn, o_.maxn, o_.buckets)) rows.push_back(v + b);
    std::vector<float> out;
    if (rows.empty()) return out;
    out.assign(static_cast<std::size_t>(d), 0.0f);
    const float* m = input_.data<float>();
    for (int64_t r : rows)
        for (int64_t e = 0; e < d; ++e) out[static_cast<std::size_t>(e)] += m[r * d + e];
    for (float& x : out) x /= static_cast<float>(rows.size());
    return out;
}

std::vector<float> Word2VecModel::word_vector(std::string_view word) const {
    const auto it = index_.find(std::string(word));
    return bag_mean(it == index_.end() ? 0 : it->second, word);
}

io::WordVectors Word2VecModel::word_vectors() const {
    const int64_t d = input_.shape()[1], v = corpus_.vocab_size();
    Tensor m(TensorDesc{{v - 1, d}, DType::F32});
    for (int64_t i = 1; i < v; ++i) {
        const std::vector<float> row = bag_mean(i, corpus_.words[static_cast<std::size_t>(i)]);
        std::copy(row.begin(), row.end(), m.data<float>() + (i - 1) * d);
    }
    return io::make_word_vectors(std::vector<std::string>(corpus_.words.begin() + 1, corpus_.words.end()), std::move(m),
                                 "word2vec");
}

Word2VecModel train_word2vec(Word2VecCorpus corpus, const Word2VecOptions& o, Word2VecReport* report) {
    check_options(o, corpus);
    if (o.threads > 0) omp_set_num_threads(o.threads);
    const int64_t v = corpus.vocab_size(), w = o.window, k = 1 + o.negative, d = o.dim;
    const bool cbow = o.arch == Word2VecArch::Cbow, sub = o.maxn > 0;
    // Subwords: each word's bag is its own row and its n-grams' rows v + bucket.
    std::vector<std::vector<int64_t>> bags;
    int64_t bag = cbow ? 2 * w : 0;
    if (sub) {
        bags.resize(static_cast<std::size_t>(v));
        for (int64_t i = 1; i < v; ++i) {
            auto& b = bags[static_cast<std::size_t>(i)];
            b.push_back(i);
            for (int64_t x : subword_buckets(corpus.words[static_cast<std::size_t>(i)], o.minn, o.maxn, o.buckets))
                b.push_back(v + x);
            bag = std::max<int64_t>(bag, static_cast<int64_t>(b.size()));
        }
    }
    const int64_t input_rows = v + (sub ? o.buckets : 0);
    auto net = build_network(input_rows, v, bag, o);
    Rng rng{o.seed};
    {  // fastText's initialisation: input rows uniform in ±1/D (row 0, the padding, zero), output zero
        Tensor& in = net->g.store().get("input");
        float* p = in.data<float>();
        for (int64_t i = d; i < in.numel(); ++i) p[i] = static_cast<float>((2 * rng.uniform() - 1) / static_cast<double>(d));
    }
    const std::vector<int32_t> table = unigram_table(corpus.counts, o.noise_power, o.table_size);
    const int64_t total = static_cast<int64_t>(corpus.tokens.size());
    std::vector<double> keep(static_cast<std::size_t>(v));
    for (int64_t i = 0; i < v; ++i) keep[static_cast<std::size_t>(i)] = keep_probability(corpus.counts[static_cast<std::size_t>(i)], total, o.sample);

    int64_t* in_ids = net->in_feed.data<int64_t>();
    float* scale = net->bag ? net->scale_feed.data<float>() : nullptr;
    int64_t* targets = net->target_feed.data<int64_t>();
    Feeds feeds{{net->in_ids, net->in_feed}, {net->targets, net->target_feed}};
    if (net->bag) feeds.emplace_back(net->scale, net->scale_feed);

    const double run_words = static_cast<double>(o.epochs) * static_cast<double>(total);
    int64_t words = 0, examples = 0, filled = 0, epoch = 0;
    double lr = o.lr, loss_sum = 0, last_loss = 0;
    int64_t loss_examples = 0;
    const auto t0 = std::chrono::steady_clock::now();
    auto last_report = t0;
    auto seconds_since = [](auto t) { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count(); };

    auto run_step = [&] {
        lr = o.lr * std::max(1e-4, 1.0 - static_cast<double>(words) / run_words);  // linear decay
        auto out = net->step->run(feeds);
        net->opt->set_lr(lr);
        const double loss = out[0].get(0);
        // A batch sums the gradients of a word's repeats: with a vocabulary small next to the
        // batch, one step can be far too large. Stop before the tables fill with NaN.
        if (!std::isfinite(loss))
            throw_runtime("word2vec: the loss became {} after {} examples (vocabulary {}, batch {}, lr {}): a "
                          "step sums the gradients of every repeat of a word in the batch; use a smaller batch or lr",
                          loss, examples, v - 1, o.batch, lr);
        net->opt->step_gradients(optim::gradient_tensors(net->grads, out, 1));
        loss_sum += loss;
        loss_examples += filled;
        examples += filled;
        filled = 0;
        if (o.progress && seconds_since(last_report) >= 1.0) {
            last_report = std::chrono::steady_clock::now();
            last_loss = loss_sum / static_cast<double>(std::max<int64_t>(loss_examples, 1));
            o.progress({epoch, static_cast<double>(words) / run_words, words, static_cast<double>(words) / seconds_since(t0),
                        lr, last_loss});
            loss_sum = 0;
            loss_examples = 0;
        }
    };
    // The positive target, then negatives drawn from the table, redrawn when they hit it.
    auto put_targets = [&](int64_t positive) {
        int64_t* t = targets + filled * k;
        t[0] = positive;
        for (int64_t j = 1; j < k; ++j) {
            int64_t neg;
            do neg = table[static_cast<std::size_t>(rng.below(static_cast<int64_t>(table.size())))];
            while (neg == positive);
            t[j] = neg;
        }
    };
    auto put_bag = [&](const int64_t* ids, int64_t n) {
        int64_t* row = in_ids + filled * net->bag;
        std::copy(ids, ids + n, row);
        std::fill(row + n, row + net->bag, 0);
        scale[filled] = 1.0f / static_cast<float>(n);
    };

    std::vector<int32_t> sentence;
    sentence.reserve(kMaxSentence);
    int64_t context[512];
    for (epoch = 1; epoch <= o.epochs; ++epoch) {
        for (int64_t pos = 0; pos < total;) {
            const int64_t end = std::min(total, pos + kMaxSentence);
            sentence.clear();
            for (int64_t t = pos; t < end; ++t) {
                const int32_t id = corpus.tokens[static_cast<std::size_t>(t)];
                if (keep[static_cast<std::size_t>(id)] < 1.0 && rng.uniform() > keep[static_cast<std::size_t>(id)]) continue;
                sentence.push_back(id);
            }
            words += end - pos;
            pos = end;
            const auto len = static_cast<int64_t>(sentence.size());
            for (int64_t i = 0; i < len; ++i) {
                const int64_t r = 1 + rng.below(w);  // the reduced window
                const int64_t lo = std::max<int64_t>(0, i - r), hi = std::min(len - 1, i + r);
                const int64_t centre = sentence[static_cast<std::size_t>(i)];
                if (cbow) {
                    int64_t n = 0;
                    for (int64_t j = lo; j <= hi; ++j)
                        if (j != i) context[n++] = sentence[static_cast<std::size_t>(j)];
                    if (n == 0) continue;
                    put_bag(context, n);
                    put_targets(centre);
                    if (++filled == o.batch) run_step();
                    continue;
                }
                for (int64_t j = lo; j <= hi; ++j) {
                    if (j == i) continue;
                    if (sub) {
                        const auto& b = bags[static_cast<std::size_t>(centre)];
                        put_bag(b.data(), static_cast<int64_t>(b.size()));
                    } else {
                        in_ids[filled] = centre;
                    }
                    put_targets(sentence[static_cast<std::size_t>(j)]);
                    if (++filled == o.batch) run_step();
                }
            }
        }
    }
    // The last partial batch (fewer than `batch` examples of the whole run) is not trained:
    // the compiled step has one batch size.
    const double secs = seconds_since(t0);
    if (report) {
        report->words = words;
        report->examples = examples;
        report->seconds = secs;
        report->words_per_second = static_cast<double>(words) / std::max(secs, 1e-9);
        report->final_loss = loss_examples ? loss_sum / static_cast<double>(loss_examples) : last_loss;
    }
    Tensor in = net->g.store().get("input").clone(), out = net->g.store().get("output").clone();
    return Word2VecModel(std::move(corpus), o, std::move(in), std::move(out));
}

}  // namespace gg::train
