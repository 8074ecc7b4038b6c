// A word-vector file as `graphgrad neighbors --embeddings F.vec` and the text CNN's pretrained
// embeddings read it (word2vec text format, io/word_vectors.h). Whatever is returned must be
// consistent: V distinct words, an f32 [V, D] matrix of finite values, and it must survive a
// write/read round trip unchanged.
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "fuzz_util.h"
#include "graphgrad/io/word_vectors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    gg::fuzz::expect_only_gg_errors([&] {
        const gg::io::WordVectors v = gg::io::parse_word_vectors(text, "fuzz input");
        if (v.vectors.shape().size() != 2 || v.vectors.shape()[0] != v.size()) std::abort();
        for (int64_t i = 0; i < v.vectors.numel(); ++i)
            if (!std::isfinite(v.vectors.data<float>()[i])) std::abort();
        for (int64_t i = 0; i < v.size(); ++i)
            if (v.find(v.words[static_cast<std::size_t>(i)]) != i) std::abort();
        const gg::io::WordVectors back = gg::io::parse_word_vectors(gg::io::format_word_vectors(v), "round trip");
        if (back.words != v.words || back.vectors.to_doubles() != v.vectors.to_doubles()) std::abort();
    });
    return 0;
}
