// .anondb writer: a merged, attributed set of ranges in, the file of
// docs/FORMAT.md out. Knows the format, not where the data came from.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/format.hpp"
#include "anondb/ip.hpp"
#include "anondb/reader.hpp"  // Error, Expected

namespace anondb::writer {

struct FeedInfo {
    std::string name;
    std::string url;     // catalogue URL
    std::string source;  // final URL after redirects, or the snapshot path read
    std::string format;
    std::uint32_t categories = 0;
    std::uint32_t provider = 0;  // index into DatabaseContent::providers
    std::int64_t fetched_at = 0;
    std::uint64_t bytes = 0;
    std::uint64_t accepted = 0;
    std::uint64_t rejected = 0;
    std::array<std::uint8_t, 32> sha256{};
    std::uint32_t flags = 0;  // format::FeedFlags
    format::FeedRole role = format::FeedRole::ranges;
    std::uint32_t asn_table = 0;  // asn_list feeds: index + 1 of the table feed; 0 = none
};

// One input entry; `text` must stay alive until the file is serialised.
struct OriginInfo {
    std::uint32_t feed = 0;
    std::uint32_t line = 0;
    std::uint32_t categories = 0;
    std::uint32_t provider = 0;
    std::string_view text;
    std::uint32_t asn = 0;                   // 0 = none
    std::uint32_t link = format::kNoLink;    // ASN-derived: origin id of its table row
};

// Space an exclusion rule removed from an ASN-derived origin.
struct ExclusionInfo {
    Range range;
    std::uint32_t origin = 0;  // the derived origin
    std::uint32_t rule = 0;    // origin id of the rule's line
};

// One range of the merge's output: every address in it has this answer.
struct RangeAnswer {
    Range range;
    std::uint32_t categories = 0;
    std::uint32_t provider = 0;  // index into DatabaseContent::providers, 0 = none
    std::uint32_t asn = 0;       // 0 = none
};

// One evidence row: an input range and the origin (a range entry or an
// ASN-derived entry) it came from.
struct EvidenceInfo {
    Range range;
    std::uint32_t origin = 0;
};

// The day a run of flagged addresses was first seen (FORMAT.md, First
// seen): days since 1970-01-01 UTC.
struct FirstSeenInfo {
    Range range;
    std::uint32_t day = 0;
};

struct DatabaseContent {
    std::int64_t build_time = 0;
    std::uint64_t data_version = 0;
    std::vector<std::string> providers{std::string()};   // [0] = none; in byte order (FORMAT.md)
    std::vector<FeedInfo> feeds;
    std::vector<OriginInfo> origins;
    // What lookups answer: sorted, disjoint. Touching ranges with equal
    // answers become one segment; ranges may cross the IPv4-mapped block's
    // edges (each table takes its part).
    std::vector<RangeAnswer> ranges;
    // The provenance: any order, duplicates allowed; written sorted and
    // unique. The answers of `ranges` must be what this evidence gives
    // (FORMAT.md, Answer semantics): the writer does not recompute them,
    // and verify() checks them.
    std::vector<EvidenceInfo> evidence;
    std::vector<ExclusionInfo> exclusions;  // any order; written sorted
    // First-seen days: sorted and disjoint, and they must hold exactly the
    // flagged addresses (FORMAT.md, First seen; verify() checks that). None:
    // the file has no first_seen section (builder/history.hpp makes them).
    std::optional<std::vector<FirstSeenInfo>> first_seen;
    std::string metadata_json = "{}";
};

class SigningKey;  // signing.hpp

struct WriteOptions {
    bool compress_cold = true;  // zstd for cold sections (default true)
    int zstd_level = 9;         // default 9: the cold column tables and texts shrink by a fifth against level 3 (bench/README.md)
    // Sign the file with this key (a signature section, format 2.1); none
    // by default. Must outlive the call.
    const SigningKey* signing_key = nullptr;
};

// The whole file as bytes. Fails (never throws) on content that cannot be
// represented: unsorted or overlapping ranges, ids out of range, evidence
// of an origin that cannot have any, counts past 32 bits.
Expected<std::vector<std::byte>> serialize(const DatabaseContent& content, const WriteOptions& options = {});

// Writes `bytes` to `path` atomically: an unnamed file in the same
// directory (O_TMPFILE; a named temporary file where the filesystem has
// none), fsync, a temporary name, rename over `path`, fsync of the
// directory. A reader that has the old file mapped keeps its old version; one
// that opens `path` gets the old or the new file, whole. On failure `path` is
// untouched and nothing is left behind; a writer killed (SIGKILL) leaves
// nothing either, unless it dies in the moment between naming and renaming.
Expected<Ok> write_file_atomic(const std::string& path, std::span<const std::byte> bytes);

// Writes all of `bytes` to `fd`, retrying short writes and EINTR. Returns 0,
// or the errno of the write that failed.
int write_fully(int fd, std::span<const std::byte> bytes) noexcept;

}  // namespace anondb::writer
