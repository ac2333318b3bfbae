// `anondb report`: build reports (the JSON `build --report` writes) read
// back and turned into one self-contained HTML page: a summary of the newest
// build, what changed since the build before it, ranges per category over
// the builds given (an inline SVG chart) and every feed's status.
//
// The page loads nothing: inline CSS and SVG, no script, no URL in any
// attribute, and a Content-Security-Policy that forbids loading anything.
// Every text taken from a report (feed names, URLs, failures, reject reasons:
// much of it comes from the internet) is HTML-escaped, with control bytes,
// invalid UTF-8 and bidirectional-override characters shown as escapes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "anondb/error.hpp"

namespace anondb::builder {

// One feed as a report gives it (the fields the page shows).
struct ReportFeed {
    std::string name;
    std::string url;
    std::string format;
    std::string role;                     // ranges, asn-list, asn-table, exclusions
    std::vector<std::string> categories;  // as the report lists them
    std::string status;                   // snapshot, fresh, cached, stale or failed
    std::string failure;                  // why the live copy was not used
    std::uint64_t accepted = 0;
    std::uint64_t rejected = 0;
    std::optional<std::int64_t> fetched_at;  // absent for a failed feed
    std::int64_t age_seconds = 0;
    std::vector<std::pair<std::string, std::uint64_t>> rejects_by_reason;  // by reason, as in the report
    std::optional<std::uint64_t> derived;  // ASN lists: ranges published from their ASNs
    std::string asn_table;                 // ASN lists: the table they expand through
};

// A category's totals in the published database.
struct ReportCategory {
    std::string name;
    std::uint64_t ranges = 0;
    std::uint64_t ipv4_addresses = 0;
    std::uint64_t ipv6_ranges = 0;
};

// One build report, version kReportVersion (pipeline.hpp).
struct ParsedReport {
    std::string source;  // where it was read from (for messages and the page's footer)
    std::string generator;
    std::int64_t build_time = 0;
    std::uint64_t data_version = 0;
    std::string out_path;
    std::uint64_t file_bytes = 0;
    std::uint64_t input_entries = 0;
    std::uint64_t ranges = 0;
    std::uint64_t answers = 0;
    std::uint64_t evidence = 0;
    std::uint64_t stale_feeds = 0;
    std::uint64_t omitted_feeds = 0;
    std::uint64_t derived_ranges = 0;
    std::uint64_t excluded_ranges = 0;
    std::vector<ReportCategory> categories;  // as the report lists them
    std::vector<ReportFeed> feeds;           // in the report's (catalogue) order
};

// Parses one build report. `source` names it in errors. Malformed JSON is an
// error giving the byte offset; a report without "report_version" (an
// older anondb's), of another version, or lacking a field the page needs (or
// with one of the wrong type, a status it does not know or a feed named
// twice) is refused, naming the field.
Expected<ParsedReport> parse_build_report(std::string_view json, std::string_view source);

// Reads and parses the report at `path`; errors name the path.
Expected<ParsedReport> read_build_report(const std::string& path);

// What changed from one build to the next.
struct FeedChange {
    enum class Kind { added, removed, changed };
    std::string name;
    Kind kind = Kind::changed;
    std::string previous_status;  // "" when added
    std::string status;           // "" when removed
    std::uint64_t previous_accepted = 0;
    std::uint64_t accepted = 0;
    std::uint64_t previous_rejected = 0;
    std::uint64_t rejected = 0;
    std::int64_t accepted_delta() const {
        return static_cast<std::int64_t>(accepted) - static_cast<std::int64_t>(previous_accepted);
    }
};
struct CategoryChange {
    std::string name;
    std::uint64_t previous = 0;  // ranges
    std::uint64_t current = 0;
    std::int64_t delta() const { return static_cast<std::int64_t>(current) - static_cast<std::int64_t>(previous); }
};
struct ReportChanges {
    // Feeds added, removed, or whose status, accepted or rejected count
    // changed: the current report's order, then the removed ones in the
    // previous report's order.
    std::vector<FeedChange> feeds;
    std::size_t unchanged_feeds = 0;
    std::vector<CategoryChange> categories;  // every category of either report
    std::int64_t ranges_delta = 0;
    std::int64_t file_bytes_delta = 0;
};
ReportChanges diff_reports(const ParsedReport& previous, const ParsedReport& current);

// The page. `builds` in any order: they are taken by build time, and the
// newest is the build the page describes (its summary, feeds and changes
// since the one before it); the chart shows them all. Empty: a page saying so.
std::string render_report_html(std::span<const ParsedReport> builds);

// Text for HTML (element content and attribute values): & < > " ' as
// entities; control bytes, bytes of invalid UTF-8, C1 controls and the
// bidirectional formatting characters as visible escapes (\xNN, \u{NNNN}).
std::string html_escape(std::string_view text);

}  // namespace anondb::builder
