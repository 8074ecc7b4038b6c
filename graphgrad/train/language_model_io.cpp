#include "graphgrad/train/language_model_io.h"

#include <cstring>

#include <fmt/format.h>

#include "graphgrad/graph/executor.h"
#include "graphgrad/io/checkpoint.h"

namespace gg::train {

namespace {

// A deep copy of `t` with another shape of the same element count (a fetched result is a view
// into the arena, valid only until the next run).
Tensor copy_as(const Tensor& t, Shape shape) {
    Tensor out(TensorDesc{std::move(shape), t.dtype()});
    std::memcpy(out.raw(), t.raw(), t.bytes());
    return out;
}

// A given initial state, checked against the program's input, or zeros.
Tensor initial_state(const std::optional<Tensor>& given, const std::optional<Value>& input, const char* name,
                     const LanguageModelProgram& p) {
    if (!input) {
        if (given)
            throw OptionError(fmt::format("sequence outputs: {} given, but a {} cell has no cell state", name,
                                          rnn_cell_name(p.options.cell)));
        return {};
    }
    if (!given) return Tensor::zeros(input->shape(), input->dtype());
    if (given->desc() != input->desc())
        throw OptionError(fmt::format("sequence outputs: {} is {}, the model's state is {} [layers, batch, hidden]",
                                      name, given->desc(), input->desc()));
    return *given;
}

}  // namespace

LoadedLanguageModel load_char_model(const std::string& path, int64_t window, int64_t batch) {
    const io::SafetensorsFile file = io::SafetensorsFile::open(path);
    LoadedLanguageModel lm;
    lm.metadata = file.metadata();
    auto [model, options] = recorded_char_model(lm.metadata, path);
    lm.model = model;
    if (lm.metadata.count(io::kVocabularyKey)) lm.vocab = io::vocabulary_from_metadata(lm.metadata, path);
    auto table = file.entries().find("embedding.weight");
    if (table == file.entries().end() || table->second.shape.size() != 2)
        throw io::DataError(fmt::format("{}: a language-model checkpoint needs \"embedding.weight\" [vocabulary, "
                                        "embedding]",
                                        path));
    const int64_t vocab = table->second.shape[0];
    if (lm.vocab && lm.vocab->size() != vocab)
        throw io::DataError(fmt::format("{}: the recorded vocabulary has {} tokens but embedding.weight has {} rows",
                                        path, lm.vocab->size(), vocab));
    lm.program = build_char_model(options, vocab, window, batch, /*seed=*/0, /*with_grads=*/false);
    io::load_checkpoint(lm.program->graph->store(), path, {.weights_only = true});
    return lm;
}

void check_init_checkpoint(const io::Metadata& meta, const std::string& path, const CharModelOptions& o,
                           const io::Vocabulary& vocab) {
    const CharModelOptions theirs = recorded_char_model(meta, path).second;
    auto same = [&](const char* what, const std::string& file, const std::string& run) {
        if (file != run)
            throw io::DataError(fmt::format("{}: the checkpoint's model has {} {}, this run's has {} (training can "
                                            "start only from the weights of the same architecture)",
                                            path, what, file, run));
    };
    same("cell", rnn_cell_name(theirs.cell), rnn_cell_name(o.cell));
    same("embedding", std::to_string(theirs.embedding), std::to_string(o.embedding));
    same("hidden", std::to_string(theirs.hidden), std::to_string(o.hidden));
    same("layers", std::to_string(theirs.layers), std::to_string(o.layers));
    io::check_vocabulary(meta, vocab, path);
}

SequenceOutputs sequence_outputs(const LanguageModelProgram& p, const Tensor& tokens, const std::optional<Tensor>& h0,
                                 const std::optional<Tensor>& c0) {
    if (tokens.desc() != p.tokens.desc())
        throw OptionError(fmt::format("sequence outputs: tokens are {}, the model was built for {} [steps, streams]",
                                      tokens.desc(), p.tokens.desc()));
    const int64_t* ids = tokens.data<int64_t>();
    for (int64_t i = 0; i < tokens.numel(); ++i)
        if (ids[i] < 0 || ids[i] >= p.vocab)
            throw OptionError(fmt::format("sequence outputs: tokens[{}, {}] = {} is outside the vocabulary [0, {})",
                                          i / p.batch, i % p.batch, ids[i], p.vocab));
    Feeds feeds{{p.tokens, tokens}, {*p.initial.h, initial_state(h0, p.initial.h, "h0", p)}};
    std::vector<Value> fetches{p.logits, *p.final.h};
    if (Tensor c = initial_state(c0, p.initial.c, "c0", p); p.initial.c) {
        feeds.emplace_back(*p.initial.c, c);
        fetches.push_back(*p.final.c);
    }
    // Only what the fetches reach is compiled: the loss and its targets are not part of it.
    CompiledGraph eval = compile(*p.graph, fetches, {.training = false});
    const std::vector<Tensor> out = eval.run(feeds);
    SequenceOutputs r{.logits = copy_as(out[0], {p.window, p.batch, p.vocab}), .h_n = out[1].clone(), .c_n = {}};
    if (p.initial.c) r.c_n = out[2].clone();
    return r;
}

}  // namespace gg::train
