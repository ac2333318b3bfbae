// One build: catalogue -> feed bytes -> parsed, guarded entries -> merge ->
// .anondb, with a report of how every feed fared.
#pragma once

#include <array>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "anondb/builder/range_count.hpp"
#include "anondb/builder/asn_expand.hpp"
#include "anondb/builder/catalogue.hpp"
#include "anondb/builder/last_good.hpp"
#include "anondb/builder/merge.hpp"
#include "anondb/category.hpp"
#include "anondb/sources/asn.hpp"
#include "anondb/sources/exclusions.hpp"
#include "anondb/sources/fetch.hpp"
#include "anondb/sources/parse.hpp"
#include "anondb/writer.hpp"

namespace anondb::builder {

inline constexpr const char* kDefaultDatabasePath = "build/anondb.anondb";

struct BuildOptions {
    std::string feeds_path = "feeds.yaml";
    std::string out_path = kDefaultDatabasePath;
    bool offline = false;         // read each feed's bundled snapshot
    bool strict = false;          // a stale or missing feed fails the build; nothing is published
    std::int64_t build_time = 0;  // Unix seconds; an input, so builds reproduce
    std::optional<std::uint64_t> data_version;  // default: build_time
    std::string cache_dir;        // HTTP cache and last good copies; default: "cache" beside out_path
    std::string report_path;      // write the build report JSON here ("" = none)
    sources::FetchOptions fetch;  // live fetching (cache_dir is set from the above)
    // Ranges all feeds may publish together (merge inputs: each feed's
    // published ranges, ASN-derived ones included); passing it fails the
    // build. Default: the catalogue's top-level max_total_entries (10M).
    std::optional<std::uint64_t> max_total_entries;
    // Sign the database with this Ed25519 private key (PEM; format 2.1,
    // docs/SECURITY.md); "" = unsigned. Read before anything is fetched,
    // so a bad key fails the build at once.
    std::string sign_key_path;
    // The previous build's database, whose first-seen days carry over
    // (history.hpp); "" = none, every flagged address is new. Read before
    // anything is fetched.
    std::string previous_path;
};

// How one feed fared in a build.
struct FeedReport {
    std::string name;
    std::string format;
    format::FeedRole role = format::FeedRole::ranges;
    std::uint32_t categories = 0;
    std::string provider;
    std::string license;
    // "snapshot", "fresh" (200), "cached" (304, unchanged), "stale" (the live
    // fetch failed or failed its checks; the last good copy was used) or
    // "failed" (no usable copy; an optional feed left out).
    std::string status;
    std::string failure;          // why the live copy was not used ("" when it was)
    std::int64_t age_seconds = 0; // build time - fetched_at of the copy used
    sources::FetchRecord fetch;
    std::uint64_t accepted = 0;   // entries published (after guards)
    std::uint64_t rejected = 0;   // lines rejected by the parser or the guards
    std::uint64_t warnings = 0;
    std::map<std::string, std::uint64_t> rejects_by_reason;
    std::map<std::string, std::uint64_t> warnings_by_reason;
    std::vector<sources::LineIssue> first_rejects;  // the first few, for the report
    std::vector<sources::LineIssue> guard_rejects;  // every entry the guards rejected (up to 1000)

    // ASN lists: what expansion through the table gave.
    std::string asn_table;             // the table feed's name
    std::uint64_t derived = 0;         // ranges published from the list's ASNs
    std::uint64_t excluded = 0;        // ranges (or parts) exclusion rules removed
    std::uint64_t asns_unrouted = 0;   // listed ASNs the table holds no address for
    std::vector<std::uint32_t> first_asns_unrouted;  // the first few
    // Exclusion lists: ranges each rule removed, by the rule's line.
    std::map<std::uint32_t, std::uint64_t> excluded_by_line;
};

// The version of the build report JSON (report_json, "report_version"):
// raised when a field changes meaning or goes; `anondb report` reads this
// version only.
inline constexpr int kReportVersion = 1;

struct BuildReport {
    std::vector<FeedReport> feeds;
    std::uint64_t input_entries = 0;
    std::uint64_t ranges = 0;    // merged ranges: maximal runs of one answer
    std::uint64_t answers = 0;   // distinct answers of flagged space
    std::uint64_t evidence = 0;  // evidence rows (input ranges with their origins)
    std::uint64_t file_bytes = 0;
    std::string out_path;
    std::size_t stale_feeds = 0;    // published from a last good copy
    std::size_t omitted_feeds = 0;  // optional feeds with no usable copy
    std::uint64_t derived_ranges = 0;   // ranges ASN expansion published
    std::uint64_t excluded_ranges = 0;  // ASN-derived ranges (or parts) exclusions removed
    // Per category, in kCategoryNames order.
    // Per category (kCategoryNames order): the merged ranges (maximal runs of
    // one answer) that include it.
    std::array<RangeCount, std::size(kCategoryNames)> categories{};
};

// One feed ready to compile: its bytes, and what parsing gave. A range feed
// keeps the entries that passed the guards (texts as offsets into
// fetched.body); an ASN list, ASN table or exclusion list keeps its parse.
struct PreparedFeed {
    FeedConfig config;
    sources::FetchedBody fetched;
    std::string unreadable;  // why a binary table could not be read ("" when it could)
    struct Origin {
        std::uint32_t line = 0;
        std::size_t text_offset = 0;
        std::size_t text_length = 0;
    };
    std::vector<Origin> origins;  // accepted entries
    struct Piece {
        Range range;
        std::uint32_t origin = 0;  // index into origins
    };
    std::vector<Piece> pieces;  // what the guards let through (one entry may be several pieces)
    sources::AsnList asn_list;
    sources::AsnTable asn_table;
    sources::ExclusionList exclusions;
    FeedReport report;
    // Parsing stopped at max_entries (the parser's over_max_entries): the
    // entries above are a partial list, on lines before `stopped_line`.
    bool over_max_entries = false;
    std::uint32_t stopped_line = 0;
    // ASN lists: how many ranges the list's ASNs expand to in its table
    // (before guards and exclusions), once the table's copy is chosen
    // (count_derived); what max_entries limits for a list.
    std::optional<std::uint64_t> derived_ranges;
    // ASN tables: the table resolved by ASN, built the first time a list
    // needs it and shared by the checks and compile().
    std::shared_ptr<const AsnIndex> asn_index;

    // Entries accepted, whatever the role: the count the fetch checks use.
    std::uint64_t entries() const;
};

// Parses a feed body (by its format's role, with the feed's
// parse_options: max_line_bytes, max_entries) and, for range feeds, applies
// the guards.
PreparedFeed prepare_feed(const FeedConfig& config, sources::FetchedBody fetched);

// An ASN list: sets list.derived_ranges from the ranges its ASNs hold in
// `table` (building table.asn_index when it has none), without expanding
// them. Other feeds are left as they are.
void count_derived(PreparedFeed& list, PreparedFeed& table);

// Why a fetched copy must not be used ("" when it may): an HTML page, an
// unreadable table, more than max_entries entries (parsing stopped) or, for
// an ASN list, more than max_entries derived ranges (derived_ranges), no
// entries, fewer than min_entries, or fewer than min_fraction of the last
// good copy's entries.
std::string check_feed(const PreparedFeed& feed, const std::optional<GoodCopy>& last_good);

struct Compiled {
    writer::DatabaseContent content;  // origin texts point into the feeds' bodies and tables
    BuildReport report;
};
// Expands every ASN list through its table (which must be among `feeds`),
// guards and excludes what it gives, then merges it with the range feeds.
// The merge inputs are counted as they are gathered (range feeds in order,
// then ASN lists in order): once they pass `max_total_entries`, compile
// stops with an error naming the feed that passed it, its ranges, the total
// and the limit. An ASN list whose derived ranges pass its max_entries is not
// expanded (its report says so); run_build never lets one through.
Expected<Compiled> compile(const std::vector<PreparedFeed>& feeds, std::int64_t build_time, std::uint64_t data_version,
                           std::uint64_t max_total_entries = kDefaultMaxTotalEntries);

// Merges `inputs` into the ranges (what lookups answer) and the evidence
// (the inputs themselves, in evidence order) of `content`. Each input's
// categories, provider and AS are set from its origin in `content` first,
// so ranges and evidence cannot disagree. Leaves `inputs` sorted (merge()).
// Returns the number of ranges.
std::size_t merge_into(std::span<MergeInput> inputs, writer::DatabaseContent& content);

// The build report as JSON: the database's metadata plus this run's
// details (report_version, status, HTTP cache use, failures, the database's
// path and size, ranges per category).
std::string report_json(const BuildReport& report, std::int64_t build_time, std::uint64_t data_version);

// The whole build: load or fetch, prepare, fall back where needed, compile,
// serialise, write atomically (and the report, when asked). Fails, writing
// nothing, when a required feed has no usable copy, when the feeds together
// pass max_total_entries or, with `strict`, when any feed is stale or
// missing. ASN lists are checked after the other feeds, against the copy of
// their table the build uses.
Expected<BuildReport> run_build(const BuildOptions& options);

}  // namespace anondb::builder
