// A minimal MaxMind DB writer for tests: hand-made files with exactly the
// tree and records a case needs (test_geo, test_fuzz_regressions), read
// back by libmaxminddb and by the code under test.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "anondb/ip.hpp"
#include "test_util.hpp"

namespace anondb::test {

// A minimal MaxMind DB writer (https://maxmind.github.io/MaxMind-DB/): a
// search tree of 24-bit records built from prefixes, a data section of the
// test's own encoded values, the metadata libmaxminddb needs.
class TinyMmdb {
public:
    TinyMmdb(unsigned ip_version, std::string type) : ip_version_(ip_version), type_(std::move(type)) {
        nodes_.push_back({});
    }

    // Encoded values.
    static std::string str(std::string_view s) {
        std::string out;
        if (s.size() < 29) {
            out += static_cast<char>(0x40 | s.size());
        } else {
            REQUIRE(s.size() < 285);
            out += static_cast<char>(0x40 | 29);
            out += static_cast<char>(s.size() - 29);
        }
        out += s;
        return out;
    }
    static std::string u16(std::uint16_t v) {
        return {static_cast<char>(0xa2), static_cast<char>(v >> 8), static_cast<char>(v)};  // uint16, 2 bytes
    }
    static std::string u32(std::uint32_t v) {
        std::string out(1, static_cast<char>(0xc4));  // uint32, 4 bytes
        for (int i = 3; i >= 0; --i) out += static_cast<char>(v >> (8 * i));
        return out;
    }
    static std::string u64(std::uint64_t v) {
        std::string out = {static_cast<char>(0x08), static_cast<char>(9 - 7)};  // extended type 9 (uint64), 8 bytes
        for (int i = 7; i >= 0; --i) out += static_cast<char>(v >> (8 * i));
        return out;
    }
    static std::string map(std::initializer_list<std::pair<std::string_view, std::string>> pairs) {
        REQUIRE(pairs.size() < 29);
        std::string out(1, static_cast<char>(0xe0 | pairs.size()));
        for (const auto& [k, v] : pairs) out += str(k) + v;
        return out;
    }
    // A City-style record: {country: {iso_code, names: {en}}, city: {names: {en}}}.
    static std::string place(std::string_view iso, std::string_view name, std::string_view city) {
        return map({{"country", map({{"iso_code", str(iso)}, {"names", map({{"en", str(name)}})}})},
                    {"city", map({{"names", map({{"en", str(city)}})}})}});
    }

    // The prefix `text` (a.b.c.d/len in an IPv4 tree) points at `value`
    // (encoded), or at the raw record `raw` when value is empty.
    void insert(std::string_view text, const std::string& value, std::uint32_t raw = 0) {
        const Range r = range_of(text);
        const unsigned bits = ip_version_ == 4 ? 32 : 128;
        unsigned len = 0;
        while (len < bits && !prefix_holds(r, len)) ++len;
        REQUIRE_MESSAGE(prefix_holds(r, len), "test bug: not a prefix " << text);
        std::uint32_t node = 0;
        for (unsigned d = 0; d + 1 < len; ++d) {
            const int side = bit(r.first, d);
            if (nodes_[node][side].kind != Rec::node) {
                REQUIRE(nodes_[node][side].kind == Rec::empty);
                nodes_.push_back({});  // invalidates references into nodes_
                nodes_[node][side] = {Rec::node, static_cast<std::uint32_t>(nodes_.size() - 1)};
            }
            node = nodes_[node][side].value;
        }
        Rec& leaf = nodes_[node][bit(r.first, len - 1)];
        REQUIRE(leaf.kind == Rec::empty);
        if (value.empty()) {
            leaf = {Rec::raw, raw};
        } else {
            leaf = {Rec::data, static_cast<std::uint32_t>(data_.size())};
            data_ += value;
        }
    }

    // The file, written under `dir`.
    std::string write(const std::filesystem::path& dir, const std::string& name) const {
        const auto n = static_cast<std::uint32_t>(nodes_.size());
        std::string out;
        for (const auto& node : nodes_)
            for (const Rec& r : node) {
                const std::uint32_t v = r.kind == Rec::node    ? r.value
                                        : r.kind == Rec::empty ? n
                                        : r.kind == Rec::raw   ? r.value
                                                               : n + 16 + r.value;
                out += static_cast<char>(v >> 16);
                out += static_cast<char>(v >> 8);
                out += static_cast<char>(v);
            }
        out.append(16, '\0');
        out += data_;
        out += "\xab\xcd\xefMaxMind.com";
        // libmaxminddb wants these exact types (uint16 where it says so).
        out += map({{"node_count", u32(n)},
                    {"record_size", u16(24)},
                    {"ip_version", u16(static_cast<std::uint16_t>(ip_version_))},
                    {"binary_format_major_version", u16(2)},
                    {"binary_format_minor_version", u16(0)},
                    {"build_epoch", u64(1767225600)},
                    {"database_type", str(type_)},
                    {"languages", std::string("\x00\x04", 2)},  // array, empty
                    {"description", std::string("\xe0", 1)}});
        const std::string path = (dir / name).string();
        write_text(path, out);
        return path;
    }

private:
    struct Rec {
        enum Kind { empty, node, data, raw } kind = empty;
        std::uint32_t value = 0;
    };
    // Bit d (from the top) of the address in the tree's own width.
    int bit(Ip a, unsigned d) const {
        if (ip_version_ == 4) return (a.v4() >> (31 - d)) & 1;
        return d < 64 ? (a.hi >> (63 - d)) & 1 : (a.lo >> (127 - d)) & 1;
    }
    bool prefix_holds(const Range& r, unsigned len) const {
        if (ip_version_ == 4) {
            REQUIRE(r.first.is_v4());
            return prefix_range(r.first, 96 + len) == r;
        }
        return prefix_range(r.first, len) == r;
    }
    unsigned ip_version_;
    std::string type_;
    std::vector<std::array<Rec, 2>> nodes_;
    std::string data_;
};

}  // namespace anondb::test
