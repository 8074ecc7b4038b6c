// Autoencoder: an MLP encoder squeezes the input through a `bottleneck`-wide code and an MLP
// decoder reconstructs it; train with mse(reconstruction, x) on inputs scaled to [0, 1],
// which the sigmoid output matches. Names follow two nn.Sequentials, encoder = (Linear, ReLU,
// Linear, ReLU) and decoder = (Linear, ReLU, Linear, Sigmoid): encoder.0, encoder.2,
// decoder.0, decoder.2.
//
// The denoising autoencoder (Vincent et al. 2008) trains the same network to reconstruct the
// clean x from a corrupted copy, so it must learn the data's structure rather than copy
// pixels. The corruption is dropout on the input: training programs zero each input
// element with probability p (and scale survivors by 1/(1−p), as inverted dropout does);
// evaluation programs see the clean input.
//
//   auto recon = gg::models::denoising_autoencoder(x, 0.3);
//   auto loss = gg::mse(recon, x);                          // the target is the clean input
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/random.h"
#include "graphgrad/ops/shape_ops.h"

namespace gg::models {

namespace {
constexpr int64_t kHidden = 128;
}

Value autoencoder(Value x, int64_t bottleneck) {
    Value flat = flatten(x);
    const int64_t features = flat.dim(1);
    Value code = relu(linear(relu(linear(flat, kHidden, "encoder.0")), bottleneck, "encoder.2"));
    Value h = linear(relu(linear(code, kHidden, "decoder.0")), features, "decoder.2");
    return reshape(sigmoid(h), x.shape());
}

Value denoising_autoencoder(Value x, double noise_p, int64_t bottleneck) {
    return autoencoder(dropout(x, noise_p), bottleneck);
}

}  // namespace gg::models
