#include "graphgrad/train/embedding_eval.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include <fmt/format.h>

#include "graphgrad/graph/errors.h"
#include "graphgrad/ops/ops.h"

namespace gg::train {
namespace {

void check(const Embeddings& e, const char* what) {
    if (e.count < 0 || e.dim < 1 || e.values.size() != static_cast<std::size_t>(e.count * e.dim) ||
        e.labels.size() != static_cast<std::size_t>(e.count))
        throw OptionError(fmt::format("{}: embeddings of {} rows x {} need {} values and {} labels, got {} and {}", what,
                                      e.count, e.dim, e.count * e.dim, e.count, e.values.size(), e.labels.size()));
}

// Queries per similarity block: a [512, N] f32 block is 20 MB for N = 10,000.
constexpr int64_t kQueryBlock = 512;

}  // namespace

Embeddings normalized(const Embeddings& e) {
    check(e, "normalized");
    Embeddings n = e;
    for (int64_t i = 0; i < e.count; ++i) {
        float* r = n.values.data() + i * e.dim;
        double s = 0;
        for (int64_t k = 0; k < e.dim; ++k) s += static_cast<double>(r[k]) * r[k];
        const double inv = s > 0 ? 1.0 / std::sqrt(s) : 0.0;
        for (int64_t k = 0; k < e.dim; ++k) r[k] = static_cast<float>(r[k] * inv);
    }
    return n;
}

std::vector<double> recall_at_k(const Embeddings& raw, const std::vector<int64_t>& ks) {
    check(raw, "recall_at_k");
    const int64_t n = raw.count, d = raw.dim;
    if (n < 2) throw OptionError(fmt::format("recall_at_k: needs at least 2 embeddings, got {}", n));
    if (ks.empty()) throw OptionError("recall_at_k: no K given");
    for (int64_t k : ks)
        if (k < 1 || k > n - 1) throw OptionError(fmt::format("recall_at_k: K = {} is outside [1, {}]", k, n - 1));
    const int64_t kmax = *std::max_element(ks.begin(), ks.end());
    const Embeddings e = normalized(raw);

    // Similarities of a block of queries against every item: q·dbᵀ on oneDNN, compiled once.
    const int64_t block = std::min(kQueryBlock, n);
    Graph g;
    Value q = g.input("queries", {block, d});
    Value db = g.input("items", {n, d});
    Value sim = matmul(q, db, false, true);
    CompiledGraph program = compile(g, {sim});
    Tensor items = Tensor::from_vector(e.values, {n, d});
    Tensor queries = Tensor::zeros({block, d});

    std::vector<int64_t> hits(ks.size(), 0);
    std::vector<std::pair<float, int64_t>> best;  // the kmax most similar, most similar first
    best.reserve(static_cast<std::size_t>(kmax) + 1);
    for (int64_t q0 = 0; q0 < n; q0 += block) {
        const int64_t rows = std::min(block, n - q0);
        float* qd = queries.data<float>();
        std::copy(e.row(q0), e.row(q0) + rows * d, qd);
        std::fill(qd + rows * d, qd + block * d, 0.0f);  // a short last block: rows past `rows` are ignored
        const Tensor s = program.run({{q, queries}, {db, items}})[0];
        const float* sd = s.data<float>();
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t i = q0 + r;
            const float* row = sd + r * n;
            best.clear();
            // Insertion into a sorted list of kmax: O(N·K) per query, K small. Higher
            // similarity first; equal similarity: the lower index first.
            for (int64_t j = 0; j < n; ++j) {
                if (j == i) continue;
                const float v = row[j];
                if (static_cast<int64_t>(best.size()) == kmax && !(v > best.back().first)) continue;
                auto pos = std::upper_bound(best.begin(), best.end(), v,
                                            [](float a, const std::pair<float, int64_t>& b) { return a > b.first; });
                best.insert(pos, {v, j});
                if (static_cast<int64_t>(best.size()) > kmax) best.pop_back();
            }
            for (std::size_t t = 0; t < ks.size(); ++t) {
                const auto top = best.begin() + std::min<int64_t>(ks[t], static_cast<int64_t>(best.size()));
                if (std::any_of(best.begin(), top, [&](const auto& b) { return e.labels[b.second] == e.labels[i]; }))
                    ++hits[t];
            }
        }
    }
    std::vector<double> r(ks.size());
    for (std::size_t t = 0; t < ks.size(); ++t) r[t] = static_cast<double>(hits[t]) / static_cast<double>(n);
    return r;
}

NormStats norm_stats(const Embeddings& e) {
    check(e, "norm_stats");
    if (e.count == 0) return {};
    std::vector<double> norms(static_cast<std::size_t>(e.count));
    for (int64_t i = 0; i < e.count; ++i) {
        double s = 0;
        for (int64_t k = 0; k < e.dim; ++k) s += static_cast<double>(e.row(i)[k]) * e.row(i)[k];
        norms[static_cast<std::size_t>(i)] = std::sqrt(s);
    }
    NormStats st;
    st.mean = std::accumulate(norms.begin(), norms.end(), 0.0) / static_cast<double>(e.count);
    double var = 0;
    for (double v : norms) var += (v - st.mean) * (v - st.mean);
    st.std = std::sqrt(var / static_cast<double>(e.count));
    return st;
}

std::vector<std::array<float, 2>> pca_2d(const Embeddings& e) {
    check(e, "pca_2d");
    const int64_t n = e.count, d = e.dim;
    std::vector<double> mean(static_cast<std::size_t>(d), 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < d; ++k) mean[k] += e.row(i)[k];
    for (double& m : mean) m /= static_cast<double>(std::max<int64_t>(n, 1));
    std::vector<double> cov(static_cast<std::size_t>(d * d), 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t a = 0; a < d; ++a) {
            const double xa = e.row(i)[a] - mean[a];
            for (int64_t b = 0; b < d; ++b) cov[a * d + b] += xa * (e.row(i)[b] - mean[b]);
        }
    // Power iteration for the leading eigenvector, then for the next one kept orthogonal to it
    // (Gram-Schmidt every step: with no variance left, it is still a unit vector orthogonal to
    // the first component, so the plot's second axis stays meaningful).
    std::array<std::vector<double>, 2> comp;
    auto orthonormalise = [&](std::vector<double>& v, int c) {
        for (int prev = 0; prev < c; ++prev) {
            const double dot = std::inner_product(v.begin(), v.end(), comp[prev].begin(), 0.0);
            for (int64_t k = 0; k < d; ++k) v[k] -= dot * comp[prev][k];
        }
        const double norm = std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0));
        if (norm > 0)
            for (double& x : v) x /= norm;
        return norm;
    };
    for (int c = 0; c < 2; ++c) {
        std::vector<double> v(static_cast<std::size_t>(d)), w(static_cast<std::size_t>(d));
        // A start with no special direction: orthogonal to an eigenvector only by accident.
        for (int64_t k = 0; k < d; ++k) v[k] = 1.0 + 0.37 * std::sin(1.0 + static_cast<double>(k));
        if (orthonormalise(v, c) == 0) v.assign(v.size(), 0.0);
        for (int it = 0; it < 1000 && d > c; ++it) {
            for (int64_t a = 0; a < d; ++a) {
                double s = 0;
                for (int64_t b = 0; b < d; ++b) s += cov[a * d + b] * v[b];
                w[a] = s;
            }
            if (orthonormalise(w, c) < 1e-300) break;  // no variance left in this direction
            double change = 0;
            for (int64_t k = 0; k < d; ++k) change = std::max(change, std::abs(w[k] - v[k]));
            v.swap(w);
            if (change < 1e-10) break;
        }
        const auto big = std::max_element(v.begin(), v.end(), [](double a, double b) { return std::abs(a) < std::abs(b); });
        if (big != v.end() && *big < 0)
            for (double& x : v) x = -x;
        comp[c] = v;
    }
    std::vector<std::array<float, 2>> xy(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        for (int c = 0; c < 2; ++c) {
            double s = 0;
            for (int64_t k = 0; k < d; ++k) s += (e.row(i)[k] - mean[k]) * comp[c][k];
            xy[i][c] = static_cast<float>(s);
        }
    return xy;
}

}  // namespace gg::train
