// UTF-8 well-formedness (RFC 3629, Unicode table 3-7): no overlong forms, no
// surrogates, nothing above U+10FFFF. NUL is not text here: names and
// fields that end up in C strings, SQL and MMDB must not carry it.
// Standard library only.
#pragma once

#include <cstddef>
#include <string_view>

namespace anondb {

// Length (1-4) of the well-formed sequence that starts at s[i], or 0 when
// the bytes there are not one (or are NUL). i < s.size().
constexpr std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
    auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
        if (k >= s.size()) return false;
        const auto c = static_cast<unsigned char>(s[k]);
        return c >= lo && c <= hi;
    };
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x01 && c <= 0x7F) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
    if (c == 0xE0) return cont(i + 1, 0xA0) && cont(i + 2) ? 3 : 0;
    if (c == 0xED) return cont(i + 1, 0x80, 0x9F) && cont(i + 2) ? 3 : 0;
    if (c >= 0xE1 && c <= 0xEF) return cont(i + 1) && cont(i + 2) ? 3 : 0;
    if (c == 0xF0) return cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    if (c >= 0xF1 && c <= 0xF3) return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    if (c == 0xF4) return cont(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    return 0;
}

// Whether all of `s` is well-formed UTF-8 without NUL.
constexpr bool valid_utf8(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = utf8_sequence_length(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

}  // namespace anondb
