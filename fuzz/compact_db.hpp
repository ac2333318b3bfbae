// The compact input form of the reader target (fuzz_reader.cpp), and the
// conversion of a database into it (make_seeds.cpp).
//
// A .anondb file is at least 256 KiB: the IPv4 index has 2^16 + 1 entries
// at the least (docs/FORMAT.md), nearly all equal in a small file. At that
// size libFuzzer spends most of its time copying and hashing inputs, and
// mutations land in the index nineteen times out of twenty. A compact input
// is a file whose IPv4 index is run-length coded:
//
//   - it starts with kCompactMagic instead of the anondb magic;
//   - the rest is laid out as a file (header, section table, sections where
//     the table says), except that the stored bytes of the v4_index section
//     are pairs {u32 value, u32 count}, expanded to the section's raw_size
//     (at most kMaxCompactIndex bytes; a short run list is padded with its
//     last value, a long one cut).
//
// expand_compact() rebuilds the file: the header (with the real magic), the
// table at offset 64, then every section's bytes in table order, each at the
// next multiple of 64, the table's offsets and sizes and file_size set to
// match. Checksums are left to the caller (it reseals). Inputs that start
// with the real magic are used as they are, so layout, truncation and
// checksum handling are still fuzzed on whole files.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "anondb/format.hpp"

namespace anondb::fuzz {

inline constexpr unsigned char kCompactMagic[8] = {0x89, 'A', 'N', 'O', 'N', 'F', 'Z', '\n'};
// The largest IPv4 index a compact input expands to: 2^18 + 1 entries (index
// widths 16 to 18; wider ones only come whole).
inline constexpr std::uint64_t kMaxCompactIndex = 4 * ((std::uint64_t{1} << 18) + 1);

inline bool is_compact(std::span<const std::uint8_t> in) {
    return in.size() >= sizeof kCompactMagic && std::memcmp(in.data(), kCompactMagic, sizeof kCompactMagic) == 0;
}

namespace compact_detail {
template <class T>
std::optional<T> read_at(std::span<const std::uint8_t> b, std::uint64_t at) {
    if (at > b.size() || sizeof(T) > b.size() - at) return std::nullopt;
    T v;
    std::memcpy(&v, b.data() + at, sizeof(T));
    return v;
}
inline std::uint64_t align64(std::uint64_t x) { return (x + 63) / 64 * 64; }

// Lays sections out after a header and table; `bytes_of(i, entry)` gives the
// stored bytes of section i and may change its entry.
template <class BytesOf>
std::vector<std::uint8_t> assemble(format::Header h, std::vector<format::SectionEntry> table, BytesOf bytes_of) {
    std::vector<std::vector<std::uint8_t>> data(table.size());
    for (std::size_t i = 0; i < table.size(); ++i) data[i] = bytes_of(i, table[i]);
    const std::uint64_t table_bytes = table.size() * sizeof(format::SectionEntry);
    std::uint64_t end = sizeof(format::Header) + table_bytes, cursor = align64(end);
    for (std::size_t i = 0; i < table.size(); ++i) {
        table[i].offset = cursor;
        table[i].stored_size = data[i].size();
        end = cursor + data[i].size();
        cursor = align64(end);
    }
    h.section_table_offset = sizeof(format::Header);
    h.section_count = static_cast<std::uint32_t>(table.size());
    h.file_size = end;
    std::vector<std::uint8_t> out(end);
    std::memcpy(out.data(), &h, sizeof h);
    if (!table.empty()) std::memcpy(out.data() + sizeof h, table.data(), table_bytes);
    for (std::size_t i = 0; i < table.size(); ++i)
        if (!data[i].empty()) std::memcpy(out.data() + table[i].offset, data[i].data(), data[i].size());
    return out;
}

// Header and table of `in`, the table cut to the entries inside it (at most
// 2048, past the 1024 a reader allows); nullopt without a whole header.
inline std::optional<std::pair<format::Header, std::vector<format::SectionEntry>>> layout_of(
    std::span<const std::uint8_t> in) {
    auto h = read_at<format::Header>(in, 0);
    if (!h) return std::nullopt;
    std::vector<format::SectionEntry> table;
    const std::uint64_t at = h->section_table_offset;
    for (std::uint64_t i = 0; i < std::min<std::uint64_t>(h->section_count, 2048); ++i) {
        const auto e = read_at<format::SectionEntry>(in, at + i * sizeof(format::SectionEntry));
        if (!e) break;
        table.push_back(*e);
    }
    return std::pair{*h, std::move(table)};
}

// The stored bytes of entry `e` inside `in`, cut at its end.
inline std::vector<std::uint8_t> stored(std::span<const std::uint8_t> in, const format::SectionEntry& e) {
    if (e.offset >= in.size()) return {};
    const std::uint64_t n = std::min<std::uint64_t>(e.stored_size, in.size() - e.offset);
    return {in.data() + e.offset, in.data() + e.offset + n};
}

inline bool is_raw_v4_index(const format::SectionEntry& e) {
    return e.kind == static_cast<std::uint32_t>(format::SectionKind::v4_index) &&
           e.encoding == static_cast<std::uint32_t>(format::Encoding::raw);
}
}  // namespace compact_detail

// The file a compact input stands for (checksums not recomputed), or
// nullopt when `in` is not compact or has no whole header.
inline std::optional<std::vector<std::uint8_t>> expand_compact(std::span<const std::uint8_t> in) {
    if (!is_compact(in)) return std::nullopt;
    auto layout = compact_detail::layout_of(in);
    if (!layout) return std::nullopt;
    auto& [h, table] = *layout;
    std::memcpy(h.magic, format::kMagic, sizeof h.magic);
    return compact_detail::assemble(h, std::move(table), [&](std::size_t, format::SectionEntry& e) {
        std::vector<std::uint8_t> bytes = compact_detail::stored(in, e);
        if (!compact_detail::is_raw_v4_index(e)) return bytes;
        // Runs {value, count} up to raw_size bytes (whole u32 values).
        const std::uint64_t want = std::min(e.raw_size, kMaxCompactIndex) / 4;
        std::vector<std::uint32_t> values;
        values.reserve(want);
        for (std::size_t k = 0; k + 8 <= bytes.size() && values.size() < want; k += 8) {
            std::uint32_t v, n;
            std::memcpy(&v, bytes.data() + k, 4);
            std::memcpy(&n, bytes.data() + k + 4, 4);
            values.insert(values.end(), std::min<std::uint64_t>(n, want - values.size()), v);
        }
        values.resize(want, values.empty() ? 0 : values.back());
        e.raw_size = want * 4;
        std::vector<std::uint8_t> out(want * 4);
        if (want) std::memcpy(out.data(), values.data(), out.size());
        return out;
    });
}

// A whole file in compact form (for seeds): the same header and table, the
// IPv4 index run-length coded.
inline std::vector<std::uint8_t> make_compact(std::span<const std::uint8_t> file) {
    auto layout = compact_detail::layout_of(file);
    if (!layout) return {};
    auto& [h, table] = *layout;
    std::memcpy(h.magic, kCompactMagic, sizeof h.magic);
    return compact_detail::assemble(h, std::move(table), [&](std::size_t, format::SectionEntry& e) {
        std::vector<std::uint8_t> bytes = compact_detail::stored(file, e);
        if (!compact_detail::is_raw_v4_index(e)) return bytes;
        std::vector<std::uint8_t> runs;
        for (std::size_t k = 0; k + 4 <= bytes.size();) {
            std::uint32_t v, n = 0;
            std::memcpy(&v, bytes.data() + k, 4);
            for (; k + 4 <= bytes.size(); k += 4, ++n) {
                std::uint32_t w;
                std::memcpy(&w, bytes.data() + k, 4);
                if (w != v) break;
            }
            runs.insert(runs.end(), reinterpret_cast<const std::uint8_t*>(&v), reinterpret_cast<const std::uint8_t*>(&v) + 4);
            runs.insert(runs.end(), reinterpret_cast<const std::uint8_t*>(&n), reinterpret_cast<const std::uint8_t*>(&n) + 4);
        }
        return runs;
    });
}

}  // namespace anondb::fuzz
