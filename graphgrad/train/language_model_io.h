// Language-model checkpoints as other programs use them: rebuild a model from a checkpoint
// alone, check that a checkpoint fits a new run before training starts from its weights, and
// a model's outputs for a batch of token ids: the logits at every step and the final states,
// which is what another framework compares (`graphgrad logits char_lstm`,
// tools/compare/char_lstm.py).
//
//   auto lm = gg::train::load_char_model("lstm.safetensors", /*window=*/100, /*batch=*/4);
//   gg::train::SequenceOutputs out = gg::train::sequence_outputs(*lm.program, tokens);  // i64 [100, 4]
//   // out.logits f32 [100, 4, V]; out.h_n [layers, 4, H]; out.c_n (LSTM only)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "graphgrad/graph/tensor.h"
#include "graphgrad/io/safetensors.h"
#include "graphgrad/io/vocabulary.h"
#include "graphgrad/train/language_model.h"

namespace gg::train {

struct LoadedLanguageModel {
    std::unique_ptr<LanguageModelProgram> program;  // built without gradients
    std::string model;                              // "char_lstm", "char_gru" or "char_rnn"
    std::optional<io::Vocabulary> vocab;            // when the checkpoint records one
    io::Metadata metadata;
};

// The model `path` records (metadata "model" and "lm.*", see record_char_model), for windows
// of `window` steps in `batch` streams, with the file's weights; the vocabulary size is the
// file's "embedding.weight" rows (and must equal a recorded vocabulary's size). A training
// checkpoint's optimizer state is skipped. DataError when the file is not a language-model
// checkpoint or does not fit the model it records.
LoadedLanguageModel load_char_model(const std::string& path, int64_t window, int64_t batch);

// Whether checkpoint `path` (its metadata `meta`) can start a run of the model `o` on a
// corpus with vocabulary `vocab`: the checkpoint must record exactly that vocabulary (ids mean
// the same characters) and the same cell, embedding, hidden and layers. Dropout may differ:
// it changes how the weights train, not what they mean. DataError naming the first difference.
void check_init_checkpoint(const io::Metadata& meta, const std::string& path, const CharModelOptions& o,
                           const io::Vocabulary& vocab);

struct SequenceOutputs {
    Tensor logits;              // f32 [T, B, V]: nn.Linear over nn.LSTM's time-major outputs
    Tensor h_n;                 // f32 [layers, B, H]
    std::optional<Tensor> c_n;  // LSTM only
};

// p's forward in evaluation mode (no dropout) over tokens i64 [p.window, p.batch] with ids in
// [0, p.vocab), from initial states h0 (and c0 for the LSTM) f32 [layers, B, H], zeros when
// absent. OptionError naming the tensor on a wrong shape, dtype or id.
SequenceOutputs sequence_outputs(const LanguageModelProgram& p, const Tensor& tokens,
                                 const std::optional<Tensor>& h0 = std::nullopt,
                                 const std::optional<Tensor>& c0 = std::nullopt);

}  // namespace gg::train
