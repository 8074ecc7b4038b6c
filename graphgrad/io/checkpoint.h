// Checkpoints: a ParameterStore (parameters, batch-norm statistics, optimizer state named
// "optim.<param>.<slot>") saved as a safetensors file with metadata such as the epoch.
// Names and shapes are the store's, which follow PyTorch's state_dict convention, so the
// file loads into the equivalent PyTorch module (safetensors.torch.load_file) and back.
//
//   gg::io::save_checkpoint(g.store(), "lenet.safetensors", {{"epoch", "3"}});
//   auto meta = gg::io::load_checkpoint(g.store(), "lenet.safetensors");
//   int64_t epoch = gg::io::metadata_int(meta, "epoch", "lenet.safetensors").value_or(0);
//
// Saving is atomic (see write_file_atomic): a crash mid-save leaves the previous checkpoint.
// Loading validates everything before it copies anything, so a rejected file leaves the
// store untouched, and it copies into the existing tensors (compiled graphs hold pointers
// to their data, so the Tensor objects must never be replaced).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "graphgrad/graph/graph.h"
#include "graphgrad/io/safetensors.h"

namespace gg::io {

inline constexpr const char* kCheckpointFormat = "graphgrad-1";

// Writes every store entry plus metadata; "format" is set to kCheckpointFormat. Without
// optimizer state the file is a plain state_dict (what PyTorch's load_state_dict expects).
void save_checkpoint(const ParameterStore& store, const std::string& path, const Metadata& metadata = {},
                     bool include_optimizer_state = true);

struct CheckpointLoadOptions {
    // Accept a file without some or all of the store's "optim.*" entries (e.g. weights
    // exported from PyTorch); those entries keep their current values.
    bool allow_missing_optimizer_state = false;
    // Optimizers create their state lazily on the first step, so a fresh store has no
    // "optim.*" entries yet when resuming: add the file's ones to the store (not trainable),
    // where the optimizer will find and continue from them.
    bool create_optimizer_state = true;
    // Skip file entries the store does not have instead of rejecting the file.
    bool ignore_unexpected = false;
    // Model state only (parameters and buffers such as batch-norm statistics): the file's
    // "optim.*" entries are skipped and the store's are neither required nor touched. A new
    // run that starts from trained weights (`graphgrad train --init`) loads this way.
    bool weights_only = false;
    // Store entries to leave as they are (a replaced classifier head keeps its fresh
    // initialisation): not read from the file, whose entries of these names may have any shape
    // or be absent. Each must be in the store. Every other entry is still checked.
    std::vector<std::string> keep;
};

// Typed reads of metadata a resume trusts: nullopt when the key is absent; a DataError naming
// `source`, the key and the text when it is present but not a number in [min, max] (a
// corrupted or hand-edited checkpoint must not become "internal error" or a silent NaN).
std::optional<int64_t> metadata_int(const Metadata& meta, const std::string& key, const std::string& source,
                                    int64_t min = 0, int64_t max = INT64_MAX);
std::optional<double> metadata_double(const Metadata& meta, const std::string& key, const std::string& source,
                                      double min = -1e308, double max = 1e308);

// Loads `path` into `store` and returns the file's metadata. Missing or unexpected names and
// shape or dtype mismatches throw one DataError listing every offending name.
Metadata load_checkpoint(ParameterStore& store, const std::string& path, const CheckpointLoadOptions& options = {});

}  // namespace gg::io
