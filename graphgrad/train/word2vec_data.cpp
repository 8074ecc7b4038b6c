// The data side of word2vec (train/word2vec.h): corpus ids, subsampling, the noise table,
// fastText's subword hashing, and cosine neighbours over word vectors.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "graphgrad/io/fasttext_hash.h"
#include "graphgrad/io/data_error.h"
#include "graphgrad/io/safetensors.h"
#include "graphgrad/io/vocabulary.h"
#include "graphgrad/train/word2vec.h"

namespace gg::train {

Word2VecCorpus build_word2vec_corpus(std::string_view text, const Word2VecOptions& o) {
    if (o.min_count < 1) throw_graph("word2vec: min_count must be at least 1, got {}", o.min_count);
    const io::Vocabulary vocab = io::Vocabulary::words(
        text, io::WordVocabOptions{.min_count = o.min_count, .lowercase = o.lowercase, .line_end_token = false});
    // The vocabulary's id 0 is "<unk>" (rarer words): it becomes our padding id 0 and its
    // tokens are dropped, as word2vec drops words below min_count.
    Word2VecCorpus c;
    c.words.reserve(static_cast<std::size_t>(vocab.size()));
    c.words.emplace_back("<pad>");
    for (int64_t i = 1; i < vocab.size(); ++i) c.words.push_back(vocab.token(i));
    c.counts.assign(c.words.size(), 0);
    const std::vector<int64_t> ids = vocab.encode(text, "word2vec corpus");
    c.tokens.reserve(ids.size());
    for (int64_t id : ids)
        if (id > 0) {
            c.tokens.push_back(static_cast<int32_t>(id));
            ++c.counts[static_cast<std::size_t>(id)];
        }
    if (c.tokens.empty())
        throw io::DataError(fmt::format("word2vec: no word of the text occurs {} times or more", o.min_count));
    return c;
}

double keep_probability(int64_t count, int64_t total, double sample) {
    if (sample <= 0 || count <= 0) return 1.0;
    const double t = sample * static_cast<double>(total), f = static_cast<double>(count);
    return std::min(1.0, (std::sqrt(f / t) + 1.0) * t / f);
}

std::vector<int32_t> unigram_table(const std::vector<int64_t>& counts, double power, int64_t size) {
    double z = 0;
    for (int64_t c : counts) z += std::pow(static_cast<double>(c), power) * (c > 0);
    if (!(z > 0)) throw_graph("word2vec: the noise table needs at least one word with a positive count");
    std::vector<int32_t> table;
    table.reserve(static_cast<std::size_t>(size));
    // Word i fills ⌈size · p_i⌉ slots (fastText's construction): every word with a positive
    // count appears at least once.
    for (std::size_t i = 0; i < counts.size(); ++i) {
        if (counts[i] <= 0) continue;
        const double p = std::pow(static_cast<double>(counts[i]), power) / z;
        const auto n = static_cast<int64_t>(std::ceil(p * static_cast<double>(size)));
        table.insert(table.end(), static_cast<std::size_t>(n), static_cast<int32_t>(i));
    }
    return table;
}

std::vector<int64_t> subword_buckets(std::string_view word, int64_t minn, int64_t maxn, int64_t buckets) {
    std::vector<int64_t> out;
    if (maxn <= 0 || buckets <= 0) return out;
    std::string w;  // "<word>" (appended piecewise: GCC 12 warns falsely on "<" + s + ">")
    w.reserve(word.size() + 2);
    w.push_back('<');
    w.append(word);
    w.push_back('>');
    auto continuation = [&](std::size_t i) { return (static_cast<unsigned char>(w[i]) & 0xC0) == 0x80; };
    for (std::size_t i = 0; i < w.size(); ++i) {
        if (continuation(i)) continue;  // n-grams start on code points
        std::string gram;
        std::size_t j = i;
        for (int64_t n = 1; j < w.size() && n <= maxn; ++n) {
            gram += w[j++];
            while (j < w.size() && continuation(j)) gram += w[j++];
            // Single characters "<" and ">" alone are not n-grams.
            if (n >= minn && !(n == 1 && (i == 0 || j == w.size())))
                out.push_back(static_cast<int64_t>(io::fasttext_hash(gram) % static_cast<uint32_t>(buckets)));
        }
    }
    return out;
}

std::vector<Neighbor> nearest_neighbors(const io::WordVectors& wv, const std::vector<float>& query, int64_t k,
                                        const std::vector<int64_t>& exclude) {
    const int64_t d = wv.dim();
    if (static_cast<int64_t>(query.size()) != d)
        throw_graph("neighbors: a query of {} values for vectors of dimension {}", query.size(), d);
    double qn = 0;
    for (float x : query) qn += static_cast<double>(x) * x;
    qn = std::sqrt(qn);
    std::vector<std::pair<double, int64_t>> scored;
    const float* m = wv.vectors.data<float>();
    for (int64_t r = 0; r < wv.size(); ++r) {
        if (std::find(exclude.begin(), exclude.end(), r) != exclude.end()) continue;
        double dot = 0, n = 0;
        for (int64_t e = 0; e < d; ++e) {
            dot += static_cast<double>(m[r * d + e]) * query[static_cast<std::size_t>(e)];
            n += static_cast<double>(m[r * d + e]) * m[r * d + e];
        }
        scored.emplace_back(n > 0 && qn > 0 ? dot / (std::sqrt(n) * qn) : 0.0, r);
    }
    const auto top = static_cast<std::ptrdiff_t>(std::min<std::size_t>(static_cast<std::size_t>(std::max<int64_t>(k, 0)), scored.size()));
    std::partial_sort(scored.begin(), scored.begin() + top, scored.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    std::vector<Neighbor> out;
    for (std::ptrdiff_t i = 0; i < top; ++i)
        out.push_back({wv.words[static_cast<std::size_t>(scored[static_cast<std::size_t>(i)].second)],
                       scored[static_cast<std::size_t>(i)].first});
    return out;
}

std::vector<Neighbor> analogy(const io::WordVectors& wv, const std::string& a, const std::string& b, const std::string& c,
                              int64_t k) {
    std::vector<int64_t> ids;
    for (const std::string* w : {&a, &b, &c}) {
        auto id = wv.find(*w);
        if (!id) throw io::DataError(fmt::format("analogy: \"{}\" is not in the word vectors", *w));
        ids.push_back(*id);
    }
    // Unit vectors first (3CosAdd on normalised vectors, as word2vec's compute-accuracy does).
    const int64_t d = wv.dim();
    std::vector<float> q(static_cast<std::size_t>(d), 0.0f);
    const float* m = wv.vectors.data<float>();
    const double sign[3] = {-1.0, 1.0, 1.0};
    for (int t = 0; t < 3; ++t) {
        double n = 0;
        for (int64_t e = 0; e < d; ++e) n += static_cast<double>(m[ids[static_cast<std::size_t>(t)] * d + e]) * m[ids[static_cast<std::size_t>(t)] * d + e];
        n = n > 0 ? std::sqrt(n) : 1.0;
        for (int64_t e = 0; e < d; ++e)
            q[static_cast<std::size_t>(e)] += static_cast<float>(sign[t] * m[ids[static_cast<std::size_t>(t)] * d + e] / n);
    }
    return nearest_neighbors(wv, q, k, ids);
}

void save_word2vec(const std::string& path, const Word2VecModel& m) {
    const Word2VecOptions& o = m.options();
    std::string words;
    for (std::size_t i = 1; i < m.corpus().words.size(); ++i) words += m.corpus().words[i] + "\n";
    io::save_safetensors(path, {{"input", m.input_table()}, {"output", m.output_table()}},
                         {{"format", "graphgrad-word2vec"},
                          {"arch", o.arch == Word2VecArch::Cbow ? "cbow" : "skipgram"},
                          {"words", words},
                          {"minn", std::to_string(o.minn)},
                          {"maxn", std::to_string(o.maxn)},
                          {"buckets", std::to_string(o.buckets)}});
}

Word2VecModel load_word2vec(const std::string& path) {
    const io::SafetensorsFile f = io::SafetensorsFile::open(path);
    const io::Metadata& meta = f.metadata();
    auto get = [&](const char* key) -> const std::string& {
        auto it = meta.find(key);
        if (it == meta.end()) throw io::DataError(fmt::format("{}: no \"{}\" in the metadata (not a word2vec model?)", path, key));
        return it->second;
    };
    if (get("format") != "graphgrad-word2vec") throw io::DataError(fmt::format("{}: not a graphgrad word2vec model", path));
    auto integer = [&](const char* key) {
        const std::string& s = get(key);
        int64_t v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || p != s.data() + s.size() || v < 0)
            throw io::DataError(fmt::format("{}: metadata \"{}\" = \"{}\" is not a non-negative integer", path, key, s));
        return v;
    };
    Word2VecOptions o;
    o.arch = get("arch") == "cbow" ? Word2VecArch::Cbow : Word2VecArch::SkipGram;
    o.minn = integer("minn");
    o.maxn = integer("maxn");
    o.buckets = integer("buckets");
    Word2VecCorpus c;
    c.words.emplace_back("<pad>");
    const std::string& words = get("words");
    for (std::size_t at = 0; at < words.size();) {
        const std::size_t e = words.find('\n', at);
        if (e == std::string::npos) throw io::DataError(fmt::format("{}: the word list does not end with a newline", path));
        c.words.push_back(words.substr(at, e - at));
        at = e + 1;
    }
    c.counts.assign(c.words.size(), 0);
    if (!f.contains("input") || !f.contains("output")) throw io::DataError(fmt::format("{}: needs \"input\" and \"output\"", path));
    Tensor in = f.tensor("input"), out = f.tensor("output");
    const auto v = static_cast<int64_t>(c.words.size());
    const int64_t rows = v + (o.maxn > 0 ? o.buckets : 0);
    if (in.dtype() != DType::F32 || in.shape().size() != 2 || in.shape()[0] != rows || out.shape().size() != 2 ||
        out.shape()[0] != v || out.shape()[1] != in.shape()[1] || out.dtype() != DType::F32)
        throw io::DataError(fmt::format("{}: tables {} and {} do not fit {} words{}", path, desc_str(in.desc()),
                                        desc_str(out.desc()), v - 1, o.maxn > 0 ? fmt::format(" and {} buckets", o.buckets) : ""));
    o.dim = in.shape()[1];
    return Word2VecModel(std::move(c), o, std::move(in), std::move(out));
}

}  // namespace gg::train
