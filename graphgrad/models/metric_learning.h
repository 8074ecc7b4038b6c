// Deep metric learning as graph code: pairwise distances of a batch of embeddings, the
// triplet loss with in-batch mining (batch-hard, semi-hard, batch-all), the spherical
// embedding constraint (SEC) and a small CNN that maps Fashion-MNIST images to embeddings.
// Everything is built from public builders (matmul, max, where, comparisons), so gradients
// come from their rules: a max routes its gradient to the selected (hardest) entry, and
// masks built with comparisons carry none.
//
//   auto f = gg::models::embedding_net(x, 64);                       // raw embeddings [B, 64]
//   auto t = gg::models::triplet_loss(f, labels, {.margin = 0.2, .mining = gg::models::TripletMining::SemiHard});
//   auto loss = t.loss + 0.1 * gg::models::spherical_embedding_constraint(f);
#pragma once

#include <cstdint>
#include <string>

#include "graphgrad/graph/graph.h"

namespace gg::models {

// ‖x‖ over the last axis of [B, D] (shape [B]); 0 (with gradient 0) for a zero row rather
// than sqrt's infinite derivative there.
Value row_norms(Value x);
// x / max(‖x‖, 1e-12) per row, as torch.nn.functional.normalize.
Value l2_normalize(Value x);

// Distances between every pair of rows of e [B, D] → [B, B] with an exact 0 diagonal, from
// ‖a‖² + ‖b‖² − 2a·b (one matmul) clamped at 0. `squared` = false takes the square root with
// gradient 0 where the distance is 0 (sqrt's derivative is infinite there, and 0·∞ would put
// NaN into every gradient that meets the diagonal or a duplicate embedding).
Value pairwise_distances(Value e, bool squared);

// How the triplets of a batch are chosen (Hermans et al. 2017; Schroff et al. 2015).
enum class TripletMining {
    BatchHard,  // per anchor: the farthest positive and the closest negative
    SemiHard,   // per anchor-positive pair: the closest negative farther than the positive
                // (FaceNet), else the farthest negative (all are closer than the positive)
    BatchAll,   // every valid (anchor, positive, negative), mean over the active ones
};
TripletMining parse_triplet_mining(const std::string& name);  // "batch-hard" | "semi-hard" | "batch-all"
std::string triplet_mining_name(TripletMining m);

struct TripletOptions {
    double margin = 0.2;
    TripletMining mining = TripletMining::BatchHard;
    // Distances on L2-normalised embeddings (the SEC paper's triplet setup: the network's
    // raw output keeps its norm, which SEC then regularises).
    bool normalize = true;
    // Squared Euclidean distance (FaceNet, the SEC authors' code: on the unit sphere it is
    // 2 − 2·cos, and margin 0.2 is FaceNet's α) or plain Euclidean (Hermans et al.).
    bool squared = true;
};

// The loss and the triplets it used, so tests and tools can see what was mined. Shapes by
// mining: batch-hard [B] (one triplet per anchor), semi-hard [B, B] (anchor, positive),
// batch-all [B, B, B] (anchor, positive, negative). loss = Σ weight·relu(d_ap − d_an + margin)
// / count, with weight 1 for a valid triplet and 0 otherwise (an anchor without a positive or
// a negative in the batch) and count the valid triplets (batch-all: the active ones, loss > 0).
struct TripletLoss {
    Value loss;    // scalar
    Value d_ap;    // distance to the chosen positive
    Value d_an;    // distance to the chosen negative
    Value weight;  // 1 where the triplet is valid
};
// e [B, D] floating, labels i64 [B].
TripletLoss triplet_loss(Value e, Value labels, const TripletOptions& options = {});

// Zhang et al. 2020, "Deep Metric Learning with Spherical Embedding", eq. (5):
// L_sec = (1/B) Σ_i (‖f_i‖ − μ)², μ = (1/B) Σ_i ‖f_i‖, the batch mean (the authors' code with its
// default norm_momentum = 1). The gradient is the same whether μ is held constant or not,
// since Σ_i (‖f_i‖ − μ) = 0. e [B, D] → scalar.
Value spherical_embedding_constraint(Value e);

// A small CNN for 1×28×28 images: three 3×3 conv + batch norm + ReLU + 2×2 max-pool stages
// (32, 64, 64 channels: 28 → 14 → 7 → 3), fc1 (128, ReLU) and a linear "embed" layer →
// [B, dim] raw embeddings (no normalisation: the loss normalises, SEC sees the norms).
Value embedding_net(Value x, int64_t dim = 64);

}  // namespace gg::models
