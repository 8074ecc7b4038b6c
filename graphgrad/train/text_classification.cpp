// Data preparation shared by both classifiers, and the text CNN on the training harness.
// The FastText classifier's own SGD loop is in fasttext_training.cpp.
#include "graphgrad/train/text_classification.h"

#include <algorithm>
#include <chrono>

#include "graphgrad/graph/errors.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/optim/adam.h"
#include "graphgrad/train/classification.h"
#include "graphgrad/train/text_classification_internal.h"
#include "graphgrad/train/trainer.h"

namespace gg::train {

namespace {

// Fixed-shape batches of padded ids [B, L] and labels [B] from a split, reshuffled each epoch;
// the last batch's missing rows are padding labelled kIgnoreIndex (no loss, no gradient).
class TextBatches final : public BatchSource {
public:
    TextBatches(const std::vector<std::vector<int64_t>>& ids, const std::vector<int64_t>& labels,
                std::span<const int64_t> indices, int64_t batch, int64_t padding, uint64_t seed)
        : ids_(ids), labels_(labels), order_(indices.begin(), indices.end()), batch_(batch), padding_(padding),
          seed_(seed) {}
    int64_t num_batches() const override { return (static_cast<int64_t>(order_.size()) + batch_ - 1) / batch_; }
    void start_epoch(int64_t epoch) override { io::shuffle_indices(order_, seed_ + static_cast<uint64_t>(epoch)); }
    int64_t fill(int64_t b, std::vector<Tensor>& feeds) override {
        const int64_t begin = b * batch_, n = std::min<int64_t>(batch_, static_cast<int64_t>(order_.size()) - begin);
        const std::span<const int64_t> rows(order_.data() + begin, static_cast<std::size_t>(n));
        fill_padded_ids(ids_, rows, padding_, feeds[0]);
        fill_labels(labels_, rows, feeds[1]);
        return n;
    }

private:
    const std::vector<std::vector<int64_t>>& ids_;
    const std::vector<int64_t>& labels_;
    std::vector<int64_t> order_;
    int64_t batch_, padding_;
    uint64_t seed_;
};

}  // namespace

void fill_labels(const std::vector<int64_t>& labels, std::span<const int64_t> rows, Tensor& out) {
    int64_t* y = out.data<int64_t>();
    const int64_t B = out.shape()[0];
    for (int64_t r = 0; r < B; ++r)
        y[r] = r < static_cast<int64_t>(rows.size()) ? labels[static_cast<std::size_t>(rows[static_cast<std::size_t>(r)])]
                                                    : kIgnoreIndex;
}

void fill_padded_ids(const std::vector<std::vector<int64_t>>& ids, std::span<const int64_t> indices, int64_t padding,
                     Tensor& out) {
    if (out.dtype() != DType::I64 || out.shape().size() != 2 || static_cast<int64_t>(indices.size()) > out.shape()[0])
        throw_shape("fill_padded_ids: {} texts do not fit ids {}", indices.size(), out.desc());
    const int64_t B = out.shape()[0], L = out.shape()[1];
    int64_t* p = out.data<int64_t>();
    std::fill(p, p + B * L, padding);
    for (std::size_t r = 0; r < indices.size(); ++r) {
        const std::vector<int64_t>& t = ids.at(static_cast<std::size_t>(indices[r]));
        std::copy_n(t.begin(), std::min<int64_t>(L, static_cast<int64_t>(t.size())), p + static_cast<int64_t>(r) * L);
    }
}

TextData prepare_text_data(const std::string& task, const TextDataOptions& o) {
    return prepare_text_data(io::load_labelled_texts(task, o.fortunes), o);
}

TextData prepare_text_data(io::LabelledTexts corpus, const TextDataOptions& o) {
    io::StratifiedSplit split = io::split_stratified(corpus.labels, corpus.num_classes(), o.split);
    if (split.train.empty() || split.test.empty())
        throw io::DataError(fmt::format("{}: {} texts leave the training or test split empty", corpus.task,
                                        corpus.texts.size()));
    io::Vocabulary vocab = io::training_vocabulary(corpus, split.train, o.min_count, o.lowercase);
    std::vector<std::vector<std::string>> tokens;
    tokens.reserve(corpus.texts.size());
    for (const std::string& t : corpus.texts) tokens.push_back(io::text_tokens(t, o.lowercase));
    return TextData{std::move(corpus), std::move(split), std::move(vocab), std::move(tokens)};
}

std::vector<int64_t> word_ids(const std::vector<std::string>& tokens, const io::Vocabulary& vocab) {
    std::vector<int64_t> ids;
    ids.reserve(tokens.size());
    for (const std::string& t : tokens) ids.push_back(vocab.find(t).value_or(0));  // 0: "<unk>"
    return ids;
}

double accuracy_of(CompiledGraph& eval, Value ids_in, const std::vector<std::vector<int64_t>>& ids,
                   const std::vector<int64_t>& labels, std::span<const int64_t> indices, int64_t padding,
                   double* loss) {
    const int64_t B = ids_in.dim(0);
    Tensor ids_t(ids_in.desc()), labels_t(TensorDesc{{B}, DType::I64});
    BatchScore total;
    for (std::size_t begin = 0; begin < indices.size(); begin += static_cast<std::size_t>(B)) {
        const auto rows = indices.subspan(begin, std::min<std::size_t>(static_cast<std::size_t>(B), indices.size() - begin));
        fill_padded_ids(ids, rows, padding, ids_t);
        fill_labels(labels, rows, labels_t);
        const BatchScore s = score_batch(eval.run({{ids_in, ids_t}})[0], labels_t, static_cast<int64_t>(rows.size()));
        total.loss_sum += s.loss_sum;
        total.correct += s.correct;
    }
    const auto n = static_cast<double>(std::max<std::size_t>(1, indices.size()));
    if (loss) *loss = total.loss_sum / n;
    return static_cast<double>(total.correct) / n;
}

TextClassifierReport train_text_cnn(const TextData& data, const TextCnnTrainOptions& o) {
    models::TextCnnOptions mo = o.model;
    mo.vocab = data.vocab.size();
    mo.classes = data.corpus.num_classes();
    if (o.epochs < 1 || o.batch < 1 || o.max_tokens < 1)
        throw OptionError(fmt::format("text_cnn: epochs {}, batch {} and max_tokens {} must be positive", o.epochs,
                                      o.batch, o.max_tokens));
    std::vector<std::vector<int64_t>> ids;
    ids.reserve(data.tokens.size());
    for (const auto& t : data.tokens) ids.push_back(word_ids(t, data.vocab));
    int64_t longest = 0;
    for (int64_t i : data.split.train) longest = std::max<int64_t>(longest, static_cast<int64_t>(ids[static_cast<std::size_t>(i)].size()));
    const int64_t widest = mo.widths.empty() ? 1 : *std::max_element(mo.widths.begin(), mo.widths.end());
    const int64_t L = std::max(widest, std::min(o.max_tokens, longest));

    if (o.pretrained) {
        Tensor rows = Tensor::zeros({mo.vocab, mo.dim});
        std::vector<bool> found(static_cast<std::size_t>(mo.vocab), false);
        for (int64_t v = 0; v < mo.vocab; ++v)
            found[static_cast<std::size_t>(v)] =
                o.pretrained(data.vocab.token(v), std::span<float>(rows.data<float>() + v * mo.dim, static_cast<std::size_t>(mo.dim)));
        mo.embedding_init = models::embedding_rows(std::move(rows), std::move(found));
    }

    Graph g(o.seed);
    Value ids_in = g.input("ids", {o.batch, L}, DType::I64);
    Value y = g.input("labels", {o.batch}, DType::I64);
    const models::TextCnnNet net = models::text_cnn(ids_in, mo);
    Value loss = cross_entropy(net.logits, y);
    const std::vector<Value> params = g.parameters();  // a frozen table is state: not among them
    TrainTask task{.graph = &g, .inputs = {ids_in, y}, .loss = loss, .params = params, .grads = grad(loss, params),
                   .watch = {net.logits}};
    optim::Adam opt(g, params, {.lr = o.lr});
    Trainer trainer(task, opt, nullptr, {.epochs = o.epochs, .progress = o.progress});
    CompiledGraph eval = compile(g, {net.logits});  // no gradients: dropout is the identity
    TextBatches batches(ids, data.corpus.labels, data.split.train, o.batch, mo.padding_id(), o.seed);
    AccuracyMetric metric;
    auto evaluate = [&] {
        EvalResult r;
        auto t0 = std::chrono::steady_clock::now();
        r.metric = accuracy_of(eval, ids_in, ids, data.corpus.labels, data.split.valid, mo.padding_id(), &r.loss);
        r.samples = static_cast<int64_t>(data.split.valid.size());
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return r;
    };
    const TrainReport tr = trainer.fit(batches, evaluate, &metric);

    TextClassifierReport rep;
    for (const EpochRecord& e : tr.records) {
        rep.epochs.push_back({e.epoch, e.train_loss, e.eval.metric, e.seconds});
        rep.seconds_per_epoch += e.seconds / static_cast<double>(tr.records.size());
    }
    rep.valid_accuracy = tr.final_eval.metric;
    rep.test_accuracy = accuracy_of(eval, ids_in, ids, data.corpus.labels, data.split.test, mo.padding_id(), &rep.test_loss);
    for (const Value& p : params) rep.parameters += p.numel();
    rep.padded_length = L;
    return rep;
}

}  // namespace gg::train
