#include "graphgrad/models/text_classifiers.h"

#include <utility>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/ops/ops.h"

namespace gg::models {

namespace {

// The parameter (or state) `name` (in the current name scope) of g if an earlier call made
// it, else a new one.
Value stored(Graph& g, const std::string& name, const Shape& shape, const Initializer& init, bool trainable) {
    if (const std::string full = g.scoped(name); g.store().contains(full)) {
        Value v = g.find(full);
        if (v.shape() != shape)
            throw_shape("{}: exists as {} but this network needs {}", full, shape_str(v.shape()), shape_str(shape));
        return v;
    }
    return trainable ? g.parameter(name, shape, init) : g.state(name, shape, init);
}

// uniform(−a, a) with the last row (padding) zero.
Initializer uniform_but_padding(double a) {
    return [a](Tensor& t, uint64_t seed) {
        const int64_t cols = t.shape()[1], n = t.numel();
        float* p = t.data<float>();
        for (int64_t i = 0; i < n; ++i)
            p[i] = i >= n - cols ? 0.0f : static_cast<float>((2.0 * uniform01(seed, 0, static_cast<uint64_t>(i)) - 1.0) * a);
    };
}

void check_ids(const char* what, Value ids) {
    if (ids.dtype() != DType::I64 || ids.rank() != 2)
        throw_shape("{}: ids must be i64 [B, L], got {}", what, ids.desc());
}

}  // namespace

int64_t fasttext_ngram_bucket(std::span<const uint32_t> hashes, int64_t buckets) {
    if (hashes.empty() || buckets < 1) throw_graph("fasttext_ngram_bucket: {} hashes, {} buckets", hashes.size(), buckets);
    // fastText keeps word hashes as int32_t and widens them to uint64_t: sign extension.
    auto widen = [](uint32_t x) { return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(x))); };
    uint64_t h = widen(hashes[0]);
    for (std::size_t j = 1; j < hashes.size(); ++j) h = h * 116049371u + widen(hashes[j]);
    return static_cast<int64_t>(h % static_cast<uint64_t>(buckets));
}

FastTextNet fasttext_classifier(Value ids, Value weights, const FastTextOptions& o) {
    check_ids("fasttext_classifier", ids);
    if (weights.dtype() != DType::F32 || weights.shape() != ids.shape())
        throw_shape("fasttext_classifier: weights must be f32 {} like ids, got {}", shape_str(ids.shape()),
                    weights.desc());
    if (o.words < 1 || o.buckets < 0 || o.dim < 1 || o.classes < 2)
        throw_graph("fasttext_classifier: words {}, buckets {}, dim {} and classes {} must be positive (classes ≥ 2)",
                    o.words, o.buckets, o.dim, o.classes);
    Graph& g = *ids.graph;
    const int64_t B = ids.dim(0), L = ids.dim(1);
    FastTextNet n;
    n.table = stored(g, "fasttext.input", {o.rows(), o.dim}, uniform_but_padding(1.0 / static_cast<double>(o.dim)), true);
    n.output = stored(g, "fasttext.output", {o.dim, o.classes}, init::zeros(), true);
    n.embedded = embedding(n.table, ids, o.padding_id());
    n.hidden = sum(n.embedded * reshape(weights, {B, L, 1}), {1});  // the mean over the text's features
    n.logits = matmul(n.hidden, n.output);
    return n;
}

TextCnnNet text_cnn(Value ids, const TextCnnOptions& o) {
    check_ids("text_cnn", ids);
    if (o.vocab < 1 || o.dim < 1 || o.filters < 1 || o.classes < 2 || o.widths.empty() || !(o.dropout >= 0 && o.dropout < 1))
        throw_graph("text_cnn: vocab {}, dim {}, filters {}, classes {} (≥ 2), {} widths, dropout {} (in [0, 1))",
                    o.vocab, o.dim, o.filters, o.classes, o.widths.size(), o.dropout);
    Graph& g = *ids.graph;
    const int64_t B = ids.dim(0), L = ids.dim(1);
    TextCnnNet n;
    const Initializer init = o.embedding_init ? o.embedding_init : uniform_but_padding(0.25);
    n.table = stored(g, "text_cnn.embedding", {o.vocab + 1, o.dim}, init, !o.freeze_embeddings);
    // [B, L, D] → [B, D, 1, L]: the embedding's D components are the input channels of a 1-D
    // convolution over time (PyTorch's Conv1d(D, F, k)) along the width axis. The same sums as
    // a [k, D] kernel over a one-channel L×D image, but oneDNN's direct kernels block over
    // channels and vectorise along the width: with one input channel they ran at ~6 GMAC/s here,
    // with time along the height ~8.
    Value x = reshape(permute(embedding(n.table, ids, o.padding_id()), {0, 2, 1}), {B, o.dim, 1, L});
    std::vector<Value> pooled;
    for (int64_t k : o.widths) {
        if (k < 1 || k > L) throw_shape("text_cnn: kernel width {} needs 1 ≤ width ≤ the padded length {}", k, L);
        NameScope s(g, fmt::format("text_cnn.conv{}", k));
        // PyTorch's Conv1d default init: kaiming_uniform(a = √5) = U(±1/√fan_in), fan_in = D·k.
        const double fan_in = static_cast<double>(k * o.dim), bound = 1.0 / std::sqrt(fan_in);
        Value w = stored(g, "weight", {o.filters, o.dim, 1, k}, init::uniform(-bound, bound), true);
        Value b = stored(g, "bias", {o.filters}, init::uniform(-bound, bound), true);
        Value c = relu(conv2d(x, w, b));                           // [B, F, 1, L − k + 1]
        pooled.push_back(reshape(max(c, {2, 3}), {B, o.filters}));  // max over time
    }
    n.features = pooled.size() == 1 ? pooled[0] : concat(pooled, 1);
    const int64_t F = n.features.dim(1);
    const double bound = 1.0 / std::sqrt(static_cast<double>(F));
    Value w = stored(g, "text_cnn.fc.weight", {F, o.classes}, init::uniform(-bound, bound), true);
    Value b = stored(g, "text_cnn.fc.bias", {o.classes}, init::uniform(-bound, bound), true);
    Value h = o.dropout > 0 ? dropout(n.features, o.dropout) : n.features;
    n.logits = matmul(h, w) + b;
    return n;
}

Initializer embedding_rows(Tensor rows, std::vector<bool> found, double range) {
    if (rows.dtype() != DType::F32 || rows.shape().size() != 2 || static_cast<int64_t>(found.size()) != rows.shape()[0])
        throw_shape("embedding_rows: rows must be f32 [V, D] with one `found` flag per row, got {} and {} flags",
                    rows.desc(), found.size());
    return [rows = std::move(rows), found = std::move(found), range](Tensor& t, uint64_t seed) {
        const int64_t V = rows.shape()[0], D = rows.shape()[1];
        if (t.dtype() != DType::F32 || t.shape() != Shape{V + 1, D})
            throw_shape("embedding_rows: pre-trained rows {} need a table f32[{}, {}] (a padding row more), got {}",
                        rows.desc(), V + 1, D, t.desc());
        float* p = t.data<float>();
        const float* r = rows.data<float>();
        for (int64_t v = 0; v <= V; ++v)
            for (int64_t d = 0; d < D; ++d) {
                const int64_t i = v * D + d;
                p[i] = v == V ? 0.0f
                       : found[static_cast<std::size_t>(v)]
                           ? r[i]
                           : static_cast<float>((2.0 * uniform01(seed, 0, static_cast<uint64_t>(i)) - 1.0) * range);
            }
    };
}

}  // namespace gg::models
