// XXH64 (seed 0), the checksum of .anondb sections.
//
// The writer uses Debian's libxxhash; the reader carries this small
// standard-library-only copy of the published algorithm so that it has no
// dependency. tests/test_format.cpp checks it against libxxhash on random input.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace anondb::detail {

inline constexpr std::uint64_t kXxP1 = 0x9E3779B185EBCA87ull;
inline constexpr std::uint64_t kXxP2 = 0xC2B2AE3D27D4EB4Full;
inline constexpr std::uint64_t kXxP3 = 0x165667B19E3779F9ull;
inline constexpr std::uint64_t kXxP4 = 0x85EBCA77C2B2AE63ull;
inline constexpr std::uint64_t kXxP5 = 0x27D4EB2F165667C5ull;

inline std::uint64_t xx_read64(const unsigned char* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;  // little-endian hosts only (see format.hpp)
}
inline std::uint32_t xx_read32(const unsigned char* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline std::uint64_t xx_round(std::uint64_t acc, std::uint64_t input) noexcept {
    acc += input * kXxP2;
    acc = std::rotl(acc, 31);
    return acc * kXxP1;
}
inline std::uint64_t xx_merge(std::uint64_t acc, std::uint64_t val) noexcept {
    acc ^= xx_round(0, val);
    return acc * kXxP1 + kXxP4;
}

inline std::uint64_t xxh64(const void* data, std::size_t len) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    const unsigned char* const end = p + len;
    std::uint64_t h;
    if (len >= 32) {
        std::uint64_t v1 = kXxP1 + kXxP2, v2 = kXxP2, v3 = 0, v4 = 0 - kXxP1;
        const unsigned char* const limit = end - 32;
        do {
            v1 = xx_round(v1, xx_read64(p));
            v2 = xx_round(v2, xx_read64(p + 8));
            v3 = xx_round(v3, xx_read64(p + 16));
            v4 = xx_round(v4, xx_read64(p + 24));
            p += 32;
        } while (p <= limit);
        h = std::rotl(v1, 1) + std::rotl(v2, 7) + std::rotl(v3, 12) + std::rotl(v4, 18);
        h = xx_merge(h, v1);
        h = xx_merge(h, v2);
        h = xx_merge(h, v3);
        h = xx_merge(h, v4);
    } else {
        h = kXxP5;
    }
    h += static_cast<std::uint64_t>(len);
    while (end - p >= 8) {
        h ^= xx_round(0, xx_read64(p));
        h = std::rotl(h, 27) * kXxP1 + kXxP4;
        p += 8;
    }
    if (end - p >= 4) {
        h ^= static_cast<std::uint64_t>(xx_read32(p)) * kXxP1;
        h = std::rotl(h, 23) * kXxP2 + kXxP3;
        p += 4;
    }
    while (p < end) {
        h ^= static_cast<std::uint64_t>(*p) * kXxP5;
        h = std::rotl(h, 11) * kXxP1;
        ++p;
    }
    h ^= h >> 33;
    h *= kXxP2;
    h ^= h >> 29;
    h *= kXxP3;
    h ^= h >> 32;
    return h;
}

}  // namespace anondb::detail
