// A text file as `graphgrad train char_lstm --text F` reads it (strict UTF-8, character or
// word vocabulary, contiguous splits), and the same bytes as the vocabulary JSON a language
// model's checkpoint records and a resume trusts. Whatever is returned must be consistent:
// every id inside the vocabulary, the splits adding up to the token count.
#include <cstdlib>
#include <string_view>

#include "fuzz_util.h"
#include "graphgrad/io/text_corpus.h"
#include "graphgrad/io/vocabulary.h"

namespace {

void check_ids(const std::vector<int64_t>& ids, int64_t vocab_size) {
    for (int64_t id : ids)
        if (id < 0 || id >= vocab_size) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    gg::fuzz::MemFile f(data, size);
    // The level comes from the input too, so both vocabularies are fuzzed.
    gg::io::TextCorpusOptions o;
    o.level = size > 0 && data[0] % 2 ? gg::io::CorpusLevel::Word : gg::io::CorpusLevel::Char;
    gg::fuzz::expect_only_gg_errors([&] {
        const gg::io::TextCorpus c = gg::io::load_text_corpus(f.path(), o);
        const auto& s = c.splits;
        if (static_cast<int64_t>(s.train.size() + s.valid.size() + s.test.size()) != c.tokens) std::abort();
        for (const auto* part : {&s.train, &s.valid, &s.test}) check_ids(*part, c.vocab.size());
    });
    // Bytes that open like a JSON object are also read as a checkpoint's vocabulary (the
    // regression test replays findings the same way).
    if (size == 0 || data[0] != '{') return 0;
    gg::fuzz::expect_only_gg_errors([&] {
        const std::string_view json(reinterpret_cast<const char*>(data), size);
        const gg::io::Vocabulary v = gg::io::Vocabulary::from_json(json, "fuzz input");
        if (v.size() < 0) std::abort();
    });
    return 0;
}
