// The FastText classifier trained the way fastText 0.9.2 trains it (src/fasttext.cc,
// supervised): plain SGD, one example per step by default, learning rate lr·(1 − t/T) with t
// the tokens processed so far and T = epochs × training tokens.
//
// The graph computes the loss and two gradients: of the output matrix (dense, small) and of
// the embedded rows [B, L, D] the batch read, not of the whole [words + buckets, D] table: an
// example touches a few dozen of its 200k+ rows, and a dense table gradient plus a dense update
// would cost ~100 MB of memory traffic per example. The update then subtracts each row's
// gradient from the table row it came from (a row-sparse SGD step, as fastText's
// addVectorToRow). Padded texts of different lengths run on programs compiled for padded
// lengths 8, 16, 32, ...; they all share the one table.
#include <algorithm>
#include <chrono>
#include <map>

#include "graphgrad/io/fasttext_hash.h"
#include "graphgrad/graph/errors.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/train/classification.h"
#include "graphgrad/train/progress_bar.h"
#include "graphgrad/train/text_classification.h"
#include "graphgrad/train/text_classification_internal.h"

namespace gg::train {

namespace {

constexpr const char* kEndOfLine = "</s>";  // fastText's EOS word

// One padded length: its inputs and the programs reading them.
struct LengthProgram {
    Value ids, weights, labels;
    Value logits;
    CompiledGraph step;  // loss, d loss/d embedded, d loss/d output
    CompiledGraph eval;  // logits
    Tensor ids_t, weights_t, labels_t;
};

int64_t padded_length(int64_t n) {
    int64_t L = 8;
    while (L < n) L *= 2;
    return L;
}

class FastTextRunner {
public:
    FastTextRunner(const models::FastTextOptions& mo, int64_t batch, uint64_t seed)
        : mo_(mo), batch_(batch), g_(seed) {}

    LengthProgram& program(int64_t L) {
        auto it = programs_.find(L);
        if (it != programs_.end()) return it->second;
        Value ids = g_.input(fmt::format("ids_{}", L), {batch_, L}, DType::I64);
        Value weights = g_.input(fmt::format("weights_{}", L), {batch_, L});
        Value labels = g_.input(fmt::format("labels_{}", L), {batch_}, DType::I64);
        const models::FastTextNet net = models::fasttext_classifier(ids, weights, mo_);
        table_ = net.table;
        output_ = net.output;
        Value loss = cross_entropy(net.logits, labels);
        const std::vector<Value> grads = grad(loss, {net.embedded, net.output});
        LengthProgram p{ids, weights, labels, net.logits, compile(g_, {loss, grads[0], grads[1]}),
                        compile(g_, {net.logits}), Tensor(ids.desc()), Tensor(weights.desc()), Tensor(labels.desc())};
        return programs_.emplace(L, std::move(p)).first->second;
    }

    // Fills p's feeds with the texts at rows (at most batch_), weights 1/n on each text's n features.
    void fill(LengthProgram& p, const std::vector<std::vector<int64_t>>& features, const std::vector<int64_t>& labels,
              std::span<const int64_t> rows) {
        fill_padded_ids(features, rows, mo_.padding_id(), p.ids_t);
        fill_labels(labels, rows, p.labels_t);
        const int64_t L = p.ids.dim(1);
        float* w = p.weights_t.data<float>();
        std::fill(w, w + batch_ * L, 0.0f);
        for (std::size_t r = 0; r < rows.size(); ++r) {
            const auto n = static_cast<int64_t>(features[static_cast<std::size_t>(rows[r])].size());
            std::fill(w + static_cast<int64_t>(r) * L, w + static_cast<int64_t>(r) * L + n, 1.0f / static_cast<float>(n));
        }
    }

    // One SGD step on the texts at rows; returns the batch's mean loss.
    double step(const std::vector<std::vector<int64_t>>& features, const std::vector<int64_t>& labels,
                std::span<const int64_t> rows, double lr) {
        int64_t longest = 0;
        for (int64_t r : rows) longest = std::max<int64_t>(longest, static_cast<int64_t>(features[static_cast<std::size_t>(r)].size()));
        LengthProgram& p = program(padded_length(longest));
        fill(p, features, labels, rows);
        const std::vector<Tensor> out = p.step.run({{p.ids, p.ids_t}, {p.weights, p.weights_t}, {p.labels, p.labels_t}});
        // The loss is a mean over the batch's texts; fastText's lr is per text: scale by their number.
        const auto scale = static_cast<float>(lr * static_cast<double>(rows.size()));
        const int64_t D = mo_.dim, L = p.ids.dim(1);
        Tensor& output = g_.store().get(output_.name());
        float* wo = output.data<float>();
        const float* dwo = out[2].data<float>();
        for (int64_t i = 0; i < output.numel(); ++i) wo[i] -= scale * dwo[i];
        float* table = g_.store().get(table_.name()).data<float>();
        const float* de = out[1].data<float>();
        const int64_t* ids = p.ids_t.data<int64_t>();
        for (std::size_t r = 0; r < rows.size(); ++r) {
            const auto n = static_cast<int64_t>(features[static_cast<std::size_t>(rows[r])].size());
            for (int64_t l = 0; l < std::min(n, L); ++l) {
                const int64_t at = static_cast<int64_t>(r) * L + l;
                float* row = table + ids[at] * D;
                const float* d = de + at * D;
                for (int64_t k = 0; k < D; ++k) row[k] -= scale * d[k];
            }
        }
        return out[0].get(0);
    }

    double accuracy(const std::vector<std::vector<int64_t>>& features, const std::vector<int64_t>& labels,
                    std::span<const int64_t> indices, double* loss) {
        BatchScore total;
        // Texts grouped by padded length, so each runs on the smallest program that fits.
        std::map<int64_t, std::vector<int64_t>> by_length;
        for (int64_t i : indices)
            by_length[padded_length(static_cast<int64_t>(features[static_cast<std::size_t>(i)].size()))].push_back(i);
        for (auto& [L, group] : by_length) {
            LengthProgram& p = program(L);
            for (std::size_t b = 0; b < group.size(); b += static_cast<std::size_t>(batch_)) {
                const auto rows = std::span<const int64_t>(group).subspan(
                    b, std::min<std::size_t>(static_cast<std::size_t>(batch_), group.size() - b));
                fill(p, features, labels, rows);
                const BatchScore s = score_batch(p.eval.run({{p.ids, p.ids_t}, {p.weights, p.weights_t}})[0], p.labels_t,
                                                 static_cast<int64_t>(rows.size()));
                total.loss_sum += s.loss_sum;
                total.correct += s.correct;
            }
        }
        const auto n = static_cast<double>(std::max<std::size_t>(1, indices.size()));
        if (loss) *loss = total.loss_sum / n;
        return static_cast<double>(total.correct) / n;
    }

private:
    models::FastTextOptions mo_;
    int64_t batch_;
    Graph g_;
    Value table_, output_;
    std::map<int64_t, LengthProgram> programs_;
};

}  // namespace

std::vector<int64_t> fasttext_features(const std::vector<std::string>& tokens, const io::Vocabulary& vocab,
                                       const models::FastTextOptions& model, int64_t word_ngrams) {
    if (model.words != vocab.size() + 1)
        throw_graph("fasttext_features: the model has {} word rows, the vocabulary needs {} (its words and \"{}\")",
                    model.words, vocab.size() + 1, kEndOfLine);
    std::vector<int64_t> f;
    std::vector<uint32_t> hashes;
    f.reserve(tokens.size() * static_cast<std::size_t>(std::max<int64_t>(1, word_ngrams)) + 1);
    for (const std::string& t : tokens) {
        if (auto id = vocab.find(t); id && *id != 0) f.push_back(*id);
        hashes.push_back(io::fasttext_hash(t));
    }
    f.push_back(vocab.size());
    hashes.push_back(io::fasttext_hash(kEndOfLine));
    for (std::size_t i = 0; i < hashes.size(); ++i)
        for (std::size_t n = 2; n <= static_cast<std::size_t>(word_ngrams) && i + n <= hashes.size(); ++n)
            f.push_back(model.words + models::fasttext_ngram_bucket(std::span(hashes).subspan(i, n), model.buckets));
    return f;
}

TextClassifierReport train_fasttext_classifier(const TextData& data, const FastTextTrainOptions& o) {
    if (o.epochs < 1 || o.batch < 1 || o.word_ngrams < 1 || !(o.lr > 0))
        throw OptionError(fmt::format("fasttext_classifier: epochs {}, batch {}, word_ngrams {} and lr {} must be positive",
                                      o.epochs, o.batch, o.word_ngrams, o.lr));
    const models::FastTextOptions mo{.words = data.vocab.size() + 1,
                                     .buckets = o.word_ngrams > 1 ? o.buckets : 0,
                                     .dim = o.dim,
                                     .classes = data.corpus.num_classes()};
    std::vector<std::vector<int64_t>> features;
    features.reserve(data.tokens.size());
    for (const auto& t : data.tokens) features.push_back(fasttext_features(t, data.vocab, mo, o.word_ngrams));
    double total_tokens = 0;  // fastText's schedule counts words read, "</s>" included
    for (int64_t i : data.split.train) total_tokens += static_cast<double>(data.tokens[static_cast<std::size_t>(i)].size() + 1);
    total_tokens *= static_cast<double>(o.epochs);

    FastTextRunner runner(mo, o.batch, o.seed);
    const std::vector<int64_t>& labels = data.corpus.labels;
    TextClassifierReport rep;
    rep.parameters = mo.rows() * mo.dim + mo.dim * mo.classes;
    std::vector<int64_t> order(data.split.train.begin(), data.split.train.end());
    const int64_t steps = (static_cast<int64_t>(order.size()) + o.batch - 1) / o.batch;
    double done_tokens = 0;
    for (int64_t e = 1; e <= o.epochs; ++e) {
        io::shuffle_indices(order, o.seed + static_cast<uint64_t>(e));
        ProgressBar bar(fmt::format("epoch {}/{}", e, o.epochs), steps, o.progress);
        const auto t0 = std::chrono::steady_clock::now();
        double loss_sum = 0;
        for (int64_t s = 0; s < steps; ++s) {
            const auto rows = std::span<const int64_t>(order).subspan(
                static_cast<std::size_t>(s * o.batch), static_cast<std::size_t>(std::min<int64_t>(o.batch, static_cast<int64_t>(order.size()) - s * o.batch)));
            const double lr = o.lr * std::max(0.0, 1.0 - done_tokens / total_tokens);
            loss_sum += runner.step(features, labels, rows, lr);
            for (int64_t r : rows) done_tokens += static_cast<double>(data.tokens[static_cast<std::size_t>(r)].size() + 1);
            bar.update(s + 1, loss_sum / static_cast<double>(s + 1), fmt::format("  lr {:.4f}", lr));
        }
        bar.finish();
        EpochStat st{e, loss_sum / static_cast<double>(std::max<int64_t>(1, steps)), 0,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
        st.valid_accuracy = runner.accuracy(features, labels, data.split.valid, nullptr);
        if (o.progress)
            fmt::print("epoch {}/{}: train loss {:.4f}, valid accuracy {:.2f}%, {:.1f} s\n", e, o.epochs, st.train_loss,
                       100 * st.valid_accuracy, st.seconds);
        rep.epochs.push_back(st);
        rep.seconds_per_epoch += st.seconds / static_cast<double>(o.epochs);
    }
    rep.valid_accuracy = rep.epochs.back().valid_accuracy;
    rep.test_accuracy = runner.accuracy(features, labels, data.split.test, &rep.test_loss);
    return rep;
}

}  // namespace gg::train
