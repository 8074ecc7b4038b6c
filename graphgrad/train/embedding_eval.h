// Evaluating embeddings for retrieval: Recall@K with every item a query against all the
// others, the spread of the embeddings' norms, and a 2-D PCA projection for plots. Host-side
// except the similarity matrix, which runs as a graph (one oneDNN matmul per block of queries).
//
//   gg::train::Embeddings e = ...;                        // N rows of D floats and N labels
//   auto r = gg::train::recall_at_k(e, {1, 5});           // fractions in [0, 1]
//   gg::train::NormStats s = gg::train::norm_stats(e);    // mean, std, std/mean of ‖e_i‖
//   auto xy = gg::train::pca_2d(e);                       // N points on the top-2 components
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace gg::train {

// N embeddings of width D (row-major, raw: not normalised) with their class labels.
struct Embeddings {
    int64_t count = 0, dim = 0;
    std::vector<float> values;
    std::vector<int64_t> labels;
    const float* row(int64_t i) const { return values.data() + i * dim; }
};

// The same rows scaled to unit length (a zero row stays zero).
Embeddings normalized(const Embeddings& e);

// For each K in ks: the fraction of queries i whose K nearest other items (cosine similarity,
// i.e. Euclidean distance between L2-normalised embeddings, which ranks identically; ties go
// to the lower index) include at least one of i's class (Song et al. 2016's Recall@K).
// Needs count ≥ 2 and every K in [1, count − 1].
std::vector<double> recall_at_k(const Embeddings& e, const std::vector<int64_t>& ks);

// Mean and (population) standard deviation of the rows' L2 norms; cv = std / mean.
struct NormStats {
    double mean = 0, std = 0;
    double cv() const { return mean > 0 ? std / mean : 0; }
};
NormStats norm_stats(const Embeddings& e);

// The rows projected on the two leading principal components of their covariance (rows
// centred; components by power iteration, the second kept orthogonal to the first; signs
// fixed so each component's largest-magnitude coordinate is positive, for reproducible plots).
// Dimension 1: the second coordinate is 0.
std::vector<std::array<float, 2>> pca_2d(const Embeddings& e);

}  // namespace gg::train
