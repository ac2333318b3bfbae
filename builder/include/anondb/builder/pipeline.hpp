// One build: catalogue -> feed bytes -> parsed entries -> merge -> .anondb.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "anondb/builder/catalogue.hpp"
#include "anondb/builder/merge.hpp"
#include "anondb/sources/fetch.hpp"
#include "anondb/sources/parse.hpp"
#include "anondb/writer.hpp"

namespace anondb::builder {

inline constexpr const char* kDefaultDatabasePath = "build/anondb.anondb";

struct BuildOptions {
    std::string feeds_path = "feeds.yaml";
    std::string out_path = kDefaultDatabasePath;
    bool offline = false;       // read each feed's bundled snapshot
    std::int64_t build_time = 0;  // Unix seconds; an input, so builds reproduce
    std::optional<std::uint64_t> data_version;  // default: build_time
};

// How one feed fared in a build.
struct FeedReport {
    std::string name;
    std::string format;
    std::uint32_t categories = 0;
    std::string provider;
    std::string license;
    sources::FetchRecord fetch;
    std::uint64_t accepted = 0;
    std::uint64_t rejected = 0;
    std::uint64_t warnings = 0;
    std::map<std::string, std::uint64_t> rejects_by_reason;
    std::map<std::string, std::uint64_t> warnings_by_reason;
    std::vector<sources::LineIssue> first_rejects;  // the first few, for the report
};

struct BuildReport {
    std::vector<FeedReport> feeds;
    std::uint64_t input_entries = 0;
    std::uint64_t ranges = 0;   // merged ranges
    std::uint64_t records = 0;  // distinct attribute sets (record 0 excluded)
    std::uint64_t file_bytes = 0;
    std::string out_path;
};

// A feed's bytes with the catalogue entry they belong to.
struct LoadedFeed {
    FeedConfig config;
    sources::FetchedBody fetched;
};

// Reads every feed of the catalogue. Offline: the bundled snapshots; a feed
// without one is an error (a build never silently drops a feed).
Expected<std::vector<LoadedFeed>> load_feeds(const Catalogue& catalogue, const BuildOptions& options);

// Parses and merges loaded feeds into database content. The content's origin
// texts point into `feeds`, which must outlive it.
struct Compiled {
    writer::DatabaseContent content;
    BuildReport report;
};
Compiled compile(const std::vector<LoadedFeed>& feeds, std::int64_t build_time, std::uint64_t data_version);

// Fills records, provenance and ranges of `content` from a merge result:
// provenance list i becomes record i + 1.
void add_merged(const MergedSet& merged, writer::DatabaseContent& content);

// The whole build: load, compile, serialise, write atomically.
Expected<BuildReport> run_build(const BuildOptions& options);

}  // namespace anondb::builder
