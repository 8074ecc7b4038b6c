// `graphgrad sample --checkpoint F`: text from a character-level language model checkpoint
// (`graphgrad train char_lstm --checkpoint F`), which records the model and its vocabulary.
//
//   graphgrad sample --checkpoint lstm.safetensors --prime "And God said" --temperature 0.8 --length 300
#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/io/vocabulary.h"
#include "graphgrad/train/language_model.h"
#include "graphgrad/train/language_model_io.h"

namespace gg::cli {
namespace {

struct SampleCliOptions {
    std::string checkpoint;
    SampleOptions sample;
    bool json = false;
};

int run_sample(const SampleCliOptions& o) {
    const LoadedLanguageModel lm = load_char_model(o.checkpoint, 1, 1);
    // Text needs the vocabulary (weights alone, e.g. from `graphgrad logits --save-weights`, cannot say which
    // character an id is).
    const io::Vocabulary vocab = lm.vocab ? *lm.vocab : io::vocabulary_from_metadata(lm.metadata, o.checkpoint);
    const std::string text = sample_text(*lm.program, vocab, o.sample);
    if (o.json) {
        print_json({{"model", lm.model}, {"checkpoint", o.checkpoint}, {"temperature", o.sample.temperature},
                    {"seed", o.sample.seed}, {"text", text}});
        return 0;
    }
    fmt::print("{}\n", text);
    return 0;
}

}  // namespace

Command add_sample_command(CLI::App& app) {
    auto o = std::make_shared<SampleCliOptions>();
    CLI::App* sub = app.add_subcommand("sample", "Generate text from a language-model checkpoint (train char_lstm)");
    sub->add_option("--checkpoint", o->checkpoint, "safetensors checkpoint of char_lstm/char_gru/char_rnn")->required();
    sub->add_option("--prime", o->sample.prime, "Text fed before sampling starts");
    sub->add_option("--length", o->sample.length, "Characters to generate")->capture_default_str();
    sub->add_option("--temperature", o->sample.temperature, "Softmax temperature (lower: more conservative)")
        ->capture_default_str();
    sub->add_option("--seed", o->sample.seed, "Seed of the draws")->capture_default_str();
    sub->add_flag("--json", o->json, "Print JSON");
    return {sub, [o] { return run_sample(*o); }};
}

}  // namespace gg::cli
