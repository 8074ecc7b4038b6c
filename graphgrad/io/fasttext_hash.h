// fastText's hash of a token or character n-gram: 32-bit FNV-1a over the bytes, each byte
// sign-extended first as fastText's dictionary does (so bytes ≥ 0x80, i.e. UTF-8 beyond ASCII,
// hash as fastText's do). Subword buckets (train/word2vec.h) and the classifier's word
// n-gram buckets (models/text_classifiers.h) both start from it.
//
//   uint32_t h = gg::io::fasttext_hash("<king>");   // bucket: h % buckets
#pragma once

#include <cstdint>
#include <string_view>

namespace gg::io {

inline uint32_t fasttext_hash(std::string_view s) {
    uint32_t h = 2166136261u;  // FNV-1a 32: offset basis, then xor and multiply per byte
    for (char c : s) {
        h ^= static_cast<uint32_t>(static_cast<int8_t>(c));
        h *= 16777619u;
    }
    return h;
}

}  // namespace gg::io
