#include "graphgrad/io/utf8.h"

#include <fmt/format.h>

#include "graphgrad/io/data_error.h"

namespace gg::io {

namespace {

// Decodes the sequence at s[i]: its code point and length, or a reason it is invalid.
struct Decoded {
    char32_t cp = 0;
    std::size_t len = 0;
    const char* reason = nullptr;
    unsigned bad = 0;  // the offending byte, for the message
};

Decoded decode_at(std::string_view s, std::size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) return {b0, 1};
    std::size_t len;
    char32_t cp, min;
    if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1F, min = 0x80;
    else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0F, min = 0x800;
    else if ((b0 & 0xF8) == 0xF0 && b0 <= 0xF4) len = 4, cp = b0 & 0x07, min = 0x10000;
    else return {0, 0, (b0 & 0xC0) == 0x80 ? "unexpected continuation byte" : "byte cannot start a sequence", b0};
    if (i + len > s.size()) return {0, 0, "sequence truncated by the end of the text", b0};
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) return {0, 0, "expected a continuation byte", b};
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min) return {0, 0, "overlong encoding", b0};
    if (cp >= 0xD800 && cp <= 0xDFFF) return {0, 0, "UTF-16 surrogate", b0};
    if (cp > 0x10FFFF) return {0, 0, "code point above U+10FFFF", b0};
    return {cp, len};
}

}  // namespace

std::optional<Utf8Problem> find_invalid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {  // ASCII fast path
            ++i;
            continue;
        }
        const Decoded d = decode_at(s, i);
        if (d.reason) return Utf8Problem{i, fmt::format("{} (0x{:02x})", d.reason, d.bad)};
        i += d.len;
    }
    return std::nullopt;
}

void validate_utf8(std::string_view s, const std::string& what) {
    if (auto p = find_invalid_utf8(s)) throw_data("{}: invalid UTF-8 at byte {}: {}", what, p->offset, p->reason);
}

std::u32string decode_utf8(std::string_view s, const std::string& what) {
    std::u32string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const Decoded d = decode_at(s, i);
        if (d.reason) throw_data("{}: invalid UTF-8 at byte {}: {} (0x{:02x})", what, i, d.reason, d.bad);
        out.push_back(d.cp);
        i += d.len;
    }
    return out;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::string encode_utf8(std::u32string_view cps) {
    std::string out;
    out.reserve(cps.size());
    for (char32_t cp : cps) append_utf8(out, cp);
    return out;
}

}  // namespace gg::io
