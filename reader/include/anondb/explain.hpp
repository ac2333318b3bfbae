// The cold half of the reader: provenance ("why is this address flagged?"),
// metadata, and the full verification of a file. Compiled (libanondb), since
// cold sections may be zstd-compressed; lookups never need it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
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

// An input entry that covers the explained address. An ASN-derived one (a
// provider-list line expanded through an ASN table) also has the table row.
struct Contribution : Evidence {
    std::optional<Evidence> table_row;
};

// ASN-derived space an exclusion rule removed where the address is.
struct Exclusion {
    Range range;           // the part removed
    Contribution removed;  // the derived entry that would have covered it
    Evidence rule;         // the exclusion list line
};

struct Explanation {
    Segment segment;      // the covering range and its record
    LookupResult result;  // what lookup() answers for it
    std::vector<Contribution> contributions;  // ascending origin id
    std::vector<Exclusion> exclusions;        // covering the address, in file order
};

// Decoded, verified cold sections of one Database. The views it returns stay
// valid while both it and the Database live.
class ColdData {
public:
    // Decompresses and checks the cold sections (checksums, bounds of every
    // provenance list, origin and text).
    static Expected<ColdData> load(const Database& db);

    Explanation explain(Ip ip) const;
    // The provenance of one record (what explain() lists for its segments),
    // without the search for exclusions: for exports that visit every record.
    std::vector<Contribution> contributions(std::uint32_t record) const;
    std::string_view metadata_json() const;
    std::uint32_t origin_count() const;

    ColdData(ColdData&&) noexcept;
    ColdData& operator=(ColdData&&) noexcept;
    ~ColdData();

    struct Impl;  // opaque

private:
    explicit ColdData(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Full check of a file: everything open() checks with OpenChecks::full
// (whatever `db` was opened with), every section's checksum, every cold
// section, and that lookups answer what the records say.
Expected<Ok> verify(const Database& db);

std::string sha256_hex(const std::array<std::uint8_t, 32>& digest);

}  // namespace anondb
