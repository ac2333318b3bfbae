// Feed text is hostile: control bytes are written as \xNN so that text from
// a feed cannot drive the terminal it is printed on.
#pragma once

#include <string>
#include <string_view>

namespace anondb::builder {

// Calls put(char) for each output byte of `s` with control bytes escaped.
template <class Put>
void escape_control(std::string_view s, Put&& put) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (const unsigned char c : s) {
        if (c >= 0x20 && c != 0x7f) {
            put(static_cast<char>(c));
        } else {
            put('\\');
            put('x');
            put(kHex[c >> 4]);
            put(kHex[c & 0xf]);
        }
    }
}

inline std::string printable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    escape_control(s, [&](char c) { out += c; });
    return out;
}

}  // namespace anondb::builder
