// Strict UTF-8 (RFC 3629): validation with the byte offset of the first bad sequence, decoding
// into code points and encoding back. Overlong forms, surrogates (U+D800–U+DFFF), code points
// above U+10FFFF and truncated sequences are invalid.
//
//   gg::io::validate_utf8(text, "kjv.txt");            // DataError "kjv.txt: invalid UTF-8 at byte 17: ..."
//   std::u32string cps = gg::io::decode_utf8(text, "kjv.txt");
//   std::string s = gg::io::encode_utf8(cps);
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace gg::io {

struct Utf8Problem {
    std::size_t offset;  // byte offset of the sequence's first byte
    std::string reason;  // e.g. "byte 0xff cannot start a sequence"
};

// The first invalid sequence of s, if any.
std::optional<Utf8Problem> find_invalid_utf8(std::string_view s);
// Throws DataError "<what>: invalid UTF-8 at byte <offset>: <reason>".
void validate_utf8(std::string_view s, const std::string& what);
// Validates, then decodes.
std::u32string decode_utf8(std::string_view s, const std::string& what);
void append_utf8(std::string& out, char32_t code_point);  // code_point must be valid
std::string encode_utf8(std::u32string_view code_points);

}  // namespace gg::io
