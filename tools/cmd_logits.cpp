// `graphgrad logits MODEL`: the evaluation program's outputs for a batch read from a
// safetensors file, so another framework can check it computes the same function from the
// same weights (tools/compare/lenet_roundtrip.py and char_lstm.py do this with PyTorch, in
// both directions). One command for both kinds of model, chosen by the name: image
// classifiers read "x" f32 [B, C, H, W] and write "logits" [B, classes]; language models
// (char_lstm, char_gru, char_rnn) read "tokens" i64 [T, B] and optional initial states "h0"
// ("c0") f32 [layers, B, H] and write "logits" f32 [T, B, V] (nn.Linear over nn.LSTM's
// time-major outputs) and the final states "h_n" ("c_n").
//
//   # PyTorch weights → graphgrad:
//   graphgrad logits lenet5 --batch-file x.safetensors --output z.safetensors --checkpoint torch.safetensors
//   # graphgrad weights → PyTorch:
//   graphgrad logits lenet5 --batch-file x.safetensors --output z.safetensors --seed 3 --save-weights gg.safetensors
//   graphgrad logits char_lstm --batch-file tokens.safetensors --output out.safetensors --checkpoint lstm.safetensors
//   graphgrad logits char_gru --batch-file tokens.safetensors --vocab-size 98 --hidden 64 --save-weights w.safetensors
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/io/checkpoint.h"
#include "graphgrad/io/safetensors.h"
#include "graphgrad/train/language_model_io.h"
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
    // Language models' fresh weights (a checkpoint records its own architecture).
    int64_t vocab_size = 0, embedding = 64, hidden = 256, layers = 2;
    bool given_architecture = false;
};

// A float tensor as nested JSON arrays, innermost the last dimension.
nlohmann::json nested(const Tensor& t, std::size_t dim = 0, int64_t offset = 0) {
    const Shape& s = t.shape();
    nlohmann::json a = nlohmann::json::array();
    int64_t stride = 1;
    for (std::size_t d = dim + 1; d < s.size(); ++d) stride *= s[d];
    for (int64_t i = 0; i < s[dim]; ++i)
        a.push_back(dim + 1 == s.size() ? nlohmann::json(t.get(offset + i)) : nested(t, dim + 1, offset + i * stride));
    return a;
}

std::optional<Tensor> optional_tensor(const io::SafetensorsFile& in, const std::string& name) {
    if (!in.contains(name)) return std::nullopt;
    return in.tensor(name);
}

int run_sequence_logits(const LogitsOptions& o) {
    io::SafetensorsFile in = io::SafetensorsFile::open(o.batch_file);
    if (!in.contains("tokens"))
        throw UsageError(fmt::format("--batch-file {}: no tensor named \"tokens\" (i64 [steps, streams])", o.batch_file));
    const Tensor tokens = in.tensor("tokens");
    if (tokens.dtype() != DType::I64 || tokens.shape().size() != 2)
        throw UsageError(fmt::format("--batch-file {}: \"tokens\" is {}, expected i64[steps,streams]", o.batch_file,
                                     tokens.desc()));
    const int64_t steps = tokens.shape()[0], streams = tokens.shape()[1];
    std::unique_ptr<LanguageModelProgram> p;
    if (!o.checkpoint.empty()) {
        if (o.given_architecture)
            throw UsageError(fmt::format("--vocab-size, --embedding, --hidden and --layers describe fresh weights; "
                                         "--checkpoint {} records its own",
                                         o.checkpoint));
        LoadedLanguageModel lm = load_char_model(o.checkpoint, steps, streams);
        if (lm.model != o.model)
            throw io::DataError(fmt::format("{}: a {} checkpoint, not {}", o.checkpoint, lm.model, o.model));
        p = std::move(lm.program);
    } else {
        if (o.vocab_size < 2) throw UsageError("fresh weights of a language model need --vocab-size (at least 2)");
        CharModelOptions mo = language_model_options(o.model);
        mo.embedding = o.embedding;
        mo.hidden = o.hidden;
        mo.layers = o.layers;
        p = build_char_model(mo, o.vocab_size, steps, streams, o.seed, /*with_grads=*/false);
    }
    if (!o.save_weights.empty()) {  // weights and architecture: logits --checkpoint and train --init read it
        io::Metadata meta;
        record_char_model(meta, o.model, p->options);
        io::save_checkpoint(p->graph->store(), o.save_weights, meta, /*include_optimizer_state=*/false);
    }
    const SequenceOutputs out = sequence_outputs(*p, tokens, optional_tensor(in, "h0"), optional_tensor(in, "c0"));
    io::TensorMap results{{"logits", out.logits}, {"h_n", out.h_n}};
    if (out.c_n) results.emplace("c_n", *out.c_n);
    if (!o.output.empty()) io::save_safetensors(o.output, results, {{"model", o.model}});

    if (o.json) {
        nlohmann::json j{{"model", o.model}, {"steps", steps}, {"streams", streams}, {"vocabulary", p->vocab}};
        for (const auto& [name, t] : results) j[name] = nested(t);
        print_json(j);
        return 0;
    }
    fmt::print("{}: logits {}, h_n {}{} for {} from {} weights{}{}\n", o.model, out.logits.desc(), out.h_n.desc(),
               out.c_n ? fmt::format(", c_n {}", out.c_n->desc()) : "", o.batch_file,
               o.checkpoint.empty() ? fmt::format("fresh (seed {})", o.seed) : o.checkpoint,
               o.output.empty() ? "" : fmt::format(", written to {}", o.output),
               o.save_weights.empty() ? "" : fmt::format("; weights saved to {}", o.save_weights));
    return 0;
}

int run_logits(const LogitsOptions& o) {
    if (is_language_model(o.model)) return run_sequence_logits(o);
    if (o.given_architecture)
        throw UsageError("--vocab-size, --embedding, --hidden and --layers apply to language models only");
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
    sub->add_option("model", o->model, "Model name, e.g. lenet5, or a language model: char_lstm, char_gru, char_rnn")
        ->required();
    sub->add_option("--batch-file", o->batch_file,
                    "safetensors file holding \"x\" f32 [B,C,H,W]; language models: \"tokens\" i64 [T,B] and "
                    "optional initial states \"h0\" (\"c0\") f32 [layers,B,hidden]")
        ->required();
    sub->add_option("--output", o->output,
                    "Write {\"logits\": f32 [B,classes]} here (safetensors); language models: \"logits\" f32 "
                    "[T,B,V] and final states \"h_n\" (\"c_n\")");
    sub->add_option("--checkpoint", o->checkpoint, "Load these weights (graphgrad or PyTorch state_dict names)");
    sub->add_option("--seed", o->seed, "Seed of the initial weights when no --checkpoint")->capture_default_str();
    sub->add_option("--save-weights", o->save_weights, "Save the weights used as a weights-only checkpoint");
    sub->add_option("--classes", o->num_classes, "Number of classes")->capture_default_str();
    sub->add_option("--vocab-size", o->vocab_size, "Language models, fresh weights: vocabulary size");
    sub->add_option("--embedding", o->embedding, "Language models, fresh weights: embedding width")->capture_default_str();
    sub->add_option("--hidden", o->hidden, "Language models, fresh weights: state width")->capture_default_str();
    sub->add_option("--layers", o->layers, "Language models, fresh weights: recurrent layers")->capture_default_str();
    sub->add_flag("--json", o->json, "Print the logits (and final states) as JSON");
    return {sub, [o, sub] {
                o->given_architecture = sub->count("--vocab-size") + sub->count("--embedding") +
                                            sub->count("--hidden") + sub->count("--layers") >
                                        0;
                return run_logits(*o);
            }};
}

}  // namespace gg::cli
