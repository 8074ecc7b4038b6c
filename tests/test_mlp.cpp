// An MLP trained with SGD on generated data: the loss must fall and accuracy rise.
#include <catch2/catch.hpp>

#include "graphgrad/graph/rng.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/optim/optimizer.h"

using namespace gg;

TEST_CASE("an MLP's loss falls on generated data", "[models][mlp]") {
    // Four Gaussian blobs in 8-D; the label is the blob.
    const int64_t batch = 64, dim = 8, classes = 4;
    Graph g(3);
    auto x = g.input("x", {batch, dim});
    auto y = g.input("y", {batch}, DType::I64);
    auto w1 = g.parameter("w1", {dim, 32}, init::kaiming_uniform());
    auto b1 = g.parameter("b1", {32});
    auto w2 = g.parameter("w2", {32, classes}, init::xavier_uniform());
    auto b2 = g.parameter("b2", {classes});
    auto logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
    auto loss = cross_entropy(logits, y);
    auto grads = grad(loss, {w1, b1, w2, b2});
    auto step = compile(g, {loss, grads[0], grads[1], grads[2], grads[3]});
    optim::Sgd opt(g, {w1, b1, w2, b2}, {.lr = 0.1, .momentum = 0.9});

    auto make_batch = [&](uint64_t k) {
        Tensor xb(TensorDesc{{batch, dim}, DType::F32});
        Tensor yb(TensorDesc{{batch}, DType::I64});
        for (int64_t i = 0; i < batch; ++i) {
            int64_t c = static_cast<int64_t>(random_bits(k, 1, static_cast<uint64_t>(i)) % classes);
            yb.set(i, static_cast<double>(c));
            for (int64_t d = 0; d < dim; ++d) {
                double centre = (d % classes == c) ? 2.0 : 0.0;
                xb.set(i * dim + d, centre + standard_normal(k, 2, static_cast<uint64_t>(i * dim + d)));
            }
        }
        return std::pair{xb, yb};
    };
    double first = 0, last = 0;
    for (uint64_t it = 0; it < 200; ++it) {
        auto [xb, yb] = make_batch(it);
        auto out = step.run({{x, xb}, {y, yb}});
        if (it == 0) first = out[0].get(0);
        last = out[0].get(0);
        opt.step({out[1], out[2], out[3], out[4]});
    }
    CHECK(first > 1.0);         // ≈ ln 4 at the start
    CHECK(last < 0.35 * first);
    // Accuracy on a fresh batch.
    auto eval = compile(g, {logits});
    auto [xb, yb] = make_batch(12345);
    auto out = eval.run({{x, xb}});
    int correct = 0;
    for (int64_t i = 0; i < batch; ++i) {
        int64_t best = 0;
        for (int64_t c = 1; c < classes; ++c)
            if (out[0].get(i * classes + c) > out[0].get(i * classes + best)) best = c;
        correct += best == static_cast<int64_t>(yb.get(i));
    }
    CHECK(correct >= 0.75 * batch);  // Bayes accuracy ≈ 93%, chance 25%; one batch of 64 is noisy
}
