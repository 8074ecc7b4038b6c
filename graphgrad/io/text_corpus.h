// Text corpora for language models: a UTF-8 file → a character or word vocabulary → token
// ids → contiguous train/valid/test splits → batches of B parallel streams cut into windows
// of T steps (Zaremba et al. 2014; PyTorch's word_language_model `batchify` / `get_batch`),
// time-major like the recurrent layers: inputs [T, B] and next-token targets [T, B]. Window
// w + 1 continues window w in every stream, so truncated BPTT carries the final states over.
//
//   auto corpus = gg::io::load_text_corpus(gg::io::ensure_kjv_text());   // the KJV Bible, by character
//   gg::io::StreamBatcher train(corpus.splits.train, /*batch=*/32, /*window=*/100);
//   gg::Tensor in(gg::TensorDesc{{100, 32}, gg::DType::I64}), target(in.desc());
//   for (int64_t w = 0; w < train.num_windows(); ++w) {
//       train.fill(w, in, target);   // feed; carry the final states to the next window
//   }
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "graphgrad/graph/tensor.h"
#include "graphgrad/io/vocabulary.h"

namespace gg::io {

// The whole file, checked: DataError for a missing or unreadable file, an empty one, or
// invalid UTF-8 (naming the file and the byte offset). A leading byte-order mark is dropped.
std::string read_text_file(const std::string& path);

// Contiguous fractions: train is the first `train` of the ids, valid the next `valid`, test
// the rest (0.9 / 0.05 / 0.05 by default). With blocks = B > 1 the ids are first cut into B
// equal blocks and each block is split so; each part is the concatenation of its pieces in
// order. Why: a book-ordered text such as the Bible drifts (law, history, poetry, gospels,
// epistles), so a single contiguous tail measures transfer to its last books (Pauline epistles,
// Revelation) rather than how well the text is modelled; held-out pieces from every stretch
// of the text, like PTB's held-out articles, do not. B = 1 is char-rnn's contiguous split;
// B = 0 (kAutoBlocks) takes one block per 10,000 ids, at least 1 and at most 100.
struct SplitFractions {
    static constexpr int64_t kAutoBlocks = 0;
    double train = 0.9, valid = 0.05;
    int64_t blocks = 1;
};
// The number of blocks a split of `tokens` ids uses (resolves kAutoBlocks).
int64_t split_block_count(std::size_t tokens, const SplitFractions& f);
struct CorpusSplits {
    std::vector<int64_t> train, valid, test;
};
// DataError when a fraction is outside [0, 1], they sum past 1, blocks < 0, or a part with a
// positive fraction would be empty.
CorpusSplits split_contiguous(std::span<const int64_t> ids, const SplitFractions& f = {});

enum class CorpusLevel { Char, Word };
struct TextCorpusOptions {
    CorpusLevel level = CorpusLevel::Char;
    SplitFractions split = {};
    CharVocabOptions chars = {};
    WordVocabOptions words = {};
};
struct TextCorpus {
    std::string path;
    Vocabulary vocab;     // built from the whole text, so valid and test have no unseen tokens
    CorpusSplits splits;
    int64_t tokens = 0;   // ids before splitting
};
TextCorpus load_text_corpus(const std::string& path, const TextCorpusOptions& o = {});
// With a given vocabulary (resuming from a checkpoint): tokens it lacks become "<unk>", or a
// DataError when it has none.
TextCorpus load_text_corpus(const std::string& path, const Vocabulary& vocab, const SplitFractions& split = {});

enum class LastWindow {
    Drop,     // only full windows (a compiled graph has one window length)
    Partial,  // a shorter last window: fill() returns its length and pads the rest with id 0
};

class StreamBatcher {
public:
    // Cuts ids into `batch` contiguous streams of L = ids.size() / batch tokens (the remainder
    // is dropped); window w covers steps [w·T, w·T + T) of every stream, targets one step on.
    StreamBatcher(std::span<const int64_t> ids, int64_t batch, int64_t window, LastWindow last = LastWindow::Drop);

    int64_t batch() const { return batch_; }
    int64_t window() const { return window_; }
    int64_t stream_length() const { return length_; }
    int64_t num_windows() const;
    // Writes window w into i64 [window, batch] tensors; returns its number of valid steps.
    int64_t fill(int64_t w, Tensor& inputs, Tensor& targets) const;
    // Stream b's ids (what a test or a sampler may want to look at).
    std::span<const int64_t> stream(int64_t b) const;

private:
    std::vector<int64_t> data_;  // batch streams back to back
    int64_t batch_, window_, length_;
    LastWindow last_;
};

// The King James Bible as Debian's bible-kjv prints it (`bible "gen1:1-rev22:21"`, 4.3 MB).
inline constexpr const char* kKjvPassage = "gen1:1-rev22:21";
// $XDG_CACHE_HOME/graphgrad/kjv.txt, else $HOME/.cache/graphgrad/kjv.txt, else /tmp/graphgrad/kjv.txt.
std::string default_kjv_path();
// Returns `path`, first writing the text there (atomically) when it is missing or empty.
// DataError when the `bible` program is missing (apt-get install bible-kjv bible-kjv-text)
// or fails.
std::string ensure_kjv_text(const std::string& path = default_kjv_path(), const std::string& program = "bible");

}  // namespace gg::io
