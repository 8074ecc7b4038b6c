// A small residual CNN written from scratch with graphgrad's public builders (no zoo model),
// trained on Fashion-MNIST with the library's training harness, then evaluated from its
// checkpoint in a fresh graph, the way a user deploys it.
//
//   train_custom_model [--epochs N] [--limit-train N] [--limit-test N] [--data DIR] [--checkpoint FILE]
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>
#include <graphgrad/graphgrad.h>

namespace {

// conv 3x3 (no bias) → batch norm → ReLU, parameters named like a PyTorch module's.
gg::Value conv_bn_relu(gg::Value x, int64_t out, int64_t stride, const std::string& name) {
    gg::Graph& g = *x.graph;
    gg::NameScope scope(g, name);
    gg::Value w = g.parameter("conv.weight", {out, x.dim(1), 3, 3}, gg::init::kaiming_uniform());
    gg::Value y = gg::conv2d(x, w, std::nullopt, {.stride = {stride, stride}, .padding = gg::pad_all(1)});
    return gg::batch_norm(y, "bn", {.relu = true});
}

// Two convolutions with an identity shortcut: y = relu(x + f(x)).
gg::Value residual(gg::Value x, const std::string& name) {
    gg::Graph& g = *x.graph;
    gg::Value h = conv_bn_relu(x, x.dim(1), 1, name + ".a");
    gg::NameScope scope(g, name + ".b");
    gg::Value w = g.parameter("conv.weight", {x.dim(1), x.dim(1), 3, 3}, gg::init::kaiming_uniform());
    gg::Value f = gg::batch_norm(gg::conv2d(h, w, std::nullopt, {.padding = gg::pad_all(1)}), "bn");
    return gg::relu(x + f);
}

// 28x28 → 24 channels → residual → 48 channels at 14x14 → residual → global pooling → linear.
gg::Value tiny_resnet(gg::Value x, int64_t classes) {
    gg::Value h = conv_bn_relu(x, 24, 1, "stem");
    h = residual(h, "block1");
    h = conv_bn_relu(h, 48, 2, "down");
    h = residual(h, "block2");
    h = gg::global_avg_pool2d(h);                      // [N, 48, 1, 1]
    h = gg::reshape(h, {h.dim(0), h.dim(1)});
    gg::Graph& g = *x.graph;
    gg::Value w = g.parameter("fc.weight", {h.dim(1), classes}, gg::init::xavier_uniform());
    gg::Value b = g.parameter("fc.bias", {classes}, gg::init::zeros());
    return gg::matmul(h, w) + b;
}

}  // namespace

int main(int argc, char** argv) {
    int64_t epochs = 2, limit_train = 0, limit_test = 0, batch = 128;
    std::string data = gg::io::kFashionMnistDir, checkpoint = "tiny_resnet.safetensors";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--epochs")) epochs = std::atoll(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--limit-train")) limit_train = std::atoll(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--limit-test")) limit_test = std::atoll(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--data")) data = argv[i + 1];
        else if (!std::strcmp(argv[i], "--checkpoint")) checkpoint = argv[i + 1];
        else {
            fmt::print(stderr, "unknown option {}\n", argv[i]);
            return 2;
        }
    }
    try {
        fmt::print("graphgrad {}\n", gg::version());
        gg::io::ImageFolder folder = gg::io::load_image_folder(data);
        const gg::io::ImageDataset train = gg::train::take_first(folder.train, limit_train);
        const gg::io::ImageDataset test = gg::train::take_first(folder.test, limit_test);

        auto p = gg::train::build_classifier_program(tiny_resnet, batch, {1, train.rows, train.cols}, /*seed=*/7,
                                                     /*with_grads=*/true);
        gg::optim::Adam opt(*p->graph, p->params, {.lr = 2e-3});
        gg::optim::CosineAnnealingLR schedule(opt, {.t_max = epochs});
        gg::train::TrainReport report = gg::train::train_classifier(
            *p, train, test, opt, &schedule,
            {.trainer = {.epochs = epochs, .checkpoint = checkpoint, .metadata = {{"model", "tiny_resnet"}}},
             .batch = batch,
             .augment = gg::io::Augmentations::parse("crop")});
        fmt::print("trained: test accuracy {:.2f}% after {} epochs, {} parameters, {:.2f} ms/step\n",
                   100 * report.final_eval.metric, epochs, p->num_parameters(), report.ms_per_step);

        // Deploy: a fresh inference graph, the checkpoint's weights and its recorded normalisation.
        auto fresh = gg::train::build_classifier_program(tiny_resnet, 256, {1, train.rows, train.cols}, 1, false);
        gg::io::Metadata meta = gg::io::load_checkpoint(fresh->graph->store(), checkpoint);
        gg::CompiledGraph eval = gg::compile(*fresh->graph, {fresh->logits});
        gg::train::EvalResult e =
            gg::train::evaluate_classifier(eval, *fresh, test, *gg::train::recorded_normalization(meta));
        fmt::print("reloaded: test accuracy {:.2f}% ({} images)\n", 100 * e.metric, e.samples);
        if (std::abs(e.metric - report.final_eval.metric) > 1e-9) {
            fmt::print(stderr, "the reloaded model disagrees with the trained one\n");
            return 1;
        }
    } catch (const gg::Error& e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return 1;
    }
    return 0;
}
