// The cold half of the reader: provenance ("why is this address flagged?"),
// metadata, and the full verification of a file. Compiled (libanondb), since
// cold sections may be zstd-compressed; lookups never need it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/reader.hpp"

namespace anondb {

// One input entry (a feed line, an ASN-table row, an exclusion rule) and
// the fetch of the feed it stands in.
struct Evidence {
    std::uint32_t origin = 0;   // origin id in the file
    std::uint32_t feed = 0;     // feed index in the file
    std::string_view feed_name;
    std::string_view url;       // catalogue URL of the feed
    std::string_view source;    // what was read: final URL or snapshot path
    std::string_view format;
    std::int64_t fetched_at = 0;
    std::array<std::uint8_t, 32> sha256{};
    std::uint32_t feed_flags = 0;  // format::FeedFlags
    std::uint32_t line = 0;
    std::string_view text;         // the entry as the feed wrote it
    std::uint32_t categories = 0;
    std::string_view provider;
    std::uint32_t asn = 0;         // 0 = none
    format::FeedRole role = format::FeedRole::ranges;
};

// An input entry that covers the explained address: `range` is its
// evidence row's range (for an ASN-derived entry, the piece of the table
// row's network it contributed). An ASN-derived one also has the table row.
struct Contribution : Evidence {
    Range range;
    std::optional<Evidence> table_row;
};

// ASN-derived space an exclusion rule removed where the address is.
struct Exclusion {
    Range range;           // the part removed
    Contribution removed;  // the derived entry that would have covered it (range: the part removed)
    Evidence rule;         // the exclusion list line
};

// What the evidence says of a flagged address beside its answer (FORMAT.md,
// Seen dates and confidence). Days are days since 1970-01-01 UTC.
struct Assessment {
    std::uint32_t last_seen = 0;  // the latest fetch day of the feeds that list it
    unsigned confidence = 0;      // 1 to 99; 0 when not flagged
};

struct Explanation {
    Range range;          // the largest range around the address with exactly these contributions
                          // (and one first-seen day)
    Segment segment;      // the lookup segment: the largest range around it with the same answer
    LookupResult result;  // what lookup() answers for it
    std::vector<Contribution> contributions;  // ascending origin id
    std::vector<Exclusion> exclusions;        // covering the address, in file order
    Assessment assessment;                    // of the contributions; zero when not flagged
    std::optional<std::uint32_t> first_seen;  // day; none when not flagged or the file has no first_seen
};

// A stretch of the address space covered by exactly one set of evidence
// rows (possibly none).
// Flagged pieces also lie inside one first_seen row, whose day they carry.
struct Piece {
    Range range;
    std::span<const std::uint32_t> rows;      // evidence row numbers, ascending
    std::optional<std::uint32_t> first_seen;  // day; none when not flagged or the file has no first_seen
};

// Decoded, verified cold sections of one Database. The views it returns stay
// valid while both it and the Database live.
class ColdData {
public:
    // Decompresses, decodes and checks the cold sections (checksums, every
    // origin, evidence row, exclusion and provider name).
    static Expected<ColdData> load(const Database& db);

    Explanation explain(Ip ip) const;

    // Calls fn for every piece of the whole address space, in address
    // order: the pieces partition the space, and touching pieces have
    // different rows or first-seen days. One sweep over the evidence: for
    // exports and verify.
    void for_each_piece(const std::function<void(const Piece&)>& fn) const;

    // What the evidence rows `rows` give as an answer (FORMAT.md, Answer
    // semantics); `flagged` is false for no rows.
    LookupResult answer_of(std::span<const std::uint32_t> rows) const;

    // Last-seen day and confidence of an address covered by exactly `rows`
    // (FORMAT.md, Seen dates and confidence); zero for no rows.
    Assessment assess(std::span<const std::uint32_t> rows) const;

    // Whether the file has first-seen days (format 2.2); explain() gives
    // one address's day.
    bool has_first_seen() const;
    // Every first_seen row, in address order.
    void for_each_first_seen(const std::function<void(Range, std::uint32_t day)>& fn) const;

    // The distinct feed names of the origins of `rows`, in origin order:
    // a range's sources, as the exports name them. Into `out` (cleared).
    void sources_of(std::span<const std::uint32_t> rows, std::vector<std::string_view>& out) const;

    std::uint32_t origin_of_row(std::uint32_t row) const;
    Range row_range(std::uint32_t row) const;
    Evidence evidence(std::uint32_t origin) const;          // origin < origin_count()
    Contribution contribution(std::uint32_t origin) const;  // with its table row; range: empty
    std::string_view provider_name(std::uint32_t id) const;  // "" past provider_count()
    std::string_view metadata_json() const;
    std::uint32_t origin_count() const;
    std::size_t evidence_count() const;

    ColdData(ColdData&&) noexcept;
    ColdData& operator=(ColdData&&) noexcept;
    ~ColdData();

    struct Impl;  // opaque

private:
    explicit ColdData(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The seen dates and confidence of every flagged address, for many
// lookups (`anondb lookup --json`): one sweep of the evidence at
// construction, then a binary search per address.
class AssessmentTable {
public:
    struct Entry {
        Range range;                              // a maximal run with these values
        Assessment assessment;
        std::optional<std::uint32_t> first_seen;  // none when the file has no first_seen
    };
    explicit AssessmentTable(const ColdData& cold);
    const Entry* find(Ip ip) const;  // nullptr when the address is not flagged
    std::size_t size() const noexcept { return entries_.size(); }

private:
    std::vector<Entry> entries_;
};

// Full check of a file: everything open() checks with OpenChecks::full
// (whatever `db` was opened with), every section's checksum, every cold
// section, and that the hot sections answer what the evidence gives, for
// every address.
Expected<Ok> verify(const Database& db);

std::string sha256_hex(const std::array<std::uint8_t, 32>& digest);

}  // namespace anondb
