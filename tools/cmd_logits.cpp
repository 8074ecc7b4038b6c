// `graphgrad logits MODEL`: the evaluation program's logits for a batch read from a
// safetensors file, so another framework can check it computes the same function from the
// same weights (tools/compare/lenet_roundtrip.py does this with PyTorch, in both directions).
//
//   # PyTorch weights → graphgrad:
//   graphgrad logits lenet5 --batch-file x.safetensors --output z.safetensors --checkpoint torch.safetensors
//   # graphgrad weights → PyTorch:
//   graphgrad logits lenet5 --batch-file x.safetensors --output z.safetensors --seed 3 --save-weights gg.safetensors
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/io/checkpoint.h"
#include "graphgrad/io/safetensors.h"
#include "graphgrad/train/model_program.h"
#include "graphgrad/ops/ops.h"

namespace gg::cli {
namespace {

struct LogitsOptions {
    std::string model;
    std::string batch_file;  // safetensors with "x": f32 [B, C, H, W]
    std::string output;      // safetensors with "logits": f32 [B, classes]
    std::string checkpoint;  // empty: freshly initialised weights (from --seed)
    std::string save_weights;
    uint64_t seed = 1;
    int64_t num_classes = 10;
    bool json = false;
};

int run_logits(const LogitsOptions& o) {
    io::SafetensorsFile in = io::SafetensorsFile::open(o.batch_file);
    if (!in.contains("x")) throw UsageError(fmt::format("--batch-file {}: no tensor named \"x\"", o.batch_file));
    Tensor x = in.tensor("x");
    if (x.dtype() != DType::F32 || x.shape().size() != 4)
        throw UsageError(fmt::format("--batch-file {}: \"x\" is {}, expected f32[B,C,H,W]", o.batch_file, x.desc()));
    const Shape& s = x.shape();
    auto p = build_model_program(o.model, s[0], {s[1], s[2], s[3]}, o.seed, /*with_grads=*/false, o.num_classes);
    if (!o.checkpoint.empty())
        io::load_checkpoint(p->graph->store(), o.checkpoint, {.allow_missing_optimizer_state = true});
    if (!o.save_weights.empty())  // a plain state_dict: what torch's load_state_dict expects
        io::save_checkpoint(p->graph->store(), o.save_weights, {{"model", o.model}}, /*include_optimizer_state=*/false);

    CompiledGraph eval = compile(*p->graph, {p->logits});  // evaluation mode: running statistics
    Tensor logits = eval.run({{p->x, x}})[0].clone();
    if (!o.output.empty()) io::save_safetensors(o.output, {{"logits", logits}}, {{"model", o.model}});

    if (o.json) {
        nlohmann::json rows = nlohmann::json::array();
        const int64_t classes = logits.shape()[1];
        for (int64_t r = 0; r < logits.shape()[0]; ++r) {
            std::vector<float> row(logits.data<float>() + r * classes, logits.data<float>() + (r + 1) * classes);
            rows.push_back(row);
        }
        print_json({{"model", o.model}, {"batch", s[0]}, {"logits", rows}});
        return 0;
    }
    fmt::print("{}: logits {} for {} from {} weights{}{}\n", o.model, logits.desc(), o.batch_file,
               o.checkpoint.empty() ? fmt::format("fresh (seed {})", o.seed) : o.checkpoint,
               o.output.empty() ? "" : fmt::format(", written to {}", o.output),
               o.save_weights.empty() ? "" : fmt::format("; weights saved to {}", o.save_weights));
    return 0;
}

}  // namespace

Command add_logits_command(CLI::App& app) {
    auto o = std::make_shared<LogitsOptions>();
    CLI::App* sub = app.add_subcommand("logits", "Logits of a model for a batch in a safetensors file (cross-checks)");
    sub->add_option("model", o->model, "Model name, e.g. lenet5")->required();
    sub->add_option("--batch-file", o->batch_file, "safetensors file holding \"x\", f32 [B,C,H,W]")->required();
    sub->add_option("--output", o->output, "Write {\"logits\": f32 [B,classes]} here (safetensors)");
    sub->add_option("--checkpoint", o->checkpoint, "Load these weights (graphgrad or PyTorch state_dict names)");
    sub->add_option("--seed", o->seed, "Seed of the initial weights when no --checkpoint")->capture_default_str();
    sub->add_option("--save-weights", o->save_weights, "Save the weights used as a weights-only checkpoint");
    sub->add_option("--classes", o->num_classes, "Number of classes")->capture_default_str();
    sub->add_flag("--json", o->json, "Print the logits as JSON");
    return {sub, [o] { return run_logits(*o); }};
}

}  // namespace gg::cli
