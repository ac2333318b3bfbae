// The HTTP cache of the live fetcher: per feed, the last complete 200 body
// (decoded) and what is needed to revalidate it. Internal to anondb_sources.
//
//   <cache_dir>/http/<name>.body   the decoded body
//   <cache_dir>/http/<name>.json   {"version":1,"url":..,"final_url":..,"etag":..,
//                                   "last_modified":..,"fetched_at":..,"bytes":..,"sha256":"hex"}
//
// <name> is the feed name with bytes outside [A-Za-z0-9_.-] (and a leading
// '.') written as %XX. Both files are replaced atomically (temp file, fsync,
// rename); the body is written first, and the sha256 in the metadata ties the
// two together, so a crash between them leaves an entry that is ignored.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "anondb/error.hpp"

namespace anondb::sources::detail {

struct CacheEntry {
    std::string url;        // catalogue URL it was fetched for; another URL does not use it
    std::string final_url;  // after redirects
    std::string etag;
    std::string last_modified;
    std::int64_t fetched_at = 0;
    std::uint64_t bytes = 0;
    std::array<std::uint8_t, 32> sha256{};
};

class HttpCache {
public:
    explicit HttpCache(std::string cache_dir);

    // The entry for `name` if its metadata is readable and valid, belongs to
    // `url`, and its body file has the recorded size. Anything else (missing,
    // corrupt, another URL) is no entry.
    std::optional<CacheEntry> lookup(const std::string& name, const std::string& url) const;

    // The cached body of `entry`, checked against its size and SHA-256.
    Expected<std::string> body(const std::string& name, const CacheEntry& entry) const;

    // Replaces the entry for `name` (after a complete 200).
    Expected<Ok> store(const std::string& name, const CacheEntry& entry, std::string_view body) const;

    std::string body_path(const std::string& name) const;
    std::string meta_path(const std::string& name) const;

private:
    std::string dir_;  // <cache_dir>/http
};

std::string to_hex(const std::array<std::uint8_t, 32>& digest);

}  // namespace anondb::sources::detail
