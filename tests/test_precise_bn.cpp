// Precise batch-norm statistics: after recalibration every running mean and variance is the
// equal-weight average of the per-batch statistics (variance unbiased), whatever stale values
// were there, and a layer fed by another batch norm sees that layer's normalised output.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "graphgrad/ops/ops.h"
#include "graphgrad/optim/precise_bn.h"

using namespace gg;

namespace {

// Batch b, channel c: values c + 0.5·b + a deterministic spread that differs per batch.
Tensor batch(int64_t b, const Shape& s) {
    Tensor t = Tensor::zeros(s);
    const int64_t n = s[0], c = s[1], plane = s[2] * s[3];
    for (int64_t i = 0; i < n; ++i)
        for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t p = 0; p < plane; ++p) {
                const int64_t k = (i * c + ch) * plane + p;
                t.set(k, static_cast<double>(ch) + 0.5 * static_cast<double>(b) +
                             (1.0 + 0.3 * static_cast<double>(b)) * std::sin(1.3 * static_cast<double>(k) + static_cast<double>(b)));
            }
    return t;
}

}  // namespace

TEST_CASE("precise batch norm replaces running statistics by the average of batch statistics", "[optim][batch_norm]") {
    Graph g;
    const Shape s{6, 3, 4, 5};
    Value x = g.input("x", s);
    Value y = batch_norm(batch_norm(x, "bn1"), "bn2");
    // Stale statistics, as after training with moving weights.
    g.store().get("bn1.running_mean").fill(40.0);
    g.store().get("bn1.running_var").fill(0.01);
    g.store().get("bn2.running_mean").fill(-3.0);

    optim::PreciseBatchNorm precise(g, y);
    REQUIRE(precise.layers() == 2);
    const int64_t batches = 4;
    precise.recalibrate([&](int64_t b) { return Feeds{{x, batch(b, s)}}; }, batches);

    const int64_t count = s[0] * s[2] * s[3];
    for (int64_t c = 0; c < s[1]; ++c) {
        double mean_avg = 0, var_avg = 0, bn2_var_avg = 0;
        for (int64_t b = 0; b < batches; ++b) {
            const Tensor t = batch(b, s);
            double sum = 0, sq = 0;
            for (int64_t i = 0; i < s[0]; ++i)
                for (int64_t p = 0; p < s[2] * s[3]; ++p) sum += t.get((i * s[1] + c) * s[2] * s[3] + p);
            const double mean = sum / static_cast<double>(count);
            for (int64_t i = 0; i < s[0]; ++i)
                for (int64_t p = 0; p < s[2] * s[3]; ++p) {
                    const double d = t.get((i * s[1] + c) * s[2] * s[3] + p) - mean;
                    sq += d * d;
                }
            const double biased = sq / static_cast<double>(count);
            mean_avg += mean / batches;
            var_avg += sq / static_cast<double>(count - 1) / batches;
            // bn1's output in training mode has mean 0 and biased variance var/(var + eps).
            bn2_var_avg += biased / (biased + 1e-5) * static_cast<double>(count) / static_cast<double>(count - 1) / batches;
        }
        INFO("channel " << c);
        CHECK(g.store().get("bn1.running_mean").get(c) == Approx(mean_avg).epsilon(1e-5));
        CHECK(g.store().get("bn1.running_var").get(c) == Approx(var_avg).epsilon(1e-4));
        CHECK(g.store().get("bn2.running_mean").get(c) == Approx(0.0).margin(1e-5));
        CHECK(g.store().get("bn2.running_var").get(c) == Approx(bn2_var_avg).epsilon(1e-4));
    }
}
