// feeds.yaml: the catalogue of feeds a build reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "anondb/builder/guard.hpp"
#include "anondb/format.hpp"
#include "anondb/sources/fetch.hpp"
#include "anondb/sources/parse.hpp"
#include "anondb/reader.hpp"  // Error, Expected

namespace anondb::builder {

struct FeedConfig {
    std::string name;         // unique; [a-z0-9._-]
    std::string url;          // live public URL (http, https or file), as written
    std::string fetch_url;    // what is fetched: url, with a relative file:// path (a list kept in
                              // this repository) resolved against the catalogue's folder
    std::string format;       // a sources:: format name
    format::FeedRole role = format::FeedRole::ranges;  // given by the format
    std::string asn_table;    // asn_list feeds: the name of the ASN table feed to expand through
    std::uint32_t categories = 0;  // none for ASN tables and exclusion lists
    std::string provider;     // "" when the feed is not one provider's
    std::string license;      // license or terms, with attribution
    std::string description;
    std::string snapshot;           // as written: path relative to the catalogue's folder, or a
                                    // Debian-installed file under /usr/share/
    std::string snapshot_path;      // resolved for reading
    std::optional<std::int64_t> snapshot_date;  // when the snapshot was fetched (Unix s)
    int line = 0;                   // where the feed starts in feeds.yaml

    // Checks on each fetch; a feed failing them falls back to its last good copy.
    bool optional = false;                  // no good copy at all: omit instead of failing the build
    std::uint64_t max_bytes = sources::kDefaultMaxBytes;  // decoded body size limit (default 64 MiB)
    std::uint64_t max_line_bytes = sources::kDefaultMaxLineBytes;  // line formats: a longer line is rejected
    std::uint64_t max_entries = sources::kDefaultMaxEntries;  // more entries (an ASN list: more derived
                                                              // ranges) = failed fetch; parsing stops there
    std::uint64_t min_entries = 1;          // fewer entries (after guards) = failed fetch
    double min_fraction = 0.5;              // fewer than this share of the last good copy's entries = failed
    GuardPolicy guard;                      // default_guard_policy(categories) unless max_breadth_v4/v6 given
    bool guard_set = false;                 // max_breadth_v4/v6 given (else ASN-derived entries of a
                                            // list get the default policy of their own categories)
};

// The role a format gives its feed; nullopt for an unknown format.
std::optional<format::FeedRole> role_of_format(std::string_view format);

// The default of the top-level `max_total_entries`: ranges all feeds of a
// build may publish together (ASN-derived ones included). A build holds
// about 540 bytes a range from parsing to the file (one 5M-range feed: 2.7
// GB peak), so 10M keeps it near 5.5 GB; the bundled snapshot has 250k.
inline constexpr std::uint64_t kDefaultMaxTotalEntries = 10'000'000;

// The largest max_entries and max_total_entries: origins and evidence rows
// are numbered in 32 bits.
inline constexpr std::uint64_t kMaxEntriesLimit = 0xFFFFFFFFu;

struct Catalogue {
    std::string path;
    std::vector<FeedConfig> feeds;
    std::uint64_t max_total_entries = kDefaultMaxTotalEntries;  // top-level `max_total_entries`
};

// The options a feed's parser runs with (max_line_bytes, max_entries).
sources::ParseOptions parse_options(const FeedConfig& feed);

// Reads and validates a catalogue. Unknown keys, missing keys, bad values and
// duplicate names are errors of the form "feeds.yaml:LINE: feed 'NAME': ...".
Expected<Catalogue> load_catalogue(const std::string& path);

// Same, from text; `path` is used in messages and to resolve snapshot paths.
Expected<Catalogue> parse_catalogue(std::string_view yaml, const std::string& path);

// "2024-03-12", "2024-03-12T14:00:00Z" or Unix seconds ("1710252000") to
// Unix seconds; nullopt when malformed.
std::optional<std::int64_t> parse_time(std::string_view text);

// Unix seconds to "YYYY-MM-DDTHH:MM:SSZ".
std::string format_time(std::int64_t unix_seconds);

}  // namespace anondb::builder
