// Helpers shared by text_classification.cpp and fasttext_training.cpp (not installed).
//
//   double acc = accuracy_of(eval, ids_in, ids, labels, data.split.test, padding);
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "graphgrad/graph/executor.h"
#include "graphgrad/io/vocabulary.h"

namespace gg::train {

// labels[rows[r]] into out[r]; rows past rows.size() get kIgnoreIndex.
void fill_labels(const std::vector<int64_t>& labels, std::span<const int64_t> rows, Tensor& out);
// Vocabulary ids of tokens, "<unk>" (0) for unknown ones.
std::vector<int64_t> word_ids(const std::vector<std::string>& tokens, const io::Vocabulary& vocab);
// Top-1 accuracy (and mean cross-entropy into *loss) of a program fetching logits from
// padded ids fed to ids_in, over the texts at `indices`.
double accuracy_of(CompiledGraph& eval, Value ids_in, const std::vector<std::vector<int64_t>>& ids,
                   const std::vector<int64_t>& labels, std::span<const int64_t> indices, int64_t padding,
                   double* loss = nullptr);

}  // namespace gg::train
