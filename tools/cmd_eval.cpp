// `graphgrad eval MODEL --checkpoint PATH`: test loss and accuracy of saved weights, with the
// evaluation program (batch norm on running statistics). The checkpoint may come from
// `graphgrad train` or from PyTorch (a state_dict saved as safetensors with the same names).
//
//   graphgrad eval lenet5 --checkpoint lenet.safetensors
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/io/checkpoint.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/io/safetensors.h"
#include "graphgrad/train/class_subset.h"
#include "graphgrad/train/classification.h"

namespace gg::cli {
namespace {

struct EvalOptions {
    std::string model, checkpoint;
    std::string data = io::kFashionMnistDir;
    int64_t batch = 256;
    int64_t limit_test = 0;
    std::optional<float> mean, std;
    bool json = false;
};

int run_eval(const EvalOptions& o) {
    find_zoo_model(o.model);  // a usage error before any file is read
    io::ImageFolder folder = io::load_image_folder(o.data);
    io::ImageDataset test = folder.test;
    // A model trained on a subset of the classes (--class-subset) records it: evaluate on the
    // same classes, relabelled the same way, with a head of that size.
    const io::Metadata recorded = io::SafetensorsFile::open(o.checkpoint).metadata();
    std::string subset;
    if (auto it = recorded.find("classes"); it != recorded.end()) {
        subset = it->second;
        test = select_classes(test, parse_class_list(subset, test.num_classes));
    }
    test = take_first(test, o.limit_test);
    auto p = build_model_program(o.model, o.batch, {1, test.rows, test.cols}, 0, /*with_grads=*/false,
                                 test.num_classes);
    // Optimizer state is irrelevant here: a weights-only file (e.g. from PyTorch) is fine.
    io::Metadata meta = io::load_checkpoint(p->graph->store(), o.checkpoint, {.allow_missing_optimizer_state = true});
    // Normalise as training did: the checkpoint records it (graphgrad's); a file without it (a
    // PyTorch state_dict) is taken to expect Fashion-MNIST's statistics unless told otherwise.
    if (o.mean.has_value() != o.std.has_value()) throw UsageError("--mean and --std go together");
    io::PixelStats norm;
    std::string norm_source = "Fashion-MNIST's statistics (the checkpoint records none)";
    if (o.mean) {
        norm = {*o.mean, *o.std};
        norm_source = "--mean/--std";
    } else if (auto recorded = recorded_normalization(meta, o.checkpoint)) {
        norm = *recorded;
        norm_source = "the checkpoint's";
    }
    CompiledGraph eval = compile(*p->graph, {p->logits});
    EvalResult r = evaluate_classifier(eval, *p, test, norm);

    const std::optional<int64_t> epoch_done = io::metadata_int(meta, "epoch", o.checkpoint);
    const std::string epoch = epoch_done ? std::to_string(*epoch_done) : "";
    if (o.json) {
        print_json({{"model", o.model},
                    {"checkpoint", o.checkpoint},
                    {"epoch", epoch.empty() ? nlohmann::json(nullptr) : nlohmann::json(*epoch_done)},
                    {"test_size", r.samples},
                    {"test_loss", r.loss},
                    {"test_accuracy", r.metric},
                    {"normalize", {{"mean", norm.mean}, {"std", norm.std}}},
                    {"seconds", r.seconds},
                    {"eval_peak_bytes", eval.peak_bytes()}});
        return 0;
    }
    fmt::print("{} from {}{}: test loss {:.4f}, accuracy {:.2f}% on {} images ({:.1f} s); normalised with mean {:.4f} "
               "std {:.4f}, {}\n",
               o.model, o.checkpoint, epoch.empty() ? "" : fmt::format(" (epoch {})", epoch), r.loss, 100 * r.metric,
               r.samples, r.seconds, norm.mean, norm.std, norm_source);
    return 0;
}

}  // namespace

Command add_eval_command(CLI::App& app) {
    auto o = std::make_shared<EvalOptions>();
    CLI::App* sub = app.add_subcommand("eval", "Test loss and accuracy of a checkpoint");
    sub->add_option("model", o->model, "Model name, e.g. lenet5")->required();
    sub->add_option("--checkpoint", o->checkpoint, "safetensors checkpoint (graphgrad or PyTorch names)")->required();
    sub->add_option("--data", o->data, "Folder with the four IDX files (plain or .gz)")->capture_default_str();
    sub->add_option("--batch", o->batch, "Evaluation batch size")->capture_default_str();
    sub->add_option("--limit-test", o->limit_test, "Evaluate on only the first N test images");
    sub->add_option("--mean", o->mean, "Normalisation mean (default: the checkpoint's, else Fashion-MNIST's)");
    sub->add_option("--std", o->std, "Normalisation standard deviation (with --mean)");
    sub->add_flag("--json", o->json, "Print JSON");
    return {sub, [o] { return run_eval(*o); }};
}

}  // namespace gg::cli
