// Shared by the fuzz targets: the check macro and small helpers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "anondb/ip.hpp"

// A broken invariant is a crash libFuzzer records (with the input that
// caused it), whatever the build type: print what failed, then abort.
#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                 \
        }                                                                                 \
    } while (0)

namespace anondb::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Lines of `body` as the parsers count them (by '\n'; a last line without
// one counts): an entry or issue line is between 1 and this.
inline std::uint32_t line_count(std::string_view body) {
    std::size_t n = 1;
    for (const char c : body) n += c == '\n';
    return static_cast<std::uint32_t>(n);
}

// Whether [offset, offset + length) lies inside a buffer of `size` bytes.
inline bool inside(std::size_t offset, std::size_t length, std::size_t size) {
    return offset <= size && length <= size - offset;
}

inline bool valid_range(const Range& r) { return !(r.last < r.first); }

// A small deterministic generator (splitmix64) for addresses derived from
// the input, so that a crash reproduces from the input alone.
struct Mix {
    std::uint64_t s;
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
};

}  // namespace anondb::fuzz
